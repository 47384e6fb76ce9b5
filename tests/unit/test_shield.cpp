// Unit tests for <corio/shield.hpp>.
#include <corio/shield.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct handler_log {
  std::vector<corio::exception_context> seen;
  void install(corio::event_loop& loop) {
    loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context& c) { seen.push_back(c); });
  }
};

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<int> fail_after(corio::duration d, std::string what) {
  co_await corio::sleep(d);
  throw std::runtime_error(what);
}

}  // namespace

TEST(Shield, forwards_the_result) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> { co_return co_await corio::shield(value_after(1s, 3)); }());
  EXPECT_EQ(r, 3);
}

TEST(Shield, forwards_the_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.run_until_complete(
                   []() -> corio::task<int> { co_return co_await corio::shield(fail_after(1s, "inner failed")); }()),
               std::runtime_error);
}

TEST(Shield, forwards_a_move_only_result) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::unique_ptr<int> p = loop.run_until_complete([]() -> corio::task<std::unique_ptr<int>> {
    co_return co_await corio::shield([]() -> corio::task<std::unique_ptr<int>> {
      co_await corio::sleep(1s);
      co_return std::make_unique<int>(12);
    }());
  }());
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 12);
}

TEST(Shield, cancelling_the_awaiting_task_does_not_cancel_the_inner_one) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> inner = loop.create_task(value_after(5s, 8));
  corio::task<int> outer =
      loop.create_task([](corio::task<int> t) -> corio::task<int> { co_return co_await corio::shield(t); }(inner));
  loop.call_later(1s, [outer]() mutable { outer.cancel(); });
  EXPECT_THROW(loop.run_until_complete(outer), corio::cancelled_error);
  EXPECT_EQ(loop.time().time_since_epoch(), 1s);
  EXPECT_FALSE(inner.done());
  EXPECT_EQ(loop.run_until_complete(inner), 8) << "the shielded task runs to completion";
}

TEST(Shield, cancelling_the_shield_future_leaves_the_inner_running) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> inner = loop.create_task(value_after(2s, 4));
  corio::future<int> outer;
  loop.run_until_complete([](corio::task<int> t, corio::future<int>& o) -> corio::task<> {
    o = corio::shield(t);
    EXPECT_TRUE(o.cancel());
    co_return;
  }(inner, outer));
  EXPECT_TRUE(outer.cancelled());
  EXPECT_FALSE(inner.cancelled());
  EXPECT_EQ(loop.run_until_complete(inner), 4);
}

TEST(Shield, a_cancelled_inner_cancels_the_outer) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> inner = loop.create_task(value_after(5s, 0));
  loop.call_later(1s, [inner]() mutable { inner.cancel("inner cancelled"); });
  std::string what;
  bool outer_cancelled = false;
  loop.run_until_complete([](corio::task<int> t, std::string& w, bool& oc) -> corio::task<> {
    corio::future<int> o = corio::shield(t);
    try {
      co_await o;
    } catch (const corio::cancelled_error& e) {
      w = e.what();
    }
    oc = o.cancelled();
  }(inner, what, outer_cancelled));
  EXPECT_EQ(what, "inner cancelled");
  EXPECT_TRUE(outer_cancelled);
}

TEST(Shield, an_already_done_inner_gives_a_done_outer) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  f.set_result(5);
  loop.run_until_complete([](corio::future<int> in) -> corio::task<> {
    corio::future<int> o = corio::shield(in);
    EXPECT_TRUE(o.done());
    EXPECT_EQ(o.result(), 5);
    co_return;
  }(f));
}

TEST(Shield, a_failure_of_the_inner_after_the_outer_was_cancelled_is_not_reported) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  corio::task<int> outer = loop.create_task([]() -> corio::task<int> {
    co_return co_await corio::shield(fail_after(2s, "nobody listens"));
  }());
  loop.call_later(1s, [outer]() mutable { outer.cancel(); });
  EXPECT_THROW(loop.run_until_complete(outer), corio::cancelled_error);
  loop.call_later(5s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_TRUE(log.seen.empty());
}

TEST(Shield, a_coroutine_is_scheduled_and_kept_alive_by_the_loop) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool finished = false;
  loop.run_until_complete([](bool& f) -> corio::task<> {
    { auto o = corio::shield([](bool& flag) -> corio::task<> {
        co_await corio::sleep(2s);
        flag = true;
      }(f)); }
    EXPECT_EQ(corio::all_tasks().size(), 2u);
    co_await corio::sleep(3s);
  }(finished));
  EXPECT_TRUE(finished);
}

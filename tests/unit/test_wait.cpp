// Unit tests for <corio/wait.hpp>: wait (with return_when and timeout) and
// as_completed, over one handle type or a mix through any_future.
#include <corio/wait.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<int> fail_after(corio::duration d, std::string what) {
  co_await corio::sleep(d);
  throw std::runtime_error(what);
}

// Values of the tasks, in the order listed.
std::vector<int> values(const std::vector<corio::task<int>>& ts) {
  std::vector<int> out;
  for (const auto& t : ts) out.push_back(t.result());
  return out;
}

std::vector<corio::task<int>> schedule(corio::event_loop& loop, std::vector<int> seconds) {
  std::vector<corio::task<int>> ts;
  for (int s : seconds) ts.push_back(loop.create_task(value_after(std::chrono::seconds(s), s)));
  return ts;
}

}  // namespace

// -- wait ------------------------------------------------------------------------------

TEST(Wait, all_completed_returns_every_task_done_in_the_order_given) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete(corio::wait(schedule(loop, {3, 1, 2})));
  EXPECT_TRUE(r.pending.empty());
  EXPECT_EQ(values(r.done), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(loop.time().time_since_epoch(), 3s);
}

TEST(Wait, first_completed_returns_as_soon_as_one_is_done_and_cancels_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {3, 1, 2});
  auto r = loop.run_until_complete(corio::wait(ts, corio::first_completed));
  EXPECT_EQ(loop.time().time_since_epoch(), 1s);
  EXPECT_EQ(values(r.done), std::vector<int>{1});
  ASSERT_EQ(r.pending.size(), 2u);
  for (auto& t : r.pending) EXPECT_FALSE(t.done());
  loop.run_until_complete(ts[0]);
  EXPECT_FALSE(ts[0].cancelled());
  EXPECT_EQ(ts[2].result(), 2);
}

TEST(Wait, first_exception_returns_when_one_fails) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<corio::task<int>> ts;
  ts.push_back(loop.create_task(value_after(1s, 1)));
  ts.push_back(loop.create_task(fail_after(2s, "bad")));
  ts.push_back(loop.create_task(value_after(5s, 5)));
  auto r = loop.run_until_complete(corio::wait(ts, corio::first_exception));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_EQ(r.pending.size(), 1u);
  EXPECT_THROW(ts[1].result(), std::runtime_error) << "wait never raises; the exception stays in the task";
  loop.run_until_complete(ts[2]);
}

TEST(Wait, first_exception_without_a_failure_waits_for_all) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete(corio::wait(schedule(loop, {1, 2}), corio::first_exception));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(r.done.size(), 2u);
}

TEST(Wait, a_timeout_returns_the_pending_ones_without_cancelling_them) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {1, 5});
  auto r = loop.run_until_complete(corio::wait(ts, corio::all_completed, 2s));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(values(r.done), std::vector<int>{1});
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_FALSE(r.pending[0].cancelled());
  EXPECT_EQ(loop.run_until_complete(ts[1]), 5);
}

TEST(Wait, a_timeout_that_is_not_reached_changes_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete(corio::wait(schedule(loop, {1}), corio::all_completed, 10s));
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(loop.time().time_since_epoch(), 1s);
}

TEST(Wait, futures_already_done_count_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> done = loop.create_future<int>();
  done.set_result(1);
  corio::future<int> pending = loop.create_future<int>();
  auto r = loop.run_until_complete(corio::wait(std::vector{done, pending}, corio::first_completed));
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.done[0] == done);
  EXPECT_EQ(r.pending.size(), 1u);
  pending.cancel();
}

TEST(Wait, duplicates_count_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(value_after(1s, 1));
  auto r = loop.run_until_complete(corio::wait(std::vector{t, t, t}));
  EXPECT_EQ(r.done.size(), 1u);
}

TEST(Wait, an_empty_list_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.run_until_complete(corio::wait(std::vector<corio::task<int>>{})), std::invalid_argument);
}

TEST(Wait, an_unscheduled_coroutine_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  std::vector<corio::task<>> ts;
  ts.push_back([](bool& r) -> corio::task<> {
    r = true;
    co_return;
  }(ran));
  EXPECT_THROW(loop.run_until_complete(corio::wait(std::move(ts))), std::invalid_argument);
  EXPECT_FALSE(ran);
}

TEST(Wait, the_timeout_may_come_first_as_in_pythons_keyword_order) {
  // Python: asyncio.wait(fs, timeout=2) and wait(fs, timeout=2, return_when=FIRST_COMPLETED).
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {1, 5});
  auto r = loop.run_until_complete(corio::wait(ts, 2s));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(values(r.done), std::vector<int>{1});
  EXPECT_EQ(r.pending.size(), 1u);
  auto more = schedule(loop, {4, 3});
  auto first = loop.run_until_complete(corio::wait(more, 10s, corio::first_completed));
  EXPECT_EQ(loop.time().time_since_epoch(), 5s);  // 2 s + the 3 s one
  EXPECT_EQ(values(first.done), std::vector<int>{3});
  auto none = loop.run_until_complete(corio::wait(more, std::chrono::milliseconds(0), corio::all_completed));
  EXPECT_EQ(none.pending.size(), 1u);
  loop.run_until_complete(corio::wait(std::vector{ts[1], more[0]}));
}

TEST(Wait, a_mix_of_tasks_and_futures_of_different_types_through_any_future) {
  // Python: asyncio.wait([task, fut]) over any awaitables of any result type.
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> number = loop.create_task(value_after(1s, 7));
  corio::future<std::string> word = loop.create_future<std::string>();
  corio::task<> failing = loop.create_task([]() -> corio::task<> {
    co_await corio::sleep(2s);
    throw std::runtime_error("bad");
  }());
  loop.call_later(3s, [word]() mutable { word.set_result("late"); });
  std::vector<corio::any_future> fs{number, word, failing};
  auto r = loop.run_until_complete(corio::wait(fs, 2500ms));
  ASSERT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(r.done[0] == number);  // in the order given
  EXPECT_TRUE(r.done[1] == failing);
  EXPECT_EQ(number.result(), 7);     // the typed handle reads the value
  EXPECT_THROW(r.done[1].result(), std::runtime_error);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_TRUE(r.pending[0] == word);
  auto rest = loop.run_until_complete(corio::wait(r.pending, corio::first_exception));
  EXPECT_EQ(rest.done.size(), 1u);
  EXPECT_EQ(word.result(), "late");
}

TEST(Wait, any_future_refuses_a_coroutine_not_scheduled) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  corio::task<> coro = [](bool& r) -> corio::task<> {
    r = true;
    co_return;
  }(ran);
  EXPECT_THROW(corio::any_future{coro}, std::invalid_argument);
  loop.run_until_complete(std::move(coro));  // still usable as a coroutine
  EXPECT_TRUE(ran);
}

TEST(Wait, any_future_sees_what_every_future_has) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  corio::any_future a = f;
  EXPECT_FALSE(a.done());
  EXPECT_THROW(a.result(), corio::invalid_state_error);
  EXPECT_EQ(&a.get_loop(), &loop);
  EXPECT_TRUE(a.cancel("stop"));
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(a.exception(), corio::cancelled_error);
  corio::task<int> t = loop.create_task(value_after(1s, 1));
  corio::any_future at = t;
  EXPECT_TRUE(at.cancel());
  loop.run_until_complete(corio::wait(std::vector{at}));
  EXPECT_TRUE(t.cancelled());
  corio::future<int> ok = loop.create_future<int>();
  ok.set_result(3);
  loop.run_until_complete([](corio::any_future x) -> corio::task<> { co_await x; }(ok));  // awaitable
  EXPECT_EQ(corio::any_future(ok).exception(), nullptr);
}

TEST(Wait, cancelling_the_waiting_task_leaves_the_awaited_ones_alone) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {5, 6});
  corio::task<corio::wait_result<corio::task<int>>> waiter = loop.create_task(corio::wait(ts));
  loop.call_later(1s, [waiter]() mutable { waiter.cancel(); });
  EXPECT_THROW(loop.run_until_complete(waiter), corio::cancelled_error);
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_FALSE(ts[0].done());
  EXPECT_EQ(loop.run_until_complete(ts[1]), 6);
  EXPECT_EQ(ts[0].result(), 5);
}

// -- as_completed -------------------------------------------------------------------------

TEST(AsCompleted, yields_results_in_completion_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> order = loop.run_until_complete([]() -> corio::task<std::vector<int>> {
    std::vector<corio::task<int>> ts;
    for (int s : {3, 1, 2}) ts.push_back(value_after(std::chrono::seconds(s), s));
    std::vector<int> out;
    corio::as_completed<corio::task<int>> ac(std::move(ts));
    EXPECT_EQ(ac.size(), 3u);
    for (auto next : ac) out.push_back(co_await next);
    co_return out;
  }());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(AsCompleted, an_exception_comes_out_at_its_turn) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> seen = loop.run_until_complete([]() -> corio::task<std::vector<std::string>> {
    std::vector<corio::task<int>> ts;
    ts.push_back(value_after(2s, 2));
    ts.push_back(fail_after(1s, "early"));
    std::vector<std::string> out;
    for (auto next : corio::as_completed(std::move(ts))) {
      try {
        out.push_back(std::to_string(co_await next));
      } catch (const std::runtime_error& e) {
        out.push_back(e.what());
      }
    }
    co_return out;
  }());
  EXPECT_EQ(seen, (std::vector<std::string>{"early", "2"}));
}

TEST(AsCompleted, after_the_timeout_the_remaining_awaits_throw_timeout_error_and_nothing_is_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<corio::task<int>> ts = schedule(loop, {1, 5, 6});
  std::vector<std::string> seen = loop.run_until_complete([](std::vector<corio::task<int>> tasks) -> corio::task<std::vector<std::string>> {
    std::vector<std::string> out;
    for (auto next : corio::as_completed(std::move(tasks), 2s)) {
      try {
        out.push_back(std::to_string(co_await next));
      } catch (const corio::timeout_error&) {
        out.push_back("timeout");
      }
    }
    co_return out;
  }(ts));
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "timeout", "timeout"}));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_FALSE(ts[1].cancelled());
  EXPECT_EQ(loop.run_until_complete(ts[2]), 6);
}

TEST(AsCompleted, duplicates_count_once_and_done_ones_come_first) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> order = loop.run_until_complete([]() -> corio::task<std::vector<int>> {
    corio::task<int> slow = corio::create_task(value_after(2s, 2));
    corio::future<int> ready = corio::create_future<int>();
    ready.set_result(0);
    corio::future<int> later = corio::create_future<int>();
    corio::get_running_loop().call_later(1s, [later]() mutable { later.set_result(1); });
    std::vector<corio::future<int>> fs{later, ready, later};
    corio::as_completed<corio::future<int>> ac(std::move(fs));
    EXPECT_EQ(ac.size(), 2u);
    std::vector<int> out;
    for (auto next : ac) out.push_back(co_await next);
    out.push_back(co_await slow);
    co_return out;
  }());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(AsCompleted, over_a_mix_each_await_gives_the_handle_that_finished_or_throws_its_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> seen = loop.run_until_complete([]() -> corio::task<std::vector<std::string>> {
    corio::task<int> number = corio::create_task(value_after(2s, 7));
    corio::future<std::string> word = corio::create_future<std::string>();
    corio::get_running_loop().call_later(1s, [word]() mutable { word.set_result("one"); });
    corio::task<int> failing = corio::create_task(fail_after(3s, "bad"));
    std::vector<corio::any_future> fs{number, word, failing};
    std::vector<std::string> out;
    for (auto next : corio::as_completed(std::move(fs), 10s)) {
      try {
        corio::any_future f = co_await next;
        if (f == number) out.push_back("number " + std::to_string(number.result()));
        if (f == word) out.push_back("word " + word.result());
      } catch (const std::runtime_error& e) {
        out.push_back(e.what());
      }
    }
    co_return out;
  }());
  EXPECT_EQ(seen, (std::vector<std::string>{"word one", "number 7", "bad"}));
}

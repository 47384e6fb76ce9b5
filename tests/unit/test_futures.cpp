// Unit tests for <corio/futures.hpp>: corio::future<T>, its states, done
// callbacks, awaiting, and the "never retrieved" report.
#include <corio/futures.hpp>

#include <corio/tasks.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

struct handler_log {
  std::vector<corio::exception_context> seen;
  void install(corio::event_loop& loop) {
    loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context& c) { seen.push_back(c); });
  }
  std::size_t count(const std::string& message) const {
    std::size_t n = 0;
    for (const auto& c : seen) n += c.message == message;
    return n;
  }
};

// The message of the cancelled_error that fn() throws.
template <class F>
std::string cancel_message(F&& fn) {
  try {
    fn();
    return "<no exception>";
  } catch (const corio::cancelled_error& c) {
    return c.what();
  } catch (...) {
    return "<not a cancellation>";
  }
}

}  // namespace

// -- states ----------------------------------------------------------------------------

TEST(Future, a_new_future_is_pending_and_has_no_outcome_yet) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  EXPECT_TRUE(f);
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_THROW(f.result(), corio::invalid_state_error);
  EXPECT_THROW(f.exception(), corio::invalid_state_error);
  EXPECT_EQ(&f.get_loop(), &loop);
}

TEST(Future, set_result_makes_it_done_once_and_for_all) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  f.set_result(42);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 42);
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_THROW(f.set_result(7), corio::invalid_state_error);
  EXPECT_THROW(f.set_exception(std::runtime_error("late")), corio::invalid_state_error);
  EXPECT_FALSE(f.cancel());
  EXPECT_EQ(f.result(), 42);
}

TEST(Future, set_exception_stores_the_exception_for_result_and_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  f.set_exception(std::runtime_error("bad"));
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.cancelled());
  std::exception_ptr e = f.exception();
  ASSERT_TRUE(e);
  EXPECT_EQ(e, f.exception()) << "the same exception object every time";
  EXPECT_THROW(f.result(), std::runtime_error);
  EXPECT_THROW(f.set_result(1), corio::invalid_state_error);
}

TEST(Future, set_exception_rejects_a_null_exception_ptr) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  EXPECT_THROW(f.set_exception(std::exception_ptr()), std::invalid_argument);
  EXPECT_FALSE(f.done());
}

TEST(Future, cancel_with_a_message_reaches_the_cancelled_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  EXPECT_TRUE(f.cancel("stop it"));
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  EXPECT_FALSE(f.cancel());
  try {
    f.result();
    ADD_FAILURE() << "result() of a cancelled future must throw";
  } catch (const corio::cancelled_error& e) {
    EXPECT_STREQ(e.what(), "stop it");
  }
  EXPECT_THROW(f.exception(), corio::cancelled_error);
  EXPECT_THROW(f.set_result(1), corio::invalid_state_error);
}

TEST(Future, copies_share_one_state) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> a = loop.create_future<int>();
  corio::future<int> b = a;
  EXPECT_TRUE(a == b);
  b.set_result(5);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(a.result(), 5);
  corio::future<int> other = loop.create_future<int>();
  EXPECT_FALSE(a == other);
  other.cancel();
  corio::future<int> empty;
  EXPECT_FALSE(empty);
}

TEST(Future, a_void_future_has_no_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<> f = loop.create_future();
  f.set_result();
  EXPECT_TRUE(f.done());
  EXPECT_NO_THROW(f.result());
}

TEST(Future, a_reference_future_refers_to_the_original_object) {
  corio::event_loop loop(corio::testing::virtual_time());
  int x = 1;
  corio::future<int&> f = loop.create_future<int&>();
  f.set_result(x);
  EXPECT_EQ(&f.result(), &x);
  f.result() = 9;
  EXPECT_EQ(x, 9);
}

TEST(Future, the_value_is_destroyed_with_the_last_copy) {
  counted::reset();
  {
    corio::event_loop loop(corio::testing::virtual_time());
    corio::future<counted> f = loop.create_future<counted>();
    f.set_result(7);
    EXPECT_EQ(counted::alive(), 1u);
    EXPECT_EQ(f.result().id, 7);
    corio::future<counted> g = f;
    f = corio::future<counted>();
    EXPECT_EQ(counted::alive(), 1u);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Future, a_future_outliving_its_loop_reports_no_loop) {
  corio::future<int> f;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    f = loop.create_future<int>();
    f.set_result(1);
  }
  EXPECT_EQ(f.result(), 1);
  EXPECT_THROW(f.get_loop(), std::runtime_error);
}

TEST(Future, create_future_without_a_running_loop_throws_runtime_error) {
  EXPECT_THROW(corio::create_future<int>(), std::runtime_error);
}

TEST(Future, create_future_inside_a_task_uses_the_running_loop) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event_loop* seen = loop.run_until_complete([]() -> corio::task<corio::event_loop*> {
    corio::future<int> f = corio::create_future<int>();
    co_return &f.get_loop();
  }());
  EXPECT_EQ(seen, &loop);
}

// -- move-only values ---------------------------------------------------------------

TEST(Future, holds_a_move_only_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<std::unique_ptr<int>> f = loop.create_future<std::unique_ptr<int>>();
  f.set_result(std::make_unique<int>(11));
  ASSERT_TRUE(f.result());
  EXPECT_EQ(*f.result(), 11);
}

TEST(Future, an_rvalue_await_moves_a_move_only_value_out) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<std::unique_ptr<int>> f = loop.create_future<std::unique_ptr<int>>();
  loop.call_soon([f]() mutable { f.set_result(std::make_unique<int>(5)); });
  std::unique_ptr<int> got = loop.run_until_complete([](corio::future<std::unique_ptr<int>> fut) -> corio::task<std::unique_ptr<int>> {
    co_return co_await std::move(fut);
  }(f));
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 5);
  EXPECT_EQ(f.result(), nullptr) << "the value was moved out of the future";
}

TEST(Future, an_lvalue_await_returns_a_reference_to_the_stored_value) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<counted> f = loop.create_future<counted>();
  f.set_result(3);
  const std::size_t copies = counted::copies;
  const std::size_t moves = counted::moves;
  const counted* addr = loop.run_until_complete([](corio::future<counted>& fut) -> corio::task<const counted*> {
    counted& r = co_await fut;
    co_return &r;
  }(f));
  EXPECT_EQ(addr, &f.result());
  EXPECT_EQ(counted::copies, copies);
  EXPECT_EQ(counted::moves, moves);
  EXPECT_EQ(f.result().id, 3);
}

// -- awaiting ---------------------------------------------------------------------------

TEST(Future, awaiting_suspends_until_the_result_is_set) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  loop.call_later(5s, [f]() mutable { f.set_result(8); });
  int r = loop.run_until_complete([](corio::future<int> fut) -> corio::task<int> { co_return co_await fut; }(f));
  EXPECT_EQ(r, 8);
  EXPECT_EQ(loop.time().time_since_epoch(), 5s);
}

TEST(Future, awaiting_rethrows_the_stored_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  loop.call_soon([f]() mutable { f.set_exception(std::out_of_range("oops")); });
  EXPECT_THROW(loop.run_until_complete([](corio::future<int> fut) -> corio::task<int> { co_return co_await fut; }(f)),
               std::out_of_range);
}

TEST(Future, many_tasks_may_await_one_future) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  std::vector<corio::task<int>> waiters;
  auto waiter = [](corio::future<int> fut, int add) -> corio::task<int> { co_return co_await fut + add; };
  for (int i = 0; i < 5; ++i) waiters.push_back(loop.create_task(waiter(f, i)));
  loop.call_later(1s, [f]() mutable { f.set_result(10); });
  loop.run_until_complete(waiters.back());
  corio::testing::run_briefly(loop);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(waiters[i].result(), 10 + i);
}

TEST(Future, cancelling_the_awaiting_task_cancels_the_future) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  corio::task<int> t = loop.create_task([](corio::future<int> fut) -> corio::task<int> { co_return co_await fut; }(f));
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.cancel("enough"));
  EXPECT_TRUE(f.cancelled());
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(cancel_message([&] { f.result(); }), "enough");
  EXPECT_EQ(cancel_message([&] { t.result(); }), "enough");
}

TEST(Future, awaiting_a_future_of_another_loop_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event_loop other(corio::testing::virtual_time());
  corio::future<int> foreign = other.create_future<int>();
  EXPECT_THROW(
      loop.run_until_complete([](corio::future<int> fut) -> corio::task<int> { co_return co_await fut; }(foreign)),
      std::runtime_error);
  foreign.cancel();
}

TEST(Future, run_until_complete_of_a_future_of_another_loop_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event_loop other(corio::testing::virtual_time());
  corio::future<int> foreign = other.create_future<int>();
  EXPECT_THROW(loop.run_until_complete(foreign), std::invalid_argument);
}

TEST(Future, run_until_complete_returns_the_result_of_a_future) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<std::string> f = loop.create_future<std::string>();
  loop.call_later(2s, [f]() mutable { f.set_result("done"); });
  EXPECT_EQ(loop.run_until_complete(f), "done");
}

// -- done callbacks ---------------------------------------------------------------------

TEST(Future, done_callbacks_run_through_the_loop_never_inline) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  std::vector<int> order;
  f.add_done_callback([&](corio::future<int>& self) { order.push_back(self.result()); });
  f.add_done_callback([&](corio::future<int>&) { order.push_back(-1); });
  f.set_result(4);
  EXPECT_TRUE(order.empty());
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, (std::vector<int>{4, -1}));
}

TEST(Future, a_callback_added_to_a_done_future_is_scheduled_not_run) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  f.set_result(1);
  bool ran = false;
  f.add_done_callback([&](corio::future<int>&) { ran = true; });
  EXPECT_FALSE(ran);
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(ran);
}

TEST(Future, remove_done_callback_removes_by_id_once) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  bool a = false, b = false;
  auto ida = f.add_done_callback([&a, c = counted()](corio::future<int>&) { a = true; });
  f.add_done_callback([&](corio::future<int>&) { b = true; });
  EXPECT_EQ(f.remove_done_callback(ida), 1u);
  EXPECT_EQ(counted::alive(), 0u) << "a removed callback's capture is destroyed";
  EXPECT_EQ(f.remove_done_callback(ida), 0u);
  f.set_result(0);
  corio::testing::run_briefly(loop);
  EXPECT_FALSE(a);
  EXPECT_TRUE(b);
}

TEST(Future, done_callbacks_run_after_cancel_too) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  bool saw_cancelled = false;
  f.add_done_callback([&](corio::future<int>& self) { saw_cancelled = self.cancelled(); });
  f.cancel();
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(saw_cancelled);
}

TEST(Future, add_done_callback_on_a_done_future_of_a_closed_loop_throws) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  f.set_result(1);
  loop.close();
  EXPECT_THROW(f.add_done_callback([c = counted()](corio::future<int>&) {}), std::runtime_error);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Future, a_pending_done_callback_is_freed_with_the_future) {
  counted::reset();
  {
    corio::event_loop loop(corio::testing::virtual_time());
    corio::future<int> f = loop.create_future<int>();
    f.add_done_callback([c = counted()](corio::future<int>&) {});
    EXPECT_EQ(counted::alive(), 1u);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

// -- "exception was never retrieved" ----------------------------------------------------

TEST(Future, an_exception_never_retrieved_is_reported_once_when_the_future_goes) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  {
    corio::future<int> f = loop.create_future<int>();
    f.set_exception(std::runtime_error("lost"));
    corio::future<int> copy = f;
  }
  ASSERT_EQ(log.seen.size(), 1u);
  EXPECT_EQ(log.seen[0].message, "Future exception was never retrieved");
  EXPECT_FALSE(log.seen[0].future.empty());
  try {
    std::rethrow_exception(log.seen[0].exception);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "lost");
  }
}

TEST(Future, a_retrieved_exception_is_not_reported) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  {
    corio::future<int> f = loop.create_future<int>();
    f.set_exception(std::runtime_error("seen"));
    (void)f.exception();
  }
  {
    corio::future<int> f = loop.create_future<int>();
    f.set_exception(std::runtime_error("seen"));
    EXPECT_THROW(f.result(), std::runtime_error);
  }
  {
    corio::future<int> f = loop.create_future<int>();
    f.set_exception(std::runtime_error("awaited"));
    EXPECT_THROW(loop.run_until_complete([](corio::future<int> fut) -> corio::task<int> { co_return co_await fut; }(f)),
                 std::runtime_error);
  }
  EXPECT_EQ(log.count("Future exception was never retrieved"), 0u);
}

TEST(Future, cancelled_or_successful_futures_are_not_reported) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  {
    corio::future<int> f = loop.create_future<int>();
    f.cancel();
    corio::future<int> g = loop.create_future<int>();
    g.set_result(1);
    corio::future<int> h = loop.create_future<int>();  // never completed
  }
  EXPECT_TRUE(log.seen.empty());
}

TEST(Future, an_unretrieved_exception_outliving_its_loop_goes_to_stderr) {
  corio::future<int> f;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    f = loop.create_future<int>();
    f.set_exception(std::runtime_error("orphan"));
  }
  testing::internal::CaptureStderr();
  f = corio::future<int>();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Future exception was never retrieved"), std::string::npos) << err;
  EXPECT_NE(err.find("orphan"), std::string::npos) << err;
}

// Unit tests for <corio/timeouts.hpp>: timeout, timeout_at, timeout_scope and
// wait_for.
#include <corio/timeouts.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

// Sleeps with a counted local, and notes whether it saw the cancellation.
corio::task<int> slow_with_cleanup(corio::duration d, bool& saw_cancel) {
  counted local(1);
  try {
    co_await corio::sleep(d);
  } catch (const corio::cancelled_error&) {
    saw_cancel = true;
    throw;
  }
  co_return 1;
}

// True if `e` is a timeout_error whose nested exception is a cancelled_error.
bool timeout_from_cancellation(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const corio::timeout_error& t) {
    try {
      std::rethrow_if_nested(t);
    } catch (const corio::cancelled_error&) {
      return true;
    } catch (...) {
      return false;
    }
    return false;
  } catch (...) {
    return false;
  }
}

corio::duration now(corio::event_loop& loop) { return loop.time().time_since_epoch(); }

}  // namespace

// -- timeout -------------------------------------------------------------------------

TEST(Timeout, a_body_that_finishes_in_time_returns_its_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete(
      []() -> corio::task<int> { co_return co_await corio::timeout(5s, [] { return value_after(1s, 7); }); }());
  EXPECT_EQ(r, 7);
  EXPECT_EQ(now(loop), 1s);
}

TEST(Timeout, a_body_that_is_too_slow_ends_in_timeout_error_from_a_cancellation) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  bool saw_cancel = false;
  std::exception_ptr e = loop.run_until_complete([](bool& s) -> corio::task<std::exception_ptr> {
    try {
      co_await corio::timeout(2s, [&] { return slow_with_cleanup(10s, s); });
    } catch (...) {
      co_return std::current_exception();
    }
    co_return nullptr;
  }(saw_cancel));
  EXPECT_TRUE(timeout_from_cancellation(e));
  EXPECT_TRUE(saw_cancel) << "the body sees the cancellation, so cleanup runs";
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(now(loop), 2s);
}

TEST(Timeout, the_task_is_not_left_cancelled_after_a_timeout) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task([]() -> corio::task<int> {
    try {
      co_await corio::timeout(1s, [] { return value_after(5s, 0); });
    } catch (const corio::timeout_error&) {
    }
    co_await corio::sleep(1s);  // would throw if a cancel were still pending
    co_return 3;
  }());
  EXPECT_EQ(loop.run_until_complete(t), 3);
  EXPECT_EQ(t.cancelling(), 0u);
}

TEST(Timeout, no_deadline_waits_as_long_as_it_takes) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    co_return co_await corio::timeout(std::nullopt, [] { return value_after(std::chrono::hours(100), 1); });
  }());
  EXPECT_EQ(r, 1);
  EXPECT_EQ(now(loop), std::chrono::hours(100));
}

TEST(Timeout, timeout_at_takes_a_loop_time_deadline) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.advance_time(10s);
  EXPECT_THROW(loop.run_until_complete([]() -> corio::task<int> {
    co_return co_await corio::timeout_at(corio::time_point(12s), [] { return value_after(5s, 0); });
  }()),
               corio::timeout_error);
  EXPECT_EQ(now(loop), 12s);
}

TEST(Timeout, a_zero_timeout_fires_at_the_first_suspension) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.run_until_complete([]() -> corio::task<> {
    co_await corio::timeout(0s, []() -> corio::task<> { co_await corio::sleep(0s); });
  }()),
               corio::timeout_error);
}

TEST(Timeout, other_exceptions_pass_through_unchanged) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.run_until_complete([]() -> corio::task<> {
    co_await corio::timeout(5s, []() -> corio::task<> {
      co_await corio::sleep(1s);
      throw std::out_of_range("own error");
    });
  }()),
               std::out_of_range);
}

TEST(Timeout, a_cancel_from_outside_stays_a_cancellation) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> t = loop.create_task([]() -> corio::task<> {
    co_await corio::timeout(10s, [] { return value_after(5s, 0); });
  }());
  loop.call_later(1s, [t]() mutable { t.cancel("outside"); });
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
}

TEST(Timeout, nested_scopes_convert_only_their_own_deadline) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string r = loop.run_until_complete([]() -> corio::task<std::string> {
    std::string inner_saw = "nothing";
    try {
      co_await corio::timeout(1s, [&]() -> corio::task<> {
        try {
          co_await corio::timeout(10s, [] { return value_after(5s, 0); });
        } catch (const corio::timeout_error&) {
          inner_saw = "inner timeout";
        } catch (const corio::cancelled_error&) {
          inner_saw = "cancelled";
          throw;
        }
      });
    } catch (const corio::timeout_error&) {
      co_return inner_saw + ", outer timeout";
    }
    co_return inner_saw + ", no timeout";
  }());
  EXPECT_EQ(r, "cancelled, outer timeout");
}

// -- timeout_scope ----------------------------------------------------------------------

TEST(TimeoutScope, walks_through_its_states) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    const corio::time_point deadline = corio::get_running_loop().time() + 5s;
    corio::timeout_scope cm(deadline);
    EXPECT_EQ(cm.current_state(), corio::timeout_scope::state::created);
    EXPECT_EQ(cm.when(), deadline);
    co_await cm.run([&](corio::timeout_scope& s) -> corio::task<> {
      EXPECT_EQ(s.current_state(), corio::timeout_scope::state::entered);
      co_await corio::sleep(1s);
    });
    EXPECT_EQ(cm.current_state(), corio::timeout_scope::state::exited);
    EXPECT_FALSE(cm.expired());
  }());
}

TEST(TimeoutScope, reports_expiry) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::timeout_scope cm(corio::get_running_loop().time() + 1s);
    bool timed_out = false;
    try {
      co_await cm.run([] { return value_after(5s, 0); });
    } catch (const corio::timeout_error&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_TRUE(cm.expired());
    EXPECT_EQ(cm.current_state(), corio::timeout_scope::state::expired);
  }());
}

TEST(TimeoutScope, reschedule_moves_the_deadline_while_the_body_runs) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    corio::timeout_scope cm(corio::get_running_loop().time() + 1s);
    co_return co_await cm.run([](corio::timeout_scope& s) -> corio::task<int> {
      s.reschedule(s.when().value() + 10s);
      co_return co_await value_after(5s, 5);
    });
  }());
  EXPECT_EQ(r, 5);
}

TEST(TimeoutScope, reschedule_to_nullopt_removes_the_deadline) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    corio::timeout_scope cm(corio::get_running_loop().time() + 1s);
    co_return co_await cm.run([](corio::timeout_scope& s) -> corio::task<int> {
      s.reschedule(std::nullopt);
      EXPECT_FALSE(s.when().has_value());
      co_return co_await value_after(1h, 6);
    });
  }());
  EXPECT_EQ(r, 6);
}

TEST(TimeoutScope, reschedule_outside_the_body_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::timeout_scope cm(std::nullopt);
    EXPECT_THROW(cm.reschedule(corio::time_point(1s)), std::runtime_error) << "not entered";
    co_await cm.run([]() -> corio::task<> { co_return; });
    EXPECT_THROW(cm.reschedule(corio::time_point(1s)), std::runtime_error) << "finished";
  }());
}

TEST(TimeoutScope, entering_twice_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::timeout_scope cm(std::nullopt);
    co_await cm.run([]() -> corio::task<> { co_return; });
    bool threw = false;
    try {
      co_await cm.run([]() -> corio::task<> { co_return; });
    } catch (const std::runtime_error&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
  }());
}

TEST(TimeoutScope, enter_outside_a_task_throws_runtime_error) {
  corio::timeout_scope cm(std::nullopt);
  EXPECT_THROW(cm.enter(), std::runtime_error);
  corio::event_loop loop(corio::testing::virtual_time());
  bool threw = false;
  loop.call_soon([&] {
    try {
      cm.enter();
    } catch (const std::runtime_error&) {
      threw = true;
    }
  });
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(threw) << "a callback is not a task";
}

// -- wait_for ------------------------------------------------------------------------

TEST(WaitFor, returns_the_result_in_time) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete(
      []() -> corio::task<int> { co_return co_await corio::wait_for(value_after(1s, 4), 2s); }());
  EXPECT_EQ(r, 4);
}

TEST(WaitFor, a_timeout_cancels_the_task_waits_for_it_and_throws_timeout_error) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  bool saw_cancel = false;
  corio::task<int> inner;
  std::exception_ptr e = loop.run_until_complete([](bool& s, corio::task<int>& in) -> corio::task<std::exception_ptr> {
    in = corio::create_task(slow_with_cleanup(10s, s));
    try {
      co_await corio::wait_for(in, 1s);
    } catch (...) {
      EXPECT_TRUE(in.done()) << "wait_for returns only once the task finished cancelling";
      co_return std::current_exception();
    }
    co_return nullptr;
  }(saw_cancel, inner));
  EXPECT_TRUE(timeout_from_cancellation(e));
  EXPECT_TRUE(saw_cancel);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(WaitFor, nullopt_waits_forever) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    co_return co_await corio::wait_for(value_after(std::chrono::hours(50), 8), std::nullopt);
  }());
  EXPECT_EQ(r, 8);
}

TEST(WaitFor, with_no_time_at_all_a_coroutine_never_starts) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool started = false;
  EXPECT_THROW(loop.run_until_complete([](bool& s) -> corio::task<int> {
    co_return co_await corio::wait_for(
        [](bool& flag) -> corio::task<int> {
          flag = true;
          co_return 1;
        }(s),
        0s);
  }(started)),
               corio::timeout_error);
  EXPECT_FALSE(started);
}

TEST(WaitFor, with_no_time_at_all_a_done_task_gives_its_result) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    corio::task<int> t = corio::create_task(value_after(0s, 9));
    co_await corio::sleep(1s);
    co_return co_await corio::wait_for(t, 0s);
  }());
  EXPECT_EQ(r, 9);
}

TEST(WaitFor, on_a_future) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<std::unique_ptr<int>> f = loop.create_future<std::unique_ptr<int>>();
  loop.call_later(1s, [f]() mutable { f.set_result(std::make_unique<int>(3)); });
  std::unique_ptr<int> p = loop.run_until_complete(
      [](corio::future<std::unique_ptr<int>> fut) -> corio::task<std::unique_ptr<int>> {
        co_return co_await corio::wait_for(fut, 5s);
      }(f));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 3);
}

TEST(WaitFor, cancelling_the_waiter_cancels_the_awaited_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool saw_cancel = false;
  corio::task<int> inner = loop.create_task(slow_with_cleanup(10s, saw_cancel));
  corio::task<int> waiter = loop.create_task(
      [](corio::task<int> in) -> corio::task<int> { co_return co_await corio::wait_for(in, std::nullopt); }(inner));
  loop.call_later(1s, [waiter]() mutable { waiter.cancel(); });
  EXPECT_THROW(loop.run_until_complete(waiter), corio::cancelled_error);
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(saw_cancel);
  EXPECT_TRUE(inner.cancelled());
}

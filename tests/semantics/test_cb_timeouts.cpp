// Semantic tests for docs/semantics.md section 5, wait_for (CB-16..CB-21) and
// timeout / timeout_at (CB-22..CB-29).
//
// Every rule of these two groups has a run-time test here. Where the C++ form
// differs: wait_for on a coroutine that is not yet a task runs it inline
// under the deadline (Python 3.12), and with timeout <= 0 such a coroutine
// never starts (CB-19); on a scheduled task, wait_for stays cancellable even
// when the task swallows the cancellation (CB-20, the 3.11 behaviour).
#include "cb_util.hpp"

#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using cbt::cause_of;
using cbt::now_ms;

namespace {

constexpr std::int64_t kHourMs = 3600 * 1000;

corio::task<int> set_and_return(bool& ran, int v) {
  ran = true;
  co_await corio::sleep(1ms);
  co_return v;
}

// Catches the cancellation, cleans up for `cleanup` (awaiting), records when
// it finished, and then re-raises.
corio::task<int> slow_to_cancel(corio::duration cleanup, std::int64_t& cleanup_done_at) {
  std::exception_ptr ep;
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
    ep = std::current_exception();
  }
  co_await corio::sleep(cleanup);
  cleanup_done_at = now_ms();
  std::rethrow_exception(ep);
}

// Turns the cancellation into a different error.
corio::task<int> fails_when_cancelled() {
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
    throw std::logic_error("failed while cancelled");
  }
  co_return 0;
}

// Swallows the cancellation and returns a value after some cleanup.
corio::task<int> swallows_cancel(int v) {
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
  }
  co_await corio::sleep(5ms);
  co_return v;
}

corio::task<> forever() { co_await corio::sleep(1h); }

}  // namespace

// -- wait_for -------------------------------------------------------------------------

TEST(CB, CB_16_wait_for_returns_the_result_and_nullopt_waits_without_limit) {
  corio::event_loop loop(corio::testing::virtual_time());
  int inline_r = 0, task_r = 0, unlimited_r = 0, future_r = 0;
  auto body = [&]() -> corio::task<> {
    inline_r = co_await corio::wait_for(cbt::value_after(10ms, 1), 1s);
    auto t = corio::create_task(cbt::value_after(10ms, 2));
    task_r = co_await corio::wait_for(t, 1s);
    unlimited_r = co_await corio::wait_for(cbt::value_after(2h, 3), std::nullopt);
    auto f = corio::create_future<int>();
    corio::get_running_loop().call_later(3h, [f]() mutable { f.set_result(4); });
    future_r = co_await corio::wait_for(f, std::optional<corio::duration>());
  };
  loop.run_until_complete(body());
  EXPECT_EQ(inline_r, 1);
  EXPECT_EQ(task_r, 2);
  EXPECT_EQ(unlimited_r, 3);
  EXPECT_EQ(future_r, 4);
  EXPECT_EQ(now_ms(loop), 20 + 5 * kHourMs);
}

TEST(CB, CB_17_on_timeout_wait_for_cancels_the_task_waits_for_its_cleanup_then_raises_timeout) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::int64_t cleanup_done_at = -1, raised_at = -1;
  std::exception_ptr cause;
  corio::task<int> inner;
  auto body = [&]() -> corio::task<> {
    inner = corio::create_task(slow_to_cancel(5ms, cleanup_done_at));
    try {
      co_await corio::wait_for(inner, 10ms);
    } catch (const corio::timeout_error& e) {
      raised_at = now_ms();
      cause = cause_of(e);
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(cleanup_done_at, 15);
  EXPECT_EQ(raised_at, 15);  // only after the cleanup finished
  EXPECT_TRUE(cbt::holds<corio::cancelled_error>(cause));
  EXPECT_TRUE(inner.cancelled());
}

TEST(CB, CB_17_on_timeout_an_inline_coroutine_is_cancelled_and_cleaned_up_before_timeout_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::int64_t cleanup_done_at = -1, raised_at = -1;
  std::exception_ptr cause;
  std::uint32_t cancelling_after = 99;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::wait_for(slow_to_cancel(5ms, cleanup_done_at), 10ms);
    } catch (const corio::timeout_error& e) {
      raised_at = now_ms();
      cause = cause_of(e);
    }
    cancelling_after = corio::current_task().cancelling();
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_EQ(cleanup_done_at, 15);
  EXPECT_EQ(raised_at, 15);
  EXPECT_TRUE(cbt::holds<corio::cancelled_error>(cause));
  EXPECT_EQ(cancelling_after, 0u);
  EXPECT_FALSE(t.cancelled());
}

TEST(CB, CB_17_on_timeout_a_plain_future_is_cancelled_and_timeout_error_raised) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto fut = loop.create_future<int>();
  std::int64_t raised_at = -1;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::wait_for(fut, 10ms);
    } catch (const corio::timeout_error&) {
      raised_at = now_ms();
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(raised_at, 10);
  EXPECT_TRUE(fut.cancelled());
}

TEST(CB, CB_18_an_error_raised_while_being_cancelled_on_timeout_replaces_timeout_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string scheduled_err, inline_err;
  auto body = [&]() -> corio::task<> {
    auto t = corio::create_task(fails_when_cancelled());
    try {
      co_await corio::wait_for(t, 10ms);
    } catch (const corio::timeout_error&) {
      scheduled_err = "timeout_error";
    } catch (const std::logic_error& e) {
      scheduled_err = e.what();
    }
    try {
      co_await corio::wait_for(fails_when_cancelled(), 10ms);
    } catch (const corio::timeout_error&) {
      inline_err = "timeout_error";
    } catch (const std::logic_error& e) {
      inline_err = e.what();
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(scheduled_err, "failed while cancelled");
  EXPECT_EQ(inline_err, "failed while cancelled");
}

TEST(CB, CB_18_if_the_awaitable_swallows_the_timeout_cancel_and_returns_wait_for_returns_that) {
  corio::event_loop loop(corio::testing::virtual_time());
  int scheduled_r = 0, inline_r = 0;
  std::int64_t scheduled_at = -1;
  auto body = [&]() -> corio::task<> {
    auto t = corio::create_task(swallows_cancel(42));
    scheduled_r = co_await corio::wait_for(t, 10ms);
    scheduled_at = now_ms();
    inline_r = co_await corio::wait_for(swallows_cancel(43), 10ms);
  };
  auto caller = loop.create_task(body());
  loop.run_until_complete(caller);
  EXPECT_EQ(scheduled_r, 42);
  EXPECT_EQ(scheduled_at, 15);
  EXPECT_EQ(inline_r, 43);
  EXPECT_FALSE(caller.cancelled());
  EXPECT_EQ(caller.cancelling(), 0u);
}

TEST(CB, CB_19_zero_or_negative_timeout_returns_the_result_of_what_is_already_done) {
  corio::event_loop loop(corio::testing::virtual_time());
  int from_future = 0, from_task = 0;
  auto body = [&]() -> corio::task<> {
    auto f = corio::create_future<int>();
    f.set_result(5);
    from_future = co_await corio::wait_for(f, 0s);
    auto t = corio::create_task(cbt::value_after(1ms, 6));
    co_await corio::sleep(2ms);
    from_task = co_await corio::wait_for(t, -1s);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(from_future, 5);
  EXPECT_EQ(from_task, 6);
}

TEST(CB, CB_19_zero_timeout_on_a_coroutine_raises_timeout_and_never_starts_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran_zero = false, ran_negative = false;
  int timeouts = 0;
  std::exception_ptr cause;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::wait_for(set_and_return(ran_zero, 1), 0s);
    } catch (const corio::timeout_error& e) {
      ++timeouts;
      cause = cause_of(e);
    }
    try {
      co_await corio::wait_for(set_and_return(ran_negative, 1), -5ms);
    } catch (const corio::timeout_error&) {
      ++timeouts;
    }
    co_await corio::sleep(10ms);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(timeouts, 2);
  EXPECT_FALSE(ran_zero);
  EXPECT_FALSE(ran_negative);
  EXPECT_TRUE(cbt::holds<corio::cancelled_error>(cause));
}

TEST(CB, CB_19_zero_timeout_on_a_pending_task_cancels_it_and_raises_timeout) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  int timeouts = 0;
  std::int64_t cleanup_done_at = -1, second_raised_at = -1;
  corio::task<int> unstarted, started;
  auto body = [&]() -> corio::task<> {
    unstarted = corio::create_task(set_and_return(ran, 1));
    try {
      co_await corio::wait_for(unstarted, 0s);
    } catch (const corio::timeout_error&) {
      ++timeouts;
    }
    started = corio::create_task(slow_to_cancel(4ms, cleanup_done_at));
    co_await corio::sleep(1ms);
    try {
      co_await corio::wait_for(started, 0s);
    } catch (const corio::timeout_error&) {
      ++timeouts;
      second_raised_at = now_ms();
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(timeouts, 2);
  EXPECT_TRUE(unstarted.cancelled());
  EXPECT_FALSE(ran);  // cancelled before its first step
  EXPECT_TRUE(started.cancelled());
  EXPECT_EQ(cleanup_done_at, 5);
  EXPECT_EQ(second_raised_at, 5);  // it waited for the cancellation to finish
}

TEST(CB, CB_20_cancelling_the_caller_of_wait_for_cancels_the_task_too) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> inner_limited, inner_unlimited;
  auto limited = [&]() -> corio::task<> { co_await corio::wait_for(inner_limited, 1h); };
  auto unlimited = [&]() -> corio::task<> { co_await corio::wait_for(inner_unlimited, std::nullopt); };
  inner_limited = loop.create_task(forever());
  inner_unlimited = loop.create_task(forever());
  auto a = loop.create_task(limited());
  auto b = loop.create_task(unlimited());
  corio::testing::run_briefly(loop, 3);
  a.cancel("a");
  b.cancel("b");
  EXPECT_THROW(loop.run_until_complete(a), corio::cancelled_error);
  EXPECT_THROW(loop.run_until_complete(b), corio::cancelled_error);
  EXPECT_TRUE(a.cancelled());
  EXPECT_TRUE(b.cancelled());
  EXPECT_TRUE(inner_limited.cancelled());
  EXPECT_TRUE(inner_unlimited.cancelled());
  EXPECT_EQ(cbt::cancel_message(cbt::outcome_of(inner_unlimited)), "b");
  EXPECT_EQ(now_ms(loop), 0);
}

TEST(CB, CB_20_cancelling_the_caller_of_wait_for_cancels_an_inline_coroutine) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool body_saw_cancel = false;
  auto inner = [&]() -> corio::task<> {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
      body_saw_cancel = true;
      throw;
    }
  };
  auto caller = [&]() -> corio::task<> { co_await corio::wait_for(inner(), 1h); };
  auto t = loop.create_task(caller());
  corio::testing::run_briefly(loop, 2);
  t.cancel();
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(body_saw_cancel);
}

TEST(CB, CB_20_wait_for_stays_cancellable_when_the_task_swallows_cancellations) {
  // CPython's test_wait_for_self_cancellation.
  corio::event_loop loop(corio::testing::virtual_time());
  auto inner_body = []() -> corio::task<int> {
    try {
      co_await corio::sleep(300ms);
    } catch (const corio::cancelled_error&) {
    }
    try {
      co_await corio::sleep(300ms);
    } catch (const corio::cancelled_error&) {
    }
    co_await corio::sleep(300ms);
    co_return 42;
  };
  corio::task<int> inner_task;
  corio::task<int> waiter;
  bool waiter_cancelled = false;
  int inner_result = 0;
  auto main_body = [&]() -> corio::task<> {
    inner_task = corio::create_task(inner_body());
    waiter = corio::create_task(corio::wait_for(inner_task, 100ms));
    co_await corio::sleep(200ms);
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const corio::cancelled_error&) {
      waiter_cancelled = true;
    }
    inner_result = co_await inner_task;
  };
  loop.run_until_complete(main_body());
  EXPECT_TRUE(waiter_cancelled);
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_EQ(inner_result, 42);
}

TEST(CB, CB_21_a_future_result_set_before_the_deadline_wins_even_if_the_loop_was_late) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto fut = loop.create_future<int>();
  // At 9 ms the result arrives, and then the loop is held up past the 10 ms
  // deadline: the waiter's wake-up and the timer meet in one iteration.
  loop.call_at(cbt::at(9ms), [&] {
    fut.set_result(7);
    loop.advance_time(5ms);
  });
  auto body = [&]() -> corio::task<int> { co_return co_await corio::wait_for(fut, 10ms); };
  EXPECT_EQ(loop.run_until_complete(body()), 7);
  EXPECT_GE(now_ms(loop), 14);
}

TEST(CB, CB_21_a_task_result_before_the_deadline_wins_even_if_the_loop_was_late) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.call_at(cbt::at(9ms), [&] { loop.advance_time(5ms); });
  auto inner = loop.create_task(cbt::value_after(9ms, 8));
  auto body = [&]() -> corio::task<int> { co_return co_await corio::wait_for(inner, 10ms); };
  EXPECT_EQ(loop.run_until_complete(body()), 8);
  EXPECT_GE(now_ms(loop), 14);
}

// -- timeout / timeout_at --------------------------------------------------------------

TEST(CB, CB_22_timeout_cancels_the_task_and_raises_timeout_error_caused_by_the_cancellation) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::int64_t raised_at = -1;
  std::exception_ptr cause;
  bool caught_as_std_exception = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(10ms, []() -> corio::task<> { co_await corio::sleep(1h); });
    } catch (const corio::timeout_error& e) {
      raised_at = now_ms();
      cause = cause_of(e);
    }
    try {
      co_await corio::timeout(1ms, []() -> corio::task<> { co_await corio::sleep(1h); });
    } catch (const std::exception&) {
      caught_as_std_exception = true;  // an ordinary error, unlike cancellation
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(raised_at, 10);
  EXPECT_TRUE(cbt::holds<corio::cancelled_error>(cause));
  EXPECT_TRUE(caught_as_std_exception);
}

TEST(CB, CB_22_timeout_at_and_the_scope_object_report_expired) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::int64_t at_raised = -1, scope_raised = -1;
  bool expired_before = true, expired_after = false;
  auto body = [&]() -> corio::task<> {
    auto& lp = corio::get_running_loop();
    try {
      co_await corio::timeout_at(lp.time() + 7ms, []() -> corio::task<> { co_await corio::sleep(1h); });
    } catch (const corio::timeout_error&) {
      at_raised = now_ms();
    }
    corio::timeout_scope cm(lp.time() + 3ms);
    expired_before = cm.expired();
    try {
      co_await cm.run([]() -> corio::task<> { co_await corio::sleep(1h); });
    } catch (const corio::timeout_error&) {
      scope_raised = now_ms();
    }
    expired_after = cm.expired();
  };
  loop.run_until_complete(body());
  EXPECT_EQ(at_raised, 7);
  EXPECT_EQ(scope_raised, 10);
  EXPECT_FALSE(expired_before);
  EXPECT_TRUE(expired_after);
}

TEST(CB, CB_23_the_body_sees_cancelled_error_and_the_task_is_not_left_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool body_saw_cancel = false, timed_out = false, slept_after = false;
  std::int64_t raised_at = -1;
  std::uint32_t cancelling_after = 99;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(10ms, [&]() -> corio::task<> {
        std::exception_ptr ep;
        try {
          co_await corio::sleep(1h);
        } catch (const corio::cancelled_error&) {
          body_saw_cancel = true;
          ep = std::current_exception();
        }
        co_await corio::sleep(3ms);  // cleanup may await
        std::rethrow_exception(ep);
      });
    } catch (const corio::timeout_error&) {
      timed_out = true;
      raised_at = now_ms();
    }
    cancelling_after = corio::current_task().cancelling();
    co_await corio::sleep(5ms);  // not interrupted: the task is not cancelled
    slept_after = true;
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_TRUE(body_saw_cancel);
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(raised_at, 13);
  EXPECT_EQ(cancelling_after, 0u);
  EXPECT_TRUE(slept_after);
  EXPECT_FALSE(t.cancelled());
}

TEST(CB, CB_24_nullopt_disables_the_deadline) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool when_is_null = false, finished = false;
  auto body = [&]() -> corio::task<> {
    co_await corio::timeout(std::nullopt, [&](corio::timeout_scope& s) -> corio::task<> {
      when_is_null = !s.when().has_value();
      co_await corio::sleep(2h);
      finished = true;
    });
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(when_is_null);
  EXPECT_TRUE(finished);
  EXPECT_EQ(now_ms(loop), 2 * kHourMs);
}

TEST(CB, CB_24_zero_or_past_deadline_expires_at_the_first_suspension_even_sleep_zero) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  int timeouts = 0;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(0s, [&]() -> corio::task<> {
        log.push_back("zero: before the first await");
        co_await corio::sleep(0s);
        log.push_back("zero: after sleep(0)");
      });
    } catch (const corio::timeout_error&) {
      ++timeouts;
    }
    auto& lp = corio::get_running_loop();
    try {
      co_await corio::timeout_at(lp.time() - 1s, [&]() -> corio::task<> {
        log.push_back("past: before the first await");
        co_await corio::sleep(0s);
        log.push_back("past: after sleep(0)");
      });
    } catch (const corio::timeout_error&) {
      ++timeouts;
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(timeouts, 2);
  EXPECT_EQ(log, (std::vector<std::string>{"zero: before the first await", "past: before the first await"}));
  EXPECT_EQ(now_ms(loop), 0);
}

TEST(CB, CB_24_a_zero_timeout_body_that_never_suspends_completes_normally) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = 0;
  bool expired = true;
  auto body = [&]() -> corio::task<> {
    corio::timeout_scope cm(corio::get_running_loop().time());
    r = co_await cm.run([]() -> corio::task<int> { co_return 17; });
    expired = cm.expired();
    co_await corio::sleep(1ms);  // the dropped deadline does not fire later
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_EQ(r, 17);
  EXPECT_FALSE(expired);
  EXPECT_FALSE(t.cancelled());
}

TEST(CB, CB_25_other_exceptions_pass_through_unchanged_and_do_not_mark_expiry) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string err;
  bool expired = true;
  auto body = [&]() -> corio::task<> {
    corio::timeout_scope cm(corio::get_running_loop().time() + 10ms);
    try {
      co_await cm.run([]() -> corio::task<> {
        co_await corio::sleep(1ms);
        throw std::out_of_range("foreign");
      });
    } catch (const std::out_of_range& e) {
      err = e.what();
    }
    expired = cm.expired();
    co_await corio::sleep(20ms);  // the dropped deadline does not cancel us later
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_EQ(err, "foreign");
  EXPECT_FALSE(expired);
  EXPECT_FALSE(t.cancelled());
}

TEST(CB, CB_25_an_error_raised_during_the_timeout_unwinding_replaces_timeout_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string err;
  bool expired = false;
  std::uint32_t cancelling_after = 99;
  auto body = [&]() -> corio::task<> {
    corio::timeout_scope cm(corio::get_running_loop().time() + 10ms);
    try {
      co_await cm.run([]() -> corio::task<> { co_await fails_when_cancelled(); });
    } catch (const corio::timeout_error&) {
      err = "timeout_error";
    } catch (const std::logic_error& e) {
      err = e.what();
    }
    expired = cm.expired();
    cancelling_after = corio::current_task().cancelling();
  };
  loop.run_until_complete(body());
  EXPECT_EQ(err, "failed while cancelled");
  EXPECT_TRUE(expired);  // the deadline did fire
  EXPECT_EQ(cancelling_after, 0u);
}

TEST(CB, CB_26_a_cancel_from_outside_stays_a_cancellation_and_expired_stays_false) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::optional<corio::timeout_scope> cm;
  auto body = [&]() -> corio::task<> {
    cm.emplace(corio::get_running_loop().time() + 10ms);
    co_await cm->run([]() -> corio::task<> { co_await corio::sleep(1h); });
  };
  auto t = loop.create_task(body());
  loop.call_at(cbt::at(5ms), [&] { t.cancel("outside"); });
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(cbt::cancel_message(cbt::outcome_of(t)), "outside");
  ASSERT_TRUE(cm);
  EXPECT_FALSE(cm->expired());
  EXPECT_EQ(now_ms(loop), 5);
}

TEST(CB, CB_26_a_self_cancel_inside_an_expiring_zero_timeout_still_propagates_as_cancellation) {
  // CPython's test_cancel_in_timeout_after_cancellation.
  corio::event_loop loop(corio::testing::virtual_time());
  bool got_cancelled = false, got_timeout = false;
  auto body = [&]() -> corio::task<> {
    try {
      corio::current_task().cancel();
      co_await corio::sleep(1s);
    } catch (const corio::cancelled_error&) {
    }
    try {
      co_await corio::timeout(0s, []() -> corio::task<> {
        corio::current_task().cancel();
        co_await corio::sleep(2s);
      });
    } catch (const corio::cancelled_error&) {
      got_cancelled = true;
    } catch (const corio::timeout_error&) {
      got_timeout = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(got_cancelled);
  EXPECT_FALSE(got_timeout);
}

TEST(CB, CB_27_only_the_scope_whose_deadline_fired_converts_to_timeout_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool inner_let_cancel_through = false, outer_timeout = false;
  bool inner_expired = true, outer_expired = false;
  bool inner_timeout = false, outer2_expired = true;
  auto body = [&]() -> corio::task<> {
    auto& lp = corio::get_running_loop();
    // The outer deadline fires: the inner scope lets the cancellation through.
    corio::timeout_scope outer(lp.time() + 10ms);
    corio::timeout_scope inner(lp.time() + 1h);
    try {
      co_await outer.run([&]() -> corio::task<> {
        try {
          co_await inner.run([]() -> corio::task<> { co_await corio::sleep(2h); });
        } catch (const corio::cancelled_error&) {
          inner_let_cancel_through = true;
          throw;
        }
      });
    } catch (const corio::timeout_error&) {
      outer_timeout = true;
    }
    inner_expired = inner.expired();
    outer_expired = outer.expired();

    // The inner deadline fires: the outer block goes on normally.
    corio::timeout_scope outer2(lp.time() + 1h);
    co_await outer2.run([&]() -> corio::task<> {
      try {
        co_await corio::timeout(10ms, []() -> corio::task<> { co_await corio::sleep(2h); });
      } catch (const corio::timeout_error&) {
        inner_timeout = true;
      }
      co_await corio::sleep(5ms);
    });
    outer2_expired = outer2.expired();
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(inner_let_cancel_through);
  EXPECT_TRUE(outer_timeout);
  EXPECT_FALSE(inner_expired);
  EXPECT_TRUE(outer_expired);
  EXPECT_TRUE(inner_timeout);
  EXPECT_FALSE(outer2_expired);
  EXPECT_EQ(now_ms(loop), 25);
}

TEST(CB, CB_27_an_outer_deadline_passed_while_the_loop_was_busy_converts_only_in_the_outer_scope) {
  // CPython's test_nested_timeouts_concurrent.
  corio::event_loop loop(corio::testing::virtual_time());
  bool inner_saw_cancel = false, inner_timeout = false, outer_timeout = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(2ms, [&]() -> corio::task<> {
        try {
          co_await corio::timeout(100ms, []() -> corio::task<> {
            corio::get_running_loop().advance_time(10ms);  // crunching numbers
            co_await corio::sleep(1s);
          });
        } catch (const corio::timeout_error&) {
          inner_timeout = true;
        } catch (const corio::cancelled_error&) {
          inner_saw_cancel = true;
          throw;
        }
      });
    } catch (const corio::timeout_error&) {
      outer_timeout = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(inner_saw_cancel);
  EXPECT_FALSE(inner_timeout);
  EXPECT_TRUE(outer_timeout);
  EXPECT_LT(now_ms(loop), 100);
}

TEST(CB, CB_27_nested_scopes_sharing_a_deadline_both_expire_and_the_outer_one_converts) {
  // CPython's test_nested_timeouts.
  corio::event_loop loop(corio::testing::virtual_time());
  bool cancelled_between = false, timed_out = false;
  std::optional<corio::timeout_scope> cm1, cm2;
  auto body = [&]() -> corio::task<> {
    auto when = corio::get_running_loop().time() + 10ms;
    cm1.emplace(when);
    cm2.emplace(when);
    try {
      co_await cm1->run([&]() -> corio::task<> {
        try {
          co_await cm2->run([]() -> corio::task<> { co_await corio::sleep(10s); });
        } catch (const corio::cancelled_error&) {
          cancelled_between = true;
          throw;
        }
      });
    } catch (const corio::timeout_error&) {
      timed_out = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(cancelled_between);
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(cm1->expired());
  EXPECT_TRUE(cm2->expired());
}

TEST(CB, CB_27_the_outer_deadline_interrupts_work_after_a_caught_inner_timeout_even_if_the_loop_was_busy) {
  // CPython's test_nested_timeouts_loop_busy.
  corio::event_loop loop(corio::testing::virtual_time());
  bool inner_timed_out = false, outer_timed_out = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(200ms, [&]() -> corio::task<> {
        try {
          co_await corio::timeout(100ms, []() -> corio::task<> { co_await corio::sleep(1s); });
        } catch (const corio::timeout_error&) {
          inner_timed_out = true;
          corio::get_running_loop().advance_time(300ms);  // the loop is blocked past both deadlines
        }
        co_await corio::sleep(1s);
      });
    } catch (const corio::timeout_error&) {
      outer_timed_out = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(inner_timed_out);
  EXPECT_TRUE(outer_timed_out);
  EXPECT_LT(now_ms(loop), 1000);  // the last sleep did not run out
}

TEST(CB, CB_27_a_nested_timeout_in_cleanup_code_converts_its_own_deadline) {
  // CPython's test_nested_timeout_in_finally.
  corio::event_loop loop(corio::testing::virtual_time());
  bool inner_timed_out = false, outer_timed_out = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(10ms, [&]() -> corio::task<> {
        std::exception_ptr ep;
        try {
          co_await corio::sleep(1s);
        } catch (...) {
          ep = std::current_exception();
        }
        // "finally": cleanup under a timeout of its own
        try {
          co_await corio::timeout(10ms, []() -> corio::task<> { co_await corio::sleep(10s); });
        } catch (const corio::timeout_error&) {
          inner_timed_out = true;
        }
        if (ep) std::rethrow_exception(ep);
      });
    } catch (const corio::timeout_error&) {
      outer_timed_out = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(inner_timed_out);
  EXPECT_TRUE(outer_timed_out);
  EXPECT_EQ(now_ms(loop), 20);
}

TEST(CB, CB_28_a_timeout_works_in_cleanup_of_a_task_that_caught_its_cancellation) {
  // CPython's test_timeout_after_cancellation.
  corio::event_loop loop(corio::testing::virtual_time());
  bool timed_out = false, cancelled_instead = false;
  auto body = [&]() -> corio::task<> {
    try {
      corio::current_task().cancel();
      co_await corio::sleep(1s);  // work that gets cancelled
    } catch (const corio::cancelled_error&) {
    }
    try {
      co_await corio::timeout(0s, []() -> corio::task<> { co_await corio::sleep(1s); });  // cleanup
    } catch (const corio::timeout_error&) {
      timed_out = true;
    } catch (const corio::cancelled_error&) {
      cancelled_instead = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(timed_out);
  EXPECT_FALSE(cancelled_instead);
}

TEST(CB, CB_29_reschedule_moves_or_removes_the_deadline_while_active) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::optional<corio::time_point> when_moved, when_removed;
  std::int64_t raised_at = -1;
  bool expired = false;
  auto body = [&]() -> corio::task<> {
    auto& lp = corio::get_running_loop();
    corio::timeout_scope cm(lp.time() + 10ms);
    try {
      co_await cm.run([&](corio::timeout_scope& s) -> corio::task<> {
        s.reschedule(lp.time() + 50ms);
        when_moved = s.when();
        co_await corio::sleep(30ms);  // past the first deadline: nothing happens
        s.reschedule(std::nullopt);
        when_removed = s.when();
        co_await corio::sleep(1h);  // no deadline at all
        s.reschedule(lp.time() + 5ms);
        co_await corio::sleep(1h);
      });
    } catch (const corio::timeout_error&) {
      raised_at = now_ms();
    }
    expired = cm.expired();
  };
  loop.run_until_complete(body());
  ASSERT_TRUE(when_moved);
  EXPECT_EQ(*when_moved, cbt::at(50ms));
  EXPECT_FALSE(when_removed.has_value());
  EXPECT_EQ(raised_at, 30 + kHourMs + 5);
  EXPECT_TRUE(expired);
}

TEST(CB, CB_29_rescheduling_into_the_past_expires_at_the_next_suspension) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  bool timed_out = false;
  auto body = [&]() -> corio::task<> {
    auto& lp = corio::get_running_loop();
    try {
      co_await corio::timeout(1h, [&](corio::timeout_scope& s) -> corio::task<> {
        co_await corio::sleep(5ms);
        s.reschedule(lp.time() - 1ms);
        log.push_back("still running");
        co_await corio::sleep(0s);
        log.push_back("after sleep(0)");
      });
    } catch (const corio::timeout_error&) {
      timed_out = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(log, (std::vector<std::string>{"still running"}));
  EXPECT_EQ(now_ms(loop), 5);
}

TEST(CB, CB_29_reschedule_outside_the_active_state_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool not_entered = false, expiring = false, expired = false, finished = false;
  bool expired_seen_while_expiring = false;
  auto body = [&]() -> corio::task<> {
    auto& lp = corio::get_running_loop();
    corio::timeout_scope fresh(lp.time() + 1s);
    try {
      fresh.reschedule(lp.time() + 2s);
    } catch (const std::runtime_error&) {
      not_entered = true;
    }

    corio::timeout_scope short_one(lp.time() + 10ms);
    try {
      co_await short_one.run([&](corio::timeout_scope& s) -> corio::task<> {
        try {
          co_await corio::sleep(1h);
        } catch (const corio::cancelled_error&) {
          expired_seen_while_expiring = s.expired();
          try {
            s.reschedule(lp.time() + 1h);
          } catch (const std::runtime_error&) {
            expiring = true;
          }
          throw;
        }
      });
    } catch (const corio::timeout_error&) {
    }
    try {
      short_one.reschedule(lp.time() + 1h);
    } catch (const std::runtime_error&) {
      expired = true;
    }

    corio::timeout_scope done_one(lp.time() + 1h);
    co_await done_one.run([]() -> corio::task<> { co_await corio::sleep(1ms); });
    try {
      done_one.reschedule(lp.time() + 1h);
    } catch (const std::runtime_error&) {
      finished = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(not_entered);
  EXPECT_TRUE(expired_seen_while_expiring);
  EXPECT_TRUE(expiring);
  EXPECT_TRUE(expired);
  EXPECT_TRUE(finished);
}

TEST(CB, CB_29_entering_a_timeout_twice_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string second_entry, reentry;
  bool first_ok = false;
  auto body = [&]() -> corio::task<> {
    corio::timeout_scope cm(std::nullopt);
    co_await cm.run([]() -> corio::task<> { co_await corio::sleep(1ms); });
    first_ok = true;
    try {
      co_await cm.run([]() -> corio::task<> { co_await corio::sleep(1ms); });
    } catch (const std::runtime_error& e) {
      second_entry = e.what();
    }
    corio::timeout_scope active(corio::get_running_loop().time() + 1h);
    co_await active.run([&](corio::timeout_scope& s) -> corio::task<> {
      try {
        co_await s.run([]() -> corio::task<> { co_await corio::sleep(1ms); });
      } catch (const std::runtime_error& e) {
        reentry = e.what();
      }
    });
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(first_ok);
  EXPECT_NE(second_entry.find("has already been entered"), std::string::npos) << second_entry;
  EXPECT_NE(reentry.find("has already been entered"), std::string::npos) << reentry;
}

TEST(CB, CB_29_entering_a_timeout_outside_a_task_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::timeout_scope no_loop(std::nullopt);
  EXPECT_THROW(no_loop.enter(), std::runtime_error);

  corio::timeout_scope in_callback(std::nullopt);
  bool threw = false;
  loop.call_soon([&] {
    try {
      in_callback.enter();  // the loop runs, but no task does
    } catch (const std::runtime_error&) {
      threw = true;
    }
  });
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(threw);
  EXPECT_EQ(in_callback.current_state(), corio::timeout_scope::state::created);
}

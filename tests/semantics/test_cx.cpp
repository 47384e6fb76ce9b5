// Semantic tests for docs/semantics.md section 4: cancellation (CX-01..CX-20).
//
// Rules without a runtime test here:
//   CX-18  Cancellation of Lock/Event/Condition/Semaphore/Queue waits is
//          specified by SY-06, SY-12, SY-17 and QU-06..QU-08; those
//          primitives belong to the synchronization and queue sections and
//          are tested with them.
#include "cb_util.hpp"

#include <corio/timeouts.hpp>
#include <corio/wait.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;
using cbt::cancel_message;
using cbt::now_ms;
using cbt::outcome_of;

namespace {

corio::task<> set_and_sleep(bool& ran, corio::duration d) {
  ran = true;
  co_await corio::sleep(d);
}

}  // namespace

TEST(CX, CX_01_cancel_returns_true_and_counts_while_pending_and_false_once_done) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto t = loop.create_task(cbt::nap(1h));
  corio::testing::run_briefly(loop);
  EXPECT_EQ(t.cancelling(), 0u);
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(t.cancelling(), 1u);
  EXPECT_TRUE(t.cancel());  // repeated requests still return true and count (3.11)
  EXPECT_EQ(t.cancelling(), 2u);
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(t.cancel());  // done: refused, nothing changes
  EXPECT_EQ(t.cancelling(), 2u);
  EXPECT_TRUE(t.cancelled());

  auto ok = loop.create_task(cbt::value_after(1ms, 3));
  EXPECT_EQ(loop.run_until_complete(ok), 3);
  EXPECT_FALSE(ok.cancel());
  EXPECT_EQ(ok.cancelling(), 0u);
  EXPECT_EQ(ok.result(), 3);
}

TEST(CX, CX_02_cancel_is_delivered_at_the_next_await_never_between_awaits) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  auto body = [&]() -> corio::task<> {
    log.push_back("start");
    corio::current_task().cancel();
    log.push_back("same step goes on");  // not interrupted preemptively
    try {
      co_await corio::sleep(0s);
      log.push_back("await returned");
    } catch (const corio::cancelled_error&) {
      log.push_back("cancelled at the await");
      throw;
    }
  };
  auto t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_EQ(log, (std::vector<std::string>{"start", "same step goes on", "cancelled at the await"}));
  EXPECT_TRUE(t.cancelled());
}

TEST(CX, CX_02_awaiting_a_done_future_is_no_suspension_so_the_cancel_waits_for_the_next_one) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  auto body = [&]() -> corio::task<> {
    auto done = corio::create_future<int>();
    done.set_result(4);
    corio::current_task().cancel();
    log.push_back("done future gave " + std::to_string(co_await done));
    try {
      co_await corio::sleep(0s);
      log.push_back("sleep returned");
    } catch (const corio::cancelled_error&) {
      log.push_back("cancelled at sleep");
      throw;
    }
  };
  auto t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_EQ(log, (std::vector<std::string>{"done future gave 4", "cancelled at sleep"}));
}

TEST(CX, CX_03_cancel_cancels_the_awaited_future_and_the_error_reaches_the_coroutine) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto fut = loop.create_future<int>();
  std::string seen = "<nothing>";
  auto body = [&]() -> corio::task<int> {
    try {
      co_return co_await fut;
    } catch (const corio::cancelled_error& e) {
      seen = e.what();
      throw;
    }
  };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  ASSERT_FALSE(fut.done());
  EXPECT_TRUE(t.cancel("stop"));
  EXPECT_TRUE(fut.cancelled());  // cancel() cancels the awaited future at once
  EXPECT_EQ(cancel_message(outcome_of(fut)), "stop");
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_EQ(seen, "stop");
  EXPECT_TRUE(t.cancelled());
}

TEST(CX, CX_04_cancelling_a_task_that_awaits_another_task_cancels_that_task_too) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto inner = loop.create_task(cbt::value_after(1h, 1));
  auto body = [&]() -> corio::task<int> { co_return co_await inner; };
  auto outer = loop.create_task(body());
  corio::testing::run_briefly(loop, 2);
  ASSERT_FALSE(inner.done());
  EXPECT_TRUE(outer.cancel("both"));
  EXPECT_EQ(inner.cancelling(), 1u);  // the inner task is the outer's waiter
  EXPECT_THROW(loop.run_until_complete(outer), corio::cancelled_error);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(outer.cancelled());
  EXPECT_EQ(cancel_message(outcome_of(inner)), "both");
  EXPECT_EQ(now_ms(loop), 0);  // nobody waited for the hour to pass
}

TEST(CX, CX_05_a_self_cancel_is_remembered_and_interrupts_the_next_await_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool after_sleep = false;
  auto body = [&]() -> corio::task<> {
    corio::current_task().cancel();
    co_await corio::sleep(1h);
    after_sleep = true;
  };
  auto t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_FALSE(after_sleep);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(now_ms(loop), 0);
}

TEST(CX, CX_05_a_pending_self_cancel_also_cancels_a_new_inner_task_being_awaited) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool inner_ran = false;
  corio::task<> inner;
  auto body = [&]() -> corio::task<> {
    corio::current_task().cancel("self");
    inner = corio::create_task(set_and_sleep(inner_ran, 1h));
    co_await inner;
  };
  auto t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
  ASSERT_TRUE(inner);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_FALSE(inner_ran);  // cancelled before its first step
  EXPECT_EQ(cancel_message(outcome_of(t)), "self");
  EXPECT_EQ(now_ms(loop), 0);
}

TEST(CX, CX_06_a_cancel_still_pending_when_the_body_returns_makes_the_task_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool returned = false;
  auto body = [&]() -> corio::task<int> {
    co_await corio::sleep(1ms);
    corio::current_task().cancel("late");
    returned = true;
    co_return 42;
  };
  auto t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(returned);
  EXPECT_TRUE(t.cancelled());  // the return value is dropped
  EXPECT_EQ(cancel_message(outcome_of(t)), "late");
}

TEST(CX, CX_07_task_cancelled_before_first_step_never_runs_its_body) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  auto t = loop.create_task(set_and_sleep(ran, 1ms));
  EXPECT_TRUE(t.cancel("before start"));
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(cancel_message(outcome_of(t)), "before start");
}

TEST(CX, CX_08_the_cancel_message_reaches_the_task_body_and_every_awaiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string inside = "<nothing>", awaiter_saw = "<nothing>";
  auto victim = [&]() -> corio::task<> {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error& e) {
      inside = e.what();
      throw;
    }
  };
  auto t = loop.create_task(victim());
  auto watcher = [&]() -> corio::task<> {
    try {
      co_await t;
    } catch (const corio::cancelled_error& e) {
      awaiter_saw = e.what();
    }
  };
  auto w = loop.create_task(watcher());
  corio::testing::run_briefly(loop);
  t.cancel("the message");
  loop.run_until_complete(w);
  EXPECT_EQ(inside, "the message");
  EXPECT_EQ(awaiter_saw, "the message");
  try {
    t.result();
    ADD_FAILURE() << "result() of a cancelled task must throw";
  } catch (const corio::cancelled_error& e) {
    EXPECT_STREQ(e.what(), "the message");
  }

  // Without a message the error carries an empty one (Python: args == ()).
  auto plain = loop.create_task(cbt::nap(1h));
  corio::testing::run_briefly(loop);
  plain.cancel();
  EXPECT_THROW(loop.run_until_complete(plain), corio::cancelled_error);
  EXPECT_EQ(cancel_message(outcome_of(plain)), "");
}

namespace {
struct set_on_destroy {
  bool& flag;
  ~set_on_destroy() { flag = true; }
};
}  // namespace

TEST(CX, CX_09_cleanup_runs_may_await_and_rethrowing_leaves_the_task_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool destructor_ran = false, catch_all_ran = false;
  std::int64_t cleanup_done_at = -1;
  auto body = [&]() -> corio::task<> {
    set_on_destroy guard{destructor_ran};
    std::exception_ptr pending;
    try {
      try {
        co_await corio::sleep(1h);
      } catch (...) {
        catch_all_ran = true;
        throw;
      }
    } catch (const corio::cancelled_error&) {
      pending = std::current_exception();
    }
    // Asynchronous cleanup: the task keeps running until it is finished.
    co_await corio::sleep(5ms);
    cleanup_done_at = now_ms();
    std::rethrow_exception(pending);
  };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  t.cancel();
  corio::testing::run_briefly(loop, 3);
  EXPECT_TRUE(catch_all_ran);
  EXPECT_FALSE(t.done());  // still cleaning up
  EXPECT_FALSE(destructor_ran);
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_EQ(cleanup_done_at, 5);
  EXPECT_TRUE(destructor_ran);
  EXPECT_TRUE(t.cancelled());
}

TEST(CX, CX_10_a_task_that_swallows_the_cancellation_continues_and_returns_its_result) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool caught = false;
  auto body = [&]() -> corio::task<int> {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
      caught = true;
    }
    co_await corio::sleep(2ms);  // later awaits work normally
    co_return 7;
  };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  t.cancel();
  EXPECT_EQ(loop.run_until_complete(t), 7);
  EXPECT_TRUE(caught);
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.result(), 7);
  EXPECT_EQ(now_ms(loop), 2);
}

TEST(CX, CX_11_an_exception_raised_while_unwinding_a_cancellation_replaces_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
      throw std::logic_error("cleanup failed");
    }
  };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  t.cancel();
  EXPECT_THROW(loop.run_until_complete(t), std::logic_error);
  EXPECT_FALSE(t.cancelled());
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(cbt::holds<std::logic_error>(t.exception()));
}

TEST(CX, CX_12_cancelling_counts_requests_and_uncancel_decrements_without_going_below_zero) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto t = loop.create_task(cbt::value_after(10ms, 1));
  corio::testing::run_briefly(loop);
  EXPECT_EQ(t.uncancel(), 0u);  // never below zero
  EXPECT_EQ(t.cancelling(), 0u);
  t.cancel();
  t.cancel();
  EXPECT_EQ(t.cancelling(), 2u);
  EXPECT_EQ(t.uncancel(), 1u);
  EXPECT_EQ(t.cancelling(), 1u);
  // One request is still standing, so the cancellation goes ahead.
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
  // On a done task uncancel() only counts: the state stays CANCELLED.
  EXPECT_EQ(t.uncancel(), 0u);
  EXPECT_EQ(t.uncancel(), 0u);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(t.done());
}

namespace {

// The structured-block protocol written by hand (CPython's
// test_uncancel_structured_blocks): the block cancels its own task on a
// timer and may turn that cancellation into "timeout" only if uncancel()
// brings the count back to zero.
corio::task<std::string> structured_block(corio::duration work, corio::duration limit) {
  corio::any_task self = corio::current_task();
  bool timed_out = false;
  auto h = corio::get_running_loop().call_later(limit, [&timed_out, self]() mutable {
    timed_out = true;
    self.cancel();
  });
  std::exception_ptr err;
  try {
    co_await corio::sleep(work);
  } catch (...) {
    err = std::current_exception();
  }
  h.cancel();
  if (timed_out && self.uncancel() == 0 && cbt::holds<corio::cancelled_error>(err)) co_return "timeout";
  if (err) std::rethrow_exception(err);
  co_return "finished";
}

}  // namespace

TEST(CX, CX_13_a_structured_block_converts_its_own_cancel_only_when_uncancel_reaches_entry_level) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto fast = loop.create_task(structured_block(10ms, 20ms));
  EXPECT_EQ(loop.run_until_complete(fast), "finished");

  auto slow = loop.create_task(structured_block(20ms, 10ms));
  EXPECT_EQ(loop.run_until_complete(slow), "timeout");
  EXPECT_EQ(slow.cancelling(), 0u);
  EXPECT_FALSE(slow.cancelled());

  // Cancelled from outside in the same iteration as the block's own timer:
  // the cancellation belongs to the outer canceller and must propagate.
  const auto t0 = loop.time();
  corio::task<std::string> both;
  loop.call_at(t0 + 10ms, [&] { both.cancel(); });
  both = loop.create_task(structured_block(20ms, 10ms));
  EXPECT_THROW(loop.run_until_complete(both), corio::cancelled_error);
  EXPECT_TRUE(both.cancelled());
  EXPECT_EQ(both.cancelling(), 1u);
}

TEST(CX, CX_13_a_timeout_that_fires_with_an_outside_cancel_lets_the_cancellation_through) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool timed_out = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::timeout(10ms, []() -> corio::task<> { co_await corio::sleep(1h); });
    } catch (const corio::timeout_error&) {
      timed_out = true;
    }
  };
  corio::task<> t;
  loop.call_at(cbt::at(10ms), [&] { t.cancel("outer"); });  // same instant as the deadline
  t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_FALSE(timed_out);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(t.cancelling(), 1u);  // the scope took back only its own request
}

TEST(CX, CX_14_uncancel_to_zero_withdraws_a_cancel_not_yet_delivered) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto body = [&]() -> corio::task<int> {
    corio::current_task().cancel();
    EXPECT_EQ(corio::current_task().uncancel(), 0u);
    co_await corio::sleep(1ms);  // not interrupted: the request was withdrawn
    co_return 5;
  };
  auto t = loop.create_task(body());
  EXPECT_EQ(loop.run_until_complete(t), 5);
  EXPECT_FALSE(t.cancelled());

  // The same before the first step: the body then runs normally.
  bool ran = false;
  auto u = loop.create_task(set_and_sleep(ran, 1ms));
  u.cancel();
  EXPECT_EQ(u.uncancel(), 0u);
  loop.run_until_complete(u);
  EXPECT_TRUE(ran);
  EXPECT_FALSE(u.cancelled());
}

TEST(CX, CX_14_uncancel_that_leaves_a_request_standing_keeps_the_pending_cancel) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool slept = false;
  auto body = [&]() -> corio::task<> {
    corio::current_task().cancel();
    corio::current_task().cancel();
    EXPECT_EQ(corio::current_task().uncancel(), 1u);
    co_await corio::sleep(1ms);
    slept = true;
  };
  auto t = loop.create_task(body());
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_FALSE(slept);
  EXPECT_TRUE(t.cancelled());
}

TEST(CX, CX_15_a_cancelled_plain_future_ends_the_awaiting_task_cancelled_not_failed) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto fut = loop.create_future<int>();
  auto body = [&]() -> corio::task<int> { co_return co_await fut; };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(fut.cancel("gone"));
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(t.cancelling(), 0u);  // the task itself was never asked to cancel
  EXPECT_EQ(cancel_message(outcome_of(t)), "gone");

  // The awaiting task sees the cancelled_error and may handle it.
  auto fut2 = loop.create_future<int>();
  auto body2 = [&]() -> corio::task<std::string> {
    try {
      co_await fut2;
    } catch (const corio::cancelled_error& e) {
      co_return std::string("caught ") + e.what();
    }
    co_return "no error";
  };
  auto t2 = loop.create_task(body2());
  corio::testing::run_briefly(loop);
  fut2.cancel("x");
  EXPECT_EQ(loop.run_until_complete(t2), "caught x");
}

TEST(CX, CX_16_many_cancel_calls_before_the_task_runs_deliver_one_cancelled_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  int errors = 0;
  auto body = [&]() -> corio::task<int> {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
      ++errors;
    }
    try {
      co_await corio::sleep(3ms);  // must not be interrupted by the extra requests
    } catch (const corio::cancelled_error&) {
      ++errors;
    }
    co_return errors;
  };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.cancel());
  EXPECT_TRUE(t.cancel());
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(loop.run_until_complete(t), 1);
  EXPECT_EQ(errors, 1);
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.cancelling(), 3u);
  EXPECT_EQ(now_ms(loop), 3);
}

TEST(CX, CX_17_cancelled_error_is_not_caught_by_catch_std_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool swallowed = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::sleep(1h);
    } catch (const std::exception&) {
      swallowed = true;
    }
  };
  auto t = loop.create_task(body());
  corio::testing::run_briefly(loop);
  t.cancel();
  try {
    loop.run_until_complete(t);
    ADD_FAILURE() << "the task should have ended cancelled";
  } catch (const std::exception&) {
    ADD_FAILURE() << "cancelled_error must not be a std::exception";
  } catch (const corio::base_exception&) {
  }
  EXPECT_FALSE(swallowed);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(cbt::holds<corio::base_exception>(outcome_of(t)));
  EXPECT_FALSE(cbt::holds<std::exception>(outcome_of(t)));
}

TEST(CX, CX_19_cancelling_a_sleep_drops_its_timer_and_wakes_the_task_in_the_next_iteration) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto t = loop.create_task(cbt::nap(1h));
  corio::testing::run_briefly(loop);
  ASSERT_FALSE(t.done());
  t.cancel();
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(now_ms(loop), 0);

  // Running past the hour is safe: the dropped timer never wakes the
  // finished task.
  auto u = loop.create_task(cbt::value_after(2h, 1));
  EXPECT_EQ(loop.run_until_complete(u), 1);
  EXPECT_EQ(now_ms(loop), 2 * 3600 * 1000);
}

TEST(CX, CX_20_cancelling_a_wait_call_leaves_the_awaited_tasks_running) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto a = loop.create_task(cbt::value_after(10ms, 1));
  auto b = loop.create_task(cbt::value_after(20ms, 2));
  auto waiter_body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> both{a, b};
    co_await corio::wait(std::move(both));
  };
  auto w = loop.create_task(waiter_body());
  corio::testing::run_briefly(loop, 2);
  w.cancel();
  EXPECT_THROW(loop.run_until_complete(w), corio::cancelled_error);
  EXPECT_TRUE(w.cancelled());
  EXPECT_FALSE(a.cancelled());
  EXPECT_FALSE(b.cancelled());
  EXPECT_EQ(a.cancelling(), 0u);
  EXPECT_EQ(loop.run_until_complete(b), 2);
  EXPECT_EQ(a.result(), 1);
}

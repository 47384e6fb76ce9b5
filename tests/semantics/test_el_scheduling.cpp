// Semantic tests for docs/semantics.md section 1, the event loop: scheduling,
// timers and errors (EL-01..EL-12). Running and stopping: test_el_running.cpp.
//
// Rules with nothing observable left in C++:
//   EL-03: a non-callable (or a callable that does not accept the given
//          arguments) is rejected at compile time by the static_assert in
//          call_soon / call_soon_threadsafe / call_at.
//   EL-05 (when=None part): call_at takes a corio::time_point, which has no
//          "None" value; the TypeError cannot happen.
#include "el_helpers.hpp"

#include <corio/corio.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using corio::event_loop;
using corio::testing::run_briefly;
using corio::testing::virtual_time;
using namespace elh;


// -- EL-01: call_soon is a FIFO ---------------------------------------------------

TEST(EL, EL_01_call_soon_runs_callbacks_in_scheduling_order) {
  event_loop loop(virtual_time());
  std::vector<int> order;
  for (int i = 0; i < 10; ++i) loop.call_soon([&order, i] { order.push_back(i); });
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(EL, EL_01_call_soon_passes_its_arguments_and_returns_a_live_handle) {
  event_loop loop(virtual_time());
  int got_int = 0;
  std::string got_str;
  corio::handle h = loop.call_soon(
      [&](int a, const std::string& b) {
        got_int = a;
        got_str = b;
      },
      7, std::string("seven"));
  EXPECT_TRUE(static_cast<bool>(h));
  EXPECT_FALSE(h.cancelled());
  EXPECT_EQ(got_int, 0) << "call_soon must not run the callback inline";
  run_briefly(loop);
  EXPECT_EQ(got_int, 7);
  EXPECT_EQ(got_str, "seven");
}

// -- EL-02: one iteration runs what was ready when it began --------------------

TEST(EL, EL_02_callbacks_scheduled_during_an_iteration_run_in_the_next_one) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("a");
    loop.call_soon([&] { order.push_back("c"); });
  });
  loop.call_soon([&] { order.push_back("b"); });
  run_briefly(loop, 1);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
  run_briefly(loop, 1);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(EL, EL_02_a_self_rescheduling_callback_runs_once_per_iteration) {
  event_loop loop(virtual_time());
  int runs = 0;
  std::function<void()> again = [&] {
    ++runs;
    loop.call_soon(again);
  };
  loop.call_soon(again);
  run_briefly(loop, 5);
  EXPECT_EQ(runs, 5);
}

// -- EL-04: cancelled handles ------------------------------------------------------

TEST(EL, EL_04_a_cancelled_handle_never_runs_and_is_skipped_silently) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  std::vector<int> order;
  loop.call_soon([&] { order.push_back(1); });
  corio::handle h = loop.call_soon([&] { order.push_back(2); });
  loop.call_soon([&] { order.push_back(3); });
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  run_briefly(loop, 2);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_TRUE(log.items.empty());
}

TEST(EL, EL_04_a_callback_can_cancel_a_later_callback_of_the_same_iteration) {
  event_loop loop(virtual_time());
  bool second_ran = false;
  corio::handle second;
  loop.call_soon([&] { second.cancel(); });
  second = loop.call_soon([&] { second_ran = true; });
  run_briefly(loop);
  EXPECT_FALSE(second_ran);
}

TEST(EL, EL_04_a_cancelled_timer_never_fires) {
  event_loop loop(virtual_time());
  bool cancelled_ran = false;
  bool other_ran = false;
  corio::timer_handle h = loop.call_later(1s, [&] { cancelled_ran = true; });
  loop.call_later(2s, [&] { other_ran = true; });
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  run_for(loop, 5s);
  EXPECT_TRUE(other_ran);
  EXPECT_FALSE(cancelled_ran);
}

TEST(EL, EL_04_cancel_releases_what_the_callback_captured) {
  event_loop loop(virtual_time());
  auto payload = std::make_shared<int>(1);
  corio::handle h = loop.call_soon([payload] { ++*payload; });
  corio::timer_handle t = loop.call_later(1s, [payload] { ++*payload; });
  EXPECT_EQ(payload.use_count(), 3);
  h.cancel();
  t.cancel();
  EXPECT_EQ(payload.use_count(), 1);
  run_briefly(loop, 2);
  EXPECT_EQ(*payload, 1);
}

// -- EL-05: call_later / call_at and when() ----------------------------------------

TEST(EL, EL_05_call_later_schedules_at_time_plus_delay_and_reports_when) {
  event_loop loop(virtual_time());
  corio::time_point fired_at{};
  bool fired = false;
  corio::timer_handle h = loop.call_later(10s, [&] {
    fired = true;
    fired_at = loop.time();
  });
  EXPECT_EQ(h.when(), at(10s));
  run_for(loop, 20s);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired_at, at(10s));
}

TEST(EL, EL_05_call_later_is_relative_to_the_current_loop_time) {
  event_loop loop(virtual_time());
  loop.advance_time(5s);
  corio::timer_handle h = loop.call_later(std::chrono::duration<double>(0.5), [] {});
  EXPECT_EQ(h.when(), at(5500ms));
}

TEST(EL, EL_05_call_at_uses_absolute_loop_time) {
  event_loop loop(virtual_time());
  loop.advance_time(2s);
  corio::time_point fired_at{};
  bool fired = false;
  corio::timer_handle h = loop.call_at(at(7s), [&] {
    fired = true;
    fired_at = loop.time();
  });
  EXPECT_EQ(h.when(), at(7s));
  run_for(loop, 10s);
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired_at, at(7s));
}

TEST(EL, EL_05_call_at_passes_its_arguments) {
  event_loop loop(virtual_time());
  int got = 0;
  loop.call_at(at(1s), [&](int v) { got = v; }, 11);
  run_for(loop, 2s);
  EXPECT_EQ(got, 11);
}

// -- EL-06: timers fire in order of when; negative delays --------------------------

TEST(EL, EL_06_timers_fire_in_order_of_their_deadline) {
  event_loop loop(virtual_time());
  std::vector<int> order;
  loop.call_later(3s, [&] { order.push_back(3); });
  loop.call_later(1s, [&] { order.push_back(1); });
  loop.call_at(at(2s), [&] { order.push_back(2); });
  loop.call_later(500ms, [&] { order.push_back(0); });
  run_for(loop, 5s);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(EL, EL_06_negative_delays_are_already_due_and_still_ordered) {
  event_loop loop(virtual_time());
  loop.advance_time(10s);
  std::vector<int> order;
  loop.call_later(-1s, [&] { order.push_back(-1); });
  loop.call_later(-2s, [&] { order.push_back(-2); });
  run_briefly(loop, 1);
  EXPECT_EQ(order, (std::vector<int>{-2, -1}));
  EXPECT_EQ(loop.time(), at(10s)) << "due timers must not make the clock move";
}

// -- EL-07: equal deadlines are FIFO (corio's stronger guarantee) ------------------

TEST(EL, EL_07_timers_with_equal_deadlines_fire_in_scheduling_order) {
  event_loop loop(virtual_time());
  std::vector<int> order;
  for (int i = 0; i < 50; ++i) {
    if (i % 2 == 0)
      loop.call_later(1s, [&order, i] { order.push_back(i); });
    else
      loop.call_at(at(1s), [&order, i] { order.push_back(i); });
  }
  run_for(loop, 2s);
  ASSERT_EQ(order.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(order[static_cast<std::size_t>(i)], i);
}

// -- EL-08: due timers join the END of the ready queue -----------------------------

TEST(EL, EL_08_due_timers_run_after_callbacks_already_scheduled) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  loop.call_later(0s, [&] { order.push_back("timer"); });
  loop.call_soon([&] { order.push_back("soon"); });
  run_briefly(loop, 1);
  EXPECT_EQ(order, (std::vector<std::string>{"soon", "timer"}));
}

TEST(EL, EL_08_a_timer_due_during_an_iteration_queues_behind_call_soon_of_that_iteration) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  loop.call_later(1s, [&] { order.push_back("timer"); });
  loop.call_soon([&] {
    loop.advance_time(1s);  // the timer is now due, but the iteration has begun
    loop.call_soon([&] { order.push_back("soon"); });
  });
  run_briefly(loop, 1);
  EXPECT_TRUE(order.empty());
  run_briefly(loop, 1);
  EXPECT_EQ(order, (std::vector<std::string>{"soon", "timer"}));
}

TEST(EL, EL_08_a_timer_never_fires_before_its_deadline_on_the_real_clock) {
  event_loop loop;  // steady clock: the backend's poll timeout gets rounded
  const std::vector<std::chrono::milliseconds> delays{1ms, 3ms, 7ms, 12ms};
  std::vector<corio::time_point> when(delays.size()), fired_at(delays.size());
  auto all_fired = loop.create_future<>();
  std::size_t fired = 0;
  for (std::size_t i = 0; i < delays.size(); ++i)
    when[i] = loop.call_later(delays[i], [&, i] {
                    fired_at[i] = loop.time();
                    if (++fired == delays.size()) all_fired.set_result();
                  }).when();
  loop.run_until_complete(all_fired);
  // A timer within the clock resolution (one tick of corio::duration) of
  // now counts as due; nothing fires earlier than that.
  for (std::size_t i = 0; i < delays.size(); ++i)
    EXPECT_GE(fired_at[i] + corio::duration(1), when[i]) << "timer " << i;
}

// -- EL-09: loop time ----------------------------------------------------------------

TEST(EL, EL_09_time_is_the_monotonic_steady_clock) {
  event_loop loop;
  const auto before = std::chrono::steady_clock::now();
  corio::time_point prev = loop.time();
  for (int i = 0; i < 1000; ++i) {
    const corio::time_point now = loop.time();
    EXPECT_GE(now, prev);
    prev = now;
  }
  const auto after = std::chrono::steady_clock::now();
  EXPECT_LE(before, prev);
  EXPECT_LE(prev, after);
}

TEST(EL, EL_09_virtual_time_starts_at_zero_and_only_moves_forward) {
  event_loop loop(virtual_time());
  EXPECT_EQ(loop.time(), at(0s));
  std::vector<corio::time_point> seen;
  for (auto d : {300ms, 100ms, 200ms}) loop.call_later(d, [&] { seen.push_back(loop.time()); });
  run_for(loop, 1s);
  EXPECT_EQ(seen, (std::vector<corio::time_point>{at(100ms), at(200ms), at(300ms)}));
  EXPECT_EQ(loop.time(), at(1s));
  loop.advance_time(1s);
  EXPECT_EQ(loop.time(), at(2s));
}

TEST(EL, EL_09_advance_time_is_refused_on_the_real_clock) {
  event_loop loop;
  EXPECT_THROW(loop.advance_time(1s), std::logic_error);
}

// -- EL-10: exceptions escaping a callback -----------------------------------------

TEST(EL, EL_10_an_exception_in_a_callback_goes_to_the_handler_and_the_loop_goes_on) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  bool after = false;
  loop.call_soon([] { throw std::runtime_error("boom"); });
  loop.call_soon([&] { after = true; });
  run_briefly(loop);
  EXPECT_TRUE(after);
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(log.items[0].message, "Exception in callback");
  ASSERT_TRUE(log.items[0].exception);
  EXPECT_EQ(what_of(log.items[0].exception), "boom");
  EXPECT_FALSE(log.items[0].handle.empty());
}

TEST(EL, EL_10_a_non_std_exception_in_a_callback_that_is_not_fatal_is_reported_too) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  bool after = false;
  loop.call_soon([] { throw corio::cancelled_error("odd"); });
  loop.call_soon([&] { after = true; });
  EXPECT_NO_THROW(run_briefly(loop));
  EXPECT_TRUE(after);
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_TRUE(corio::is_cancelled_error(log.items[0].exception));
}

TEST(EL, EL_10_the_default_handler_logs_the_error) {
  event_loop loop(virtual_time());
  loop.call_soon([] { throw std::runtime_error("default-handler-boom"); });
  testing::internal::CaptureStderr();
  run_briefly(loop);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "Exception in callback")) << err;
  EXPECT_TRUE(contains(err, "default-handler-boom")) << err;
}

// -- EL-11: custom and broken exception handlers -----------------------------------

TEST(EL, EL_11_a_custom_handler_receives_the_loop_and_the_context) {
  event_loop loop(virtual_time());
  event_loop* seen_loop = nullptr;
  std::string seen_message;
  loop.set_exception_handler([&](event_loop& l, const corio::exception_context& c) {
    seen_loop = &l;
    seen_message = c.message;
  });
  EXPECT_TRUE(static_cast<bool>(loop.get_exception_handler()));
  corio::exception_context ctx;
  ctx.message = "custom message";
  loop.call_exception_handler(ctx);
  EXPECT_EQ(seen_loop, &loop);
  EXPECT_EQ(seen_message, "custom message");
}

TEST(EL, EL_11_a_broken_handler_is_reported_by_the_default_handler_and_the_loop_goes_on) {
  event_loop loop(virtual_time());
  int handler_calls = 0;
  loop.set_exception_handler([&](event_loop&, const corio::exception_context&) {
    ++handler_calls;
    throw std::runtime_error("handler-is-broken");
  });
  bool after = false;
  loop.call_soon([] { throw std::runtime_error("callback-error"); });
  loop.call_soon([&] { after = true; });
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(run_briefly(loop));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(handler_calls, 1);
  EXPECT_TRUE(after);
  EXPECT_TRUE(contains(err, "Unhandled error in exception handler")) << err;
  EXPECT_TRUE(contains(err, "handler-is-broken")) << err;
}

TEST(EL, EL_11_an_empty_handler_restores_the_default) {
  event_loop loop(virtual_time());
  int custom_calls = 0;
  loop.set_exception_handler([&](event_loop&, const corio::exception_context&) { ++custom_calls; });
  loop.set_exception_handler({});
  EXPECT_FALSE(static_cast<bool>(loop.get_exception_handler()));
  loop.call_soon([] { throw std::runtime_error("to-default"); });
  testing::internal::CaptureStderr();
  run_briefly(loop);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(custom_calls, 0);
  EXPECT_TRUE(contains(err, "to-default")) << err;
}

// -- EL-12: fatal errors leave the loop --------------------------------------------

TEST(EL, EL_12_keyboard_interrupt_in_a_callback_propagates_out_of_run_forever) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  loop.call_soon([] { throw corio::keyboard_interrupt(); });
  EXPECT_THROW(loop.run_forever(), corio::keyboard_interrupt);
  EXPECT_FALSE(loop.is_running());
  EXPECT_TRUE(log.items.empty()) << "a fatal error is not a handler matter";
  // The loop is usable afterwards.
  bool ran = false;
  loop.call_soon([&] { ran = true; });
  run_briefly(loop);
  EXPECT_TRUE(ran);
}

TEST(EL, EL_12_system_exit_in_a_callback_propagates_out_of_run_until_complete) {
  event_loop loop(virtual_time());
  auto fut = loop.create_future<int>();
  loop.call_soon([] { throw corio::system_exit(3); });
  loop.call_later(1s, [fut]() mutable { fut.set_result(1); });
  try {
    loop.run_until_complete(fut);
    FAIL() << "system_exit did not propagate";
  } catch (const corio::system_exit& e) {
    EXPECT_EQ(e.code(), 3);
  }
  EXPECT_FALSE(fut.done());
  EXPECT_EQ(loop.run_until_complete(fut), 1);
}

TEST(EL, EL_12_bad_alloc_in_a_callback_propagates_out_of_the_loop) {
  event_loop loop(virtual_time());
  loop.call_soon([] { throw std::bad_alloc(); });
  EXPECT_THROW(loop.run_forever(), std::bad_alloc);
  EXPECT_FALSE(loop.is_running());
}

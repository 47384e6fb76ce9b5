// Semantic tests for docs/semantics.md section 1, the event loop: running,
// stopping, closing, loops per thread, task factories, run/Runner
// (EL-13..EL-28). Scheduling and errors: test_el_scheduling.cpp.
//
// Rules with nothing observable left in C++:
//   EL-23 (non-callable factory part): set_task_factory takes a
//          std::function, so a non-callable factory does not compile.
//   EL-25 (async generators, default executor parts): corio has neither yet;
//          the executor belongs to the threads bridge (TH / CF sections).
//   EL-26 (non-coroutine argument part): corio::run only accepts a task<T>,
//          or a callable returning one; anything else does not compile.
//   EL-27 (contextvars Context and `with` re-entry parts): contextvars are
//          the CV section; corio::runner is an RAII object, not a context
//          manager, so there is no second `with` block to refuse.
//   EL-28: Ctrl-C handling needs the signal machinery (SIGINT handler
//          installed by the runner), which is a later issue; the part that
//          does not need signals (a keyboard_interrupt leaving the loop) is
//          EL-12 / TK-15.
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


// -- EL-13: run_until_complete ------------------------------------------------------

TEST(EL, EL_13_run_until_complete_wraps_a_coroutine_and_returns_its_result) {
  event_loop loop(virtual_time());
  EXPECT_EQ(loop.run_until_complete(answer()), 42);
  EXPECT_EQ(loop.run_until_complete(answer_later(5s)), 42);
  EXPECT_EQ(loop.time(), at(5s));
}

TEST(EL, EL_13_run_until_complete_rethrows_the_coroutines_exception) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  try {
    loop.run_until_complete(fail_with("bad"));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "bad");
  }
  EXPECT_TRUE(log.items.empty()) << "the rethrown exception counts as retrieved";
}

TEST(EL, EL_13_run_until_complete_accepts_a_future_and_a_scheduled_task) {
  event_loop loop(virtual_time());
  auto fut = loop.create_future<std::string>();
  loop.call_later(1s, [fut]() mutable { fut.set_result("done"); });
  EXPECT_EQ(loop.run_until_complete(fut), "done");

  auto t = loop.create_task(answer_later(1s));
  EXPECT_EQ(loop.run_until_complete(t), 42);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(t.result(), 42);
}

TEST(EL, EL_13_run_until_complete_of_a_cancelled_future_throws_cancelled_error) {
  event_loop loop(virtual_time());
  auto fut = loop.create_future<int>();
  loop.call_soon([fut]() mutable { fut.cancel("stop it"); });
  try {
    loop.run_until_complete(fut);
    FAIL() << "no exception";
  } catch (const corio::cancelled_error& e) {
    EXPECT_STREQ(e.what(), "stop it");
  }
}

// -- EL-14: a future of another loop ------------------------------------------------

TEST(EL, EL_14_run_until_complete_refuses_a_future_of_another_loop) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  auto fut = other.create_future<int>();
  EXPECT_THROW(loop.run_until_complete(fut), std::invalid_argument);
  auto t = other.create_task(answer());
  EXPECT_THROW(loop.run_until_complete(t), std::invalid_argument);
  EXPECT_EQ(other.run_until_complete(t), 42);
}

// -- EL-15: stopped before the future completed ------------------------------------

namespace {
corio::task<int> stop_then_finish() {
  corio::get_running_loop().stop();
  co_await corio::sleep(1s);
  co_return 7;
}
}  // namespace

TEST(EL, EL_15_run_until_complete_raises_if_the_loop_stops_first) {
  event_loop loop(virtual_time());
  auto fut = loop.create_future<int>();
  loop.call_later(1s, [&] { loop.stop(); });
  try {
    loop.run_until_complete(fut);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "Event loop stopped before Future completed.");
  }
  EXPECT_FALSE(loop.is_running());
}

TEST(EL, EL_15_a_task_stopping_the_loop_leaves_itself_resumable) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(stop_then_finish());
  EXPECT_THROW(loop.run_until_complete(t), std::runtime_error);
  EXPECT_FALSE(t.done());
  EXPECT_EQ(loop.run_until_complete(t), 7);
}

// -- EL-16: stop() ----------------------------------------------------------------

TEST(EL, EL_16_stop_lets_the_current_iteration_finish) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("a");
    loop.stop();
    loop.call_soon([&] { order.push_back("c"); });
  });
  loop.call_soon([&] { order.push_back("b"); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(loop.is_running());
}

TEST(EL, EL_16_stop_before_run_forever_runs_one_iteration_without_waiting) {
  event_loop loop(virtual_time());
  bool soon = false;
  bool timer = false;
  loop.call_soon([&] { soon = true; });
  loop.call_later(10s, [&] { timer = true; });
  loop.stop();
  loop.run_forever();
  EXPECT_TRUE(soon);
  EXPECT_FALSE(timer);
  EXPECT_EQ(loop.time(), at(0s)) << "a zero poll timeout means the clock did not jump to the timer";
}

TEST(EL, EL_16_stop_before_run_forever_on_an_idle_loop_returns) {
  event_loop loop(virtual_time());
  loop.call_later(1h, [] {});
  loop.stop();
  loop.run_forever();
  EXPECT_EQ(loop.time(), at(0s));
}

// -- EL-17: stopping loses and duplicates nothing ----------------------------------

TEST(EL, EL_17_a_later_run_continues_with_the_remaining_ready_queue) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  loop.call_soon([&] {
    order.push_back("a");
    loop.stop();
    loop.call_soon([&] {
      order.push_back("c");
      loop.stop();
    });
  });
  loop.call_soon([&] { order.push_back("b"); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b"}));
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
  run_briefly(loop, 3);
  EXPECT_EQ(order.size(), 3u);
}

TEST(EL, EL_17_a_fatal_error_mid_iteration_keeps_the_rest_of_the_batch_in_order) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  loop.call_soon([&] { order.push_back("a"); });
  loop.call_soon([] { throw corio::keyboard_interrupt(); });
  loop.call_soon([&] { order.push_back("b"); });
  loop.call_soon([&] { order.push_back("c"); });
  EXPECT_THROW(run_briefly(loop), corio::keyboard_interrupt);
  EXPECT_EQ(order, (std::vector<std::string>{"a"}));
  loop.call_soon([&] { order.push_back("d"); });
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
}

// -- EL-18: no re-entrant running -------------------------------------------------

namespace {
corio::task<> nested_run_until_complete(event_loop* loop, bool* inner_ran, std::string* error) {
  try {
    loop->run_until_complete(set_flag(inner_ran));
  } catch (const std::runtime_error& e) {
    *error = e.what();
  }
  co_await corio::sleep(10ms);  // give a wrongly scheduled inner coroutine time to run
}
}  // namespace

TEST(EL, EL_18_run_until_complete_inside_the_running_loop_raises_and_never_runs_the_coroutine) {
  event_loop loop(virtual_time());
  bool inner_ran = false;
  std::string error;
  loop.run_until_complete(nested_run_until_complete(&loop, &inner_ran, &error));
  EXPECT_FALSE(error.empty()) << "nested run_until_complete must raise";
  EXPECT_FALSE(inner_ran);
}

TEST(EL, EL_18_run_forever_inside_the_running_loop_raises) {
  event_loop loop(virtual_time());
  bool raised = false;
  loop.call_soon([&] {
    try {
      loop.run_forever();
    } catch (const std::runtime_error&) {
      raised = true;
    }
  });
  run_briefly(loop);
  EXPECT_TRUE(raised);
}

TEST(EL, EL_18_a_failed_nested_run_does_not_stop_the_outer_run) {
  event_loop loop(virtual_time());
  auto done = loop.create_future<int>();
  done.set_result(1);
  auto outer = loop.create_future<int>();
  bool raised = false;
  loop.call_soon([&] {
    try {
      loop.run_until_complete(done);
    } catch (const std::runtime_error&) {
      raised = true;
    }
  });
  loop.call_later(1s, [outer]() mutable { outer.set_result(2); });
  int result = 0;
  EXPECT_NO_THROW(result = loop.run_until_complete(outer));
  EXPECT_EQ(result, 2);
  EXPECT_TRUE(raised);
}

TEST(EL, EL_18_another_loop_cannot_run_while_one_runs_in_this_thread) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  bool raised_forever = false;
  bool raised_until = false;
  loop.call_soon([&] {
    try {
      other.run_forever();
    } catch (const std::runtime_error&) {
      raised_forever = true;
    }
    try {
      other.run_until_complete(other.create_future<int>());
    } catch (const std::runtime_error&) {
      raised_until = true;
    }
  });
  run_briefly(loop);
  EXPECT_TRUE(raised_forever);
  EXPECT_TRUE(raised_until);
  EXPECT_FALSE(other.is_running());
}

// -- EL-19: close() -------------------------------------------------------------------

TEST(EL, EL_19_close_on_a_running_loop_raises) {
  event_loop loop(virtual_time());
  bool raised = false;
  loop.call_soon([&] {
    try {
      loop.close();
    } catch (const std::runtime_error&) {
      raised = true;
    }
  });
  run_briefly(loop);
  EXPECT_TRUE(raised);
  EXPECT_FALSE(loop.is_closed());
}

TEST(EL, EL_19_close_is_idempotent) {
  event_loop loop(virtual_time());
  EXPECT_FALSE(loop.is_closed());
  loop.close();
  EXPECT_TRUE(loop.is_closed());
  EXPECT_NO_THROW(loop.close());
  EXPECT_TRUE(loop.is_closed());
}

TEST(EL, EL_19_a_closed_loop_refuses_to_run_or_schedule) {
  event_loop loop(virtual_time());
  loop.close();
  auto expect_closed = [](auto&& fn) {
    try {
      fn();
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "Event loop is closed");
    }
  };
  expect_closed([&] { loop.run_forever(); });
  expect_closed([&] { loop.run_until_complete(answer()); });
  expect_closed([&] { loop.call_soon([] {}); });
  expect_closed([&] { loop.call_later(1s, [] {}); });
  expect_closed([&] { loop.call_at(at(1s), [] {}); });
  expect_closed([&] { loop.create_future<int>(); });
  expect_closed([&] { loop.create_task(answer()); });
}

TEST(EL, EL_19_close_discards_pending_callbacks_without_running_them) {
  event_loop loop(virtual_time());
  auto payload = std::make_shared<int>(0);
  loop.call_soon([payload] { ++*payload; });
  loop.call_later(1s, [payload] { ++*payload; });
  EXPECT_EQ(payload.use_count(), 3);
  loop.close();
  EXPECT_EQ(*payload, 0);
  EXPECT_EQ(payload.use_count(), 1) << "the discarded callbacks are destroyed";
}

// -- EL-20: thread checks in debug mode --------------------------------------------

TEST(EL, EL_20_debug_mode_refuses_scheduling_from_another_thread) {
  event_loop loop(virtual_time());
  loop.set_debug(true);
  EXPECT_TRUE(loop.get_debug());
  std::vector<std::string> errors;
  bool foreign_ran = false;
  loop.call_soon([&] {
    std::thread th([&] {
      auto attempt = [&](auto&& fn) {
        try {
          fn();
          errors.emplace_back("no error");
        } catch (const std::runtime_error& e) {
          errors.emplace_back(e.what());
        }
      };
      attempt([&] { loop.call_soon([&] { foreign_ran = true; }); });
      attempt([&] { loop.call_later(0s, [&] { foreign_ran = true; }); });
      attempt([&] { loop.call_at(loop.time(), [&] { foreign_ran = true; }); });
      attempt([&] { loop.create_task(set_flag(&foreign_ran)); });
    });
    th.join();
  });
  run_briefly(loop, 3);
  ASSERT_EQ(errors.size(), 4u);
  for (const auto& e : errors)
    EXPECT_TRUE(contains(e, "Non-thread-safe operation invoked on an event loop other than the current one")) << e;
  EXPECT_FALSE(foreign_ran);
}

TEST(EL, EL_20_call_soon_threadsafe_is_the_way_in_from_another_thread) {
  event_loop loop(virtual_time());
  loop.set_debug(true);
  bool ran = false;
  loop.call_soon([&] {
    std::thread th([&] { loop.call_soon_threadsafe([&] { ran = true; }); });
    th.join();
  });
  ASSERT_TRUE(corio::testing::run_until(loop, [&] { return ran; }, 10));
}

// -- EL-21: get_running_loop --------------------------------------------------------

TEST(EL, EL_21_get_running_loop_raises_outside_a_running_loop) {
  EXPECT_THROW(corio::get_running_loop(), std::runtime_error);
  event_loop loop(virtual_time());
  EXPECT_THROW(corio::get_running_loop(), std::runtime_error) << "a loop that is not running does not count";
  event_loop* seen = nullptr;
  loop.call_soon([&] { seen = &corio::get_running_loop(); });
  run_briefly(loop);
  EXPECT_EQ(seen, &loop);
  EXPECT_THROW(corio::get_running_loop(), std::runtime_error);
}

TEST(EL, EL_21_the_running_loop_is_per_thread) {
  event_loop loop(virtual_time());
  bool other_thread_saw_none = false;
  loop.call_soon([&] {
    std::thread th([&] {
      try {
        corio::get_running_loop();
      } catch (const std::runtime_error&) {
        other_thread_saw_none = true;
      }
    });
    th.join();
  });
  run_briefly(loop);
  EXPECT_TRUE(other_thread_saw_none);
}

TEST(EL, EL_21_get_event_loop_prefers_the_running_loop_then_the_set_one) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  corio::set_event_loop(nullptr);
  EXPECT_THROW(corio::get_event_loop(), std::runtime_error);
  corio::set_event_loop(&other);
  EXPECT_EQ(&corio::get_event_loop(), &other);
  event_loop* seen = nullptr;
  loop.call_soon([&] { seen = &corio::get_event_loop(); });
  run_briefly(loop);
  EXPECT_EQ(seen, &loop);
  corio::set_event_loop(nullptr);
}

// -- EL-22: slow callbacks in debug mode ------------------------------------------

TEST(EL, EL_22_slow_callback_duration_defaults_to_a_tenth_of_a_second) {
  event_loop loop(virtual_time());
  EXPECT_EQ(loop.slow_callback_duration(), std::chrono::duration_cast<corio::duration>(100ms));
  loop.set_slow_callback_duration(5ms);
  EXPECT_EQ(loop.slow_callback_duration(), std::chrono::duration_cast<corio::duration>(5ms));
}

TEST(EL, EL_22_debug_mode_logs_callbacks_slower_than_the_threshold) {
  event_loop loop(virtual_time());
  loop.set_debug(true);
  loop.set_slow_callback_duration(0ns);  // every callback counts as slow
  loop.call_soon([] {});
  testing::internal::CaptureStderr();
  run_briefly(loop);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "took")) << err;
}

TEST(EL, EL_22_debug_mode_logs_slow_task_steps) {
  event_loop loop(virtual_time());
  loop.set_debug(true);
  loop.set_slow_callback_duration(0ns);
  testing::internal::CaptureStderr();
  loop.run_until_complete(answer());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "took")) << err;
}

TEST(EL, EL_22_fast_callbacks_and_non_debug_loops_log_nothing) {
  event_loop fast(virtual_time());
  fast.set_debug(true);
  fast.set_slow_callback_duration(1h);
  fast.call_soon([] {});
  event_loop quiet(virtual_time());
  quiet.set_debug(false);
  quiet.set_slow_callback_duration(0ns);
  quiet.call_soon([] {});
  testing::internal::CaptureStderr();
  run_briefly(fast);
  run_briefly(quiet);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "");
}

// -- EL-23: task factory ------------------------------------------------------------

TEST(EL, EL_23_the_task_factory_sees_every_task_and_may_rename_it) {
  event_loop loop(virtual_time());
  int calls = 0;
  event_loop* seen_loop = nullptr;
  loop.set_task_factory([&](event_loop& l, corio::any_task& t, corio::task_options& opts) {
    ++calls;
    seen_loop = &l;
    EXPECT_FALSE(t.done());
    if (opts.name.empty()) opts.name = "from-factory-" + std::to_string(calls);
  });
  EXPECT_TRUE(static_cast<bool>(loop.get_task_factory()));
  auto a = loop.create_task(answer());
  auto b = loop.create_task(answer());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(seen_loop, &loop);
  EXPECT_EQ(a.get_name(), "from-factory-1");
  EXPECT_EQ(b.get_name(), "from-factory-2");
  EXPECT_EQ(loop.run_until_complete(a), 42);
  EXPECT_EQ(calls, 2) << "run_until_complete of a scheduled task creates none";
  EXPECT_EQ(loop.run_until_complete(answer()), 42);
  EXPECT_EQ(calls, 3) << "run_until_complete of a coroutine goes through the factory";
}

TEST(EL, EL_23_name_is_applied_with_a_custom_factory) {
  event_loop loop(virtual_time());
  std::string factory_saw;
  loop.set_task_factory([&](event_loop&, corio::any_task&, corio::task_options& opts) { factory_saw = opts.name; });
  auto t = loop.create_task(answer(), {.name = "given-name"});
  EXPECT_EQ(factory_saw, "given-name");
  EXPECT_EQ(t.get_name(), "given-name");
  loop.run_until_complete(t);
}

TEST(EL, EL_23_the_factory_sees_the_task_it_is_given) {
  event_loop loop(virtual_time());
  corio::any_task seen;
  loop.set_task_factory([&](event_loop&, corio::any_task& t, corio::task_options&) { seen = t; });
  auto t = loop.create_task(answer());
  EXPECT_TRUE(seen == t);
  loop.run_until_complete(t);
  EXPECT_TRUE(seen.done());
}

TEST(EL, EL_23_an_empty_factory_restores_the_default) {
  event_loop loop(virtual_time());
  int calls = 0;
  loop.set_task_factory([&](event_loop&, corio::any_task&, corio::task_options&) { ++calls; });
  loop.set_task_factory({});
  EXPECT_FALSE(static_cast<bool>(loop.get_task_factory()));
  EXPECT_EQ(loop.run_until_complete(answer()), 42);
  EXPECT_EQ(calls, 0);
}

// -- EL-24: create_task errors drop the coroutine unrun ----------------------------

namespace {
corio::task<> guarded(std::shared_ptr<int> token, bool* ran) {
  *ran = true;
  ++*token;
  co_return;
}
}  // namespace

TEST(EL, EL_24_create_task_on_a_closed_loop_raises_and_destroys_the_coroutine_unrun) {
  event_loop loop(virtual_time());
  loop.close();
  auto token = std::make_shared<int>(0);
  bool ran = false;
  EXPECT_THROW(loop.create_task(guarded(token, &ran)), std::runtime_error);
  EXPECT_FALSE(ran);
  EXPECT_EQ(*token, 0);
  EXPECT_EQ(token.use_count(), 1) << "the coroutine frame (holding a copy) is gone";
}

TEST(EL, EL_24_create_task_of_an_already_scheduled_task_raises_and_leaves_it_alone) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(answer_later(1s));
  EXPECT_THROW(loop.create_task(t), std::runtime_error);
  EXPECT_EQ(loop.run_until_complete(t), 42);
}

TEST(EL, EL_24_a_failing_task_factory_leaves_the_coroutine_unrun_and_destroyed) {
  event_loop loop(virtual_time());
  loop.set_task_factory([](event_loop&, corio::any_task&, corio::task_options&) {
    throw std::runtime_error("factory refuses");
  });
  auto token = std::make_shared<int>(0);
  bool ran = false;
  EXPECT_THROW(loop.create_task(guarded(token, &ran)), std::runtime_error);
  run_briefly(loop, 2);
  EXPECT_FALSE(ran);
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(EL, EL_24_create_task_of_an_empty_handle_raises) {
  event_loop loop(virtual_time());
  EXPECT_THROW(loop.create_task(corio::task<int>()), std::invalid_argument);
}

// -- EL-25: corio::run ----------------------------------------------------------------

namespace {
corio::task<int> run_main_returns() {
  co_await corio::sleep(1s);
  co_return 5;
}

corio::task<> hang_until_cancelled(bool* saw_cancel, bool* cleanup_done) {
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
    *saw_cancel = true;
  }
  co_await corio::sleep(1s);  // cleanup that awaits: run() must wait for it
  *cleanup_done = true;
  throw corio::cancelled_error();
}

corio::task<int> main_leaving_a_hanging_task(bool* saw_cancel, bool* cleanup_done) {
  corio::create_task(hang_until_cancelled(saw_cancel, cleanup_done));
  co_await corio::sleep(0s);
  co_return 1;
}

corio::task<> hang_then_fail() {
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
  }
  throw std::runtime_error("error during shutdown");
}

corio::task<> main_leaving_a_failing_task(std::vector<corio::exception_context>* reports) {
  corio::get_running_loop().set_exception_handler(
      [reports](event_loop&, const corio::exception_context& c) { reports->push_back(c); });
  corio::create_task(hang_then_fail(), "hanger");
  co_await corio::sleep(0s);
}

corio::task<> main_keeping_a_future(corio::future<int>* out) {
  *out = corio::create_future<int>();
  co_return;
}
}  // namespace

TEST(EL, EL_25_run_returns_the_result_of_main) {
  EXPECT_EQ(corio::run(run_main_returns(), virtual_time()), 5);
  EXPECT_EQ(corio::run([](int x) { return answer_later(std::chrono::milliseconds(x)); }, 10), 42);
}

TEST(EL, EL_25_run_rethrows_the_exception_of_main) {
  try {
    corio::run(fail_with("main failed"), virtual_time());
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "main failed");
  }
}

TEST(EL, EL_25_run_cancels_remaining_tasks_and_waits_for_them) {
  bool saw_cancel = false;
  bool cleanup_done = false;
  EXPECT_EQ(corio::run(main_leaving_a_hanging_task(&saw_cancel, &cleanup_done), virtual_time()), 1);
  EXPECT_TRUE(saw_cancel);
  EXPECT_TRUE(cleanup_done);
}

TEST(EL, EL_25_run_reports_errors_of_cancelled_tasks_through_the_handler) {
  std::vector<corio::exception_context> reports;
  corio::run(main_leaving_a_failing_task(&reports), virtual_time());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].message, "unhandled exception during asyncio.run() shutdown");
  EXPECT_EQ(what_of(reports[0].exception), "error during shutdown");
  EXPECT_EQ(reports[0].task, "hanger");
}

TEST(EL, EL_25_run_closes_its_loop) {
  corio::future<int> fut;
  corio::run(main_keeping_a_future(&fut), virtual_time());
  ASSERT_TRUE(static_cast<bool>(fut));
  EXPECT_THROW(fut.get_loop(), std::runtime_error);
  EXPECT_THROW(corio::get_running_loop(), std::runtime_error);
}

// -- EL-26: run from a running loop ----------------------------------------------

namespace {
corio::task<std::string> call_run_inside(bool* inner_ran) {
  try {
    corio::run(set_flag(inner_ran));
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "";
}
}  // namespace

TEST(EL, EL_26_run_from_a_running_loop_raises) {
  event_loop loop(virtual_time());
  bool inner_ran = false;
  const std::string err = loop.run_until_complete(call_run_inside(&inner_ran));
  EXPECT_TRUE(contains(err, "cannot be called from a running event loop")) << err;
  EXPECT_FALSE(inner_ran);
}

// -- EL-27: runner --------------------------------------------------------------------

namespace {
corio::task<> ticker(int* ticks) {
  for (;;) {
    co_await corio::sleep(1s);
    ++*ticks;
  }
}

corio::task<event_loop*> start_ticker(int* ticks) {
  corio::create_task(ticker(ticks));
  co_return &corio::get_running_loop();
}

corio::task<event_loop*> wait_ticks(std::chrono::milliseconds d) {
  co_await corio::sleep(d);
  co_return &corio::get_running_loop();
}

corio::task<std::string> run_recursively(corio::runner* r, bool* inner_ran) {
  try {
    r->run(set_flag(inner_ran));
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "";
}
}  // namespace

TEST(EL, EL_27_a_runner_reuses_one_loop_across_runs) {
  corio::runner r(virtual_time());
  int ticks = 0;
  event_loop* first = r.run(start_ticker(&ticks));
  event_loop* second = r.run(wait_ticks(3500ms));
  EXPECT_EQ(first, second);
  EXPECT_EQ(first, &r.get_loop());
  EXPECT_EQ(ticks, 3) << "a task left by the first run keeps going in the second";
}

TEST(EL, EL_27_a_closed_runner_refuses_to_run) {
  corio::runner r(virtual_time());
  EXPECT_EQ(r.run(answer()), 42);
  r.close();
  EXPECT_NO_THROW(r.close());
  bool ran = false;
  EXPECT_THROW(r.run(set_flag(&ran)), std::runtime_error);
  EXPECT_FALSE(ran);
  EXPECT_THROW(r.get_loop(), std::runtime_error);
}

TEST(EL, EL_27_run_from_within_the_runners_own_loop_raises) {
  corio::runner r(virtual_time());
  bool inner_ran = false;
  const std::string err = r.run(run_recursively(&r, &inner_ran));
  EXPECT_FALSE(err.empty());
  EXPECT_FALSE(inner_ran);
  EXPECT_EQ(r.run(answer()), 42) << "the runner still works afterwards";
}

TEST(EL, EL_27_closing_a_runner_cancels_what_is_left) {
  bool saw_cancel = false;
  bool cleanup_done = false;
  {
    corio::runner r(virtual_time());
    r.run(main_leaving_a_hanging_task(&saw_cancel, &cleanup_done));
    EXPECT_FALSE(saw_cancel);
  }
  EXPECT_TRUE(saw_cancel);
  EXPECT_TRUE(cleanup_done);
}

// Semantic tests for docs/semantics.md section 3: tasks (TK-01..TK-18).
//
// Rules with nothing observable left in C++:
//   TK-01 (TypeError parts): create_task only accepts a corio::task<T>
//          coroutine, and co_await / ensure_future only corio awaitables
//          (the corio::awaitable concept); anything else does not compile.
//   TK-04 (context part): the creator's contextvars Context is the CV section
//          (a later issue).
//   TK-06 (non-string names): names are std::string; nothing to stringify.
//   TK-07 (forbidden setters): task<T> has no set_result / set_exception at
//          all (checked by the static_asserts below), so the RuntimeError
//          cannot happen; the outcome mapping is tested.
//   TK-16 (yielding a foreign object): a task can only co_await corio
//          awaitables, enforced at compile time by await_transform.
//   TK-17: the task is the coroutine (there is no separate coroutine object
//          to hand out through get_coro), get_context belongs to the CV
//          section, and corio offers no get_stack introspection.
#include <corio/corio.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "el_helpers.hpp"

using namespace std::chrono_literals;
using corio::any_task;
using corio::event_loop;
using corio::testing::run_briefly;
using corio::testing::virtual_time;

namespace {

// TK-07: a task's outcome comes only from its coroutine.
template <class F>
concept settable = requires(F& f) { f.set_result(std::declval<typename F::value_type>()); };
template <class F>
concept exception_settable = requires(F& f) { f.set_exception(std::exception_ptr()); };
static_assert(settable<corio::future<int>> && exception_settable<corio::future<int>>);
static_assert(!settable<corio::task<int>> && !exception_settable<corio::task<int>>);

// Shared with the EL tests.
using elh::error_log;
using elh::what_of;

void run_for(event_loop& loop, corio::duration d) {
  loop.call_later(d, [&loop] { loop.stop(); });
  loop.run_forever();
}

corio::task_options eager(std::string name = {}) {
  corio::task_options o;
  o.name = std::move(name);
  o.eager_start = true;
  return o;
}

bool contains(const std::vector<any_task>& ts, const any_task& t) {
  return std::find(ts.begin(), ts.end(), t) != ts.end();
}

corio::task<int> answer() { co_return 42; }

corio::task<int> answer_after(std::chrono::milliseconds d) {
  co_await corio::sleep(d);
  co_return 42;
}

corio::task<> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

corio::task<int> fail_after_yield(std::string msg) {
  co_await corio::sleep(0s);
  throw std::runtime_error(msg);
}

corio::task<> sleep_for(std::chrono::milliseconds d) { co_await corio::sleep(d); }

corio::task<int> await_future(corio::future<int> f) { co_return co_await f; }

}  // namespace

// -- TK-01: create_task / ensure_future --------------------------------------------

namespace {
corio::task<> ensure_future_cases() {
  auto f = corio::create_future<int>();
  EXPECT_TRUE(corio::ensure_future(f) == f) << "a future is returned as is";

  auto fresh = answer();
  EXPECT_FALSE(fresh.scheduled());
  auto wrapped = corio::ensure_future(std::move(fresh));
  EXPECT_TRUE(wrapped.scheduled()) << "a coroutine is wrapped in a task";
  EXPECT_EQ(co_await wrapped, 42);

  auto scheduled = corio::create_task(answer());
  auto same = corio::ensure_future(scheduled);
  EXPECT_TRUE(same == scheduled) << "a task is returned as is";
  EXPECT_EQ(co_await same, 42);
}
}  // namespace

TEST(TK, TK_01_ensure_future_returns_futures_and_tasks_and_wraps_coroutines) {
  event_loop loop(virtual_time());
  loop.run_until_complete(ensure_future_cases());
}

TEST(TK, TK_01_create_task_wraps_a_coroutine_in_a_scheduled_task) {
  event_loop loop(virtual_time());
  auto coro = answer();
  EXPECT_FALSE(coro.scheduled());
  auto t = loop.create_task(std::move(coro));
  EXPECT_TRUE(t.scheduled());
  EXPECT_EQ(&t.get_loop(), &loop);
  EXPECT_EQ(loop.run_until_complete(t), 42);
}

// -- TK-02: lazy start ------------------------------------------------------------

namespace {
corio::task<> creator_checks_lazy_start() {
  bool child_ran = false;
  auto child = corio::create_task(set_flag(&child_ran));
  auto done = corio::create_future<int>();
  done.set_result(1);
  co_await done;  // a done future is no suspension point
  EXPECT_FALSE(child_ran) << "the child must not run before the creator yields";
  co_await corio::sleep(0s);
  EXPECT_TRUE(child_ran);
  EXPECT_TRUE(child.done());
}
}  // namespace

TEST(TK, TK_02_a_new_task_does_not_run_until_its_creator_yields) {
  event_loop loop(virtual_time());
  loop.run_until_complete(creator_checks_lazy_start());
}

TEST(TK, TK_02_a_task_created_outside_the_loop_waits_for_the_loop) {
  event_loop loop(virtual_time());
  bool ran = false;
  auto t = loop.create_task(set_flag(&ran));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(t.done());
  run_briefly(loop);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(t.done());
}

TEST(TK, TK_02_the_first_step_takes_its_turn_in_the_ready_queue) {
  event_loop loop(virtual_time());
  std::vector<std::string> order;
  bool ran = false;
  loop.call_soon([&] { order.push_back("before"); });
  loop.create_task(set_flag(&ran));
  loop.call_soon([&] {
    order.push_back(ran ? "after (task ran)" : "after (task not run)");
  });
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"before", "after (task ran)"}));
}

// -- TK-03: eager start ----------------------------------------------------------

namespace {
corio::task<int> eager_returns(bool* ran) {
  *ran = true;
  co_return 7;
}

corio::task<> creator_checks_eager_completion() {
  bool ran = false;
  auto t = corio::create_task(eager_returns(&ran), eager());
  EXPECT_TRUE(ran) << "the first step runs inside create_task";
  EXPECT_TRUE(t.done()) << "finished without suspending: done at once";
  EXPECT_EQ(t.result(), 7);
  EXPECT_FALSE(contains(corio::all_tasks(), t));
  co_return;
}
}  // namespace

TEST(TK, TK_03_an_eager_task_that_does_not_suspend_is_done_when_create_task_returns) {
  event_loop loop(virtual_time());
  loop.run_until_complete(creator_checks_eager_completion());
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(TK, TK_03_eager_start_from_a_callback_of_the_running_loop) {
  event_loop loop(virtual_time());
  bool ran = false;
  bool done_at_once = false;
  loop.call_soon([&] {
    auto t = loop.create_task(eager_returns(&ran), eager());
    done_at_once = t.done();
  });
  run_briefly(loop);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(done_at_once);
}

TEST(TK, TK_03_eager_start_on_a_loop_that_is_not_running_falls_back_to_lazy) {
  event_loop loop(virtual_time());
  bool ran = false;
  auto t = loop.create_task(eager_returns(&ran), eager());
  EXPECT_FALSE(ran);
  EXPECT_EQ(loop.run_until_complete(t), 7);
  EXPECT_TRUE(ran);
}

TEST(TK, TK_03_a_task_factory_can_make_every_task_eager) {
  event_loop loop(virtual_time());
  loop.set_task_factory([](event_loop&, any_task&, corio::task_options& o) { o.eager_start = true; });
  bool ran = false;
  bool done_at_once = false;
  loop.call_soon([&] { done_at_once = loop.create_task(eager_returns(&ran)).done(); });
  run_briefly(loop);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(done_at_once);
}

// -- TK-04: during and after the eager step ----------------------------------------

namespace {
corio::task<int> eager_records_current(any_task* seen) {
  *seen = corio::current_task();
  co_return 1;
}

corio::task<> creator_checks_current_task_during_eager_step() {
  any_task seen;
  auto t = corio::create_task(eager_records_current(&seen), eager());
  EXPECT_TRUE(seen == t) << "current_task() is the new task during its eager step";
  EXPECT_FALSE(corio::current_task() == t);
  EXPECT_TRUE(static_cast<bool>(corio::current_task())) << "the creator is current again";
  co_return;
}

corio::task<> eager_sets_future(corio::future<int> f) {
  f.set_result(99);
  co_await corio::sleep(1s);
}

corio::task<> creator_checks_future_set_during_eager_step() {
  auto f = corio::create_future<int>();
  auto t = corio::create_task(eager_sets_future(f), eager());
  EXPECT_TRUE(f.done()) << "visible right after create_task";
  EXPECT_EQ(f.result(), 99);
  EXPECT_FALSE(t.done());
  co_await t;
}

corio::task<int> eager_then_block(std::vector<std::string>* log) {
  log->push_back("eager step");
  co_await corio::sleep(0s);
  log->push_back("second step");
  co_return 3;
}

corio::task<> creator_checks_block_after_eager_step(std::vector<std::string>* log) {
  auto t = corio::create_task(eager_then_block(log), eager());
  log->push_back("create_task returned");
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(contains(corio::all_tasks(), t)) << "a blocked eager task is registered";
  EXPECT_EQ(co_await t, 3);
  log->push_back("awaited");
}
}  // namespace

TEST(TK, TK_04_current_task_during_the_eager_step_is_the_new_task) {
  event_loop loop(virtual_time());
  loop.run_until_complete(creator_checks_current_task_during_eager_step());
}

TEST(TK, TK_04_a_future_completed_during_the_eager_step_is_visible_at_once) {
  event_loop loop(virtual_time());
  loop.run_until_complete(creator_checks_future_set_during_eager_step());
}

TEST(TK, TK_04_an_eager_task_that_blocks_continues_like_a_normal_task) {
  event_loop loop(virtual_time());
  std::vector<std::string> log;
  loop.run_until_complete(creator_checks_block_after_eager_step(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"eager step", "create_task returned", "second step", "awaited"}));
}

// -- TK-05: cancelling eager tasks -------------------------------------------------

namespace {
corio::task<> creator_cancels_eagerly_completed() {
  bool ran = false;
  auto t = corio::create_task(eager_returns(&ran), eager());
  EXPECT_FALSE(t.cancel("too late"));
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.result(), 7);
  co_return;
}

corio::task<std::string> creator_cancels_eagerly_blocked(corio::future<int> f) {
  auto t = corio::create_task(await_future(f), eager());
  EXPECT_TRUE(t.cancel("stop now"));
  try {
    co_await t;
  } catch (const corio::cancelled_error& e) {
    EXPECT_TRUE(t.cancelled());
    EXPECT_TRUE(f.cancelled()) << "what the task awaited is cancelled too";
    co_return e.what();
  }
  co_return "not cancelled";
}
}  // namespace

TEST(TK, TK_05_cancel_of_an_eagerly_completed_task_returns_false_and_the_result_stands) {
  event_loop loop(virtual_time());
  loop.run_until_complete(creator_cancels_eagerly_completed());
}

TEST(TK, TK_05_an_eagerly_started_blocked_task_cancels_normally_with_the_message) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  EXPECT_EQ(loop.run_until_complete(creator_cancels_eagerly_blocked(f)), "stop now");
}

// -- TK-06: names ---------------------------------------------------------------------

namespace {
long task_number(const std::string& name) {
  static const std::regex re("^Task-([0-9]+)$");
  std::smatch m;
  if (!std::regex_match(name, m, re)) return -1;
  return std::stol(m[1].str());
}
}  // namespace

TEST(TK, TK_06_default_names_are_Task_n_from_a_process_wide_counter) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  auto a = loop.create_task(answer());
  auto b = other.create_task(answer());
  // Departure: the number is drawn when the name is first asked for.
  const std::string nb = b.get_name();
  const std::string na = a.get_name();
  EXPECT_GT(task_number(nb), 0) << nb;
  EXPECT_GT(task_number(na), 0) << na;
  EXPECT_LT(task_number(nb), task_number(na));
  EXPECT_EQ(a.get_name(), na) << "a name, once given, stays";
  loop.run_until_complete(a);
  other.run_until_complete(b);
}

TEST(TK, TK_06_name_option_and_set_name_set_the_name) {
  event_loop loop(virtual_time());
  corio::task_options named;
  named.name = "alpha";
  auto a = loop.create_task(answer(), named);
  EXPECT_EQ(a.get_name(), "alpha");
  a.set_name("beta");
  EXPECT_EQ(a.get_name(), "beta");
  loop.run_until_complete(a);
  a.set_name("gamma");
  EXPECT_EQ(a.get_name(), "gamma") << "a done task can still be renamed";
}

namespace {
corio::task<std::string> create_named_child() {
  auto t = corio::create_task(answer(), "child-name");
  co_await t;
  co_return t.get_name();
}
}  // namespace

TEST(TK, TK_06_the_free_create_task_takes_a_name) {
  event_loop loop(virtual_time());
  EXPECT_EQ(loop.run_until_complete(create_named_child()), "child-name");
}

// -- TK-07: a task's outcome is its coroutine's --------------------------------------

namespace {
corio::task<int> wait_forever() {
  auto f = corio::create_future<int>();
  co_return co_await f;
}
}  // namespace

TEST(TK, TK_07_the_task_outcome_is_the_coroutines_return_value) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(answer_after(1s));
  EXPECT_THROW(t.result(), corio::invalid_state_error) << "pending";
  EXPECT_THROW(t.exception(), corio::invalid_state_error) << "pending";
  loop.run_until_complete(t);
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.result(), 42);
  EXPECT_TRUE(t.exception() == nullptr);
}

TEST(TK, TK_07_the_task_outcome_is_the_escaping_exception) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(fail_after_yield("escaped"));
  EXPECT_THROW(loop.run_until_complete(t), std::runtime_error);
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(what_of(t.exception()), "escaped");
  EXPECT_THROW(t.result(), std::runtime_error);
}

TEST(TK, TK_07_the_task_outcome_is_cancellation) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(wait_forever());
  run_briefly(loop);
  EXPECT_TRUE(t.cancel("bye"));
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_THROW(t.exception(), corio::cancelled_error);
}

// -- TK-08: awaiting a finished task ----------------------------------------------

namespace {
struct twice_report {
  int first = 0;
  int second = 0;
  bool other_ran_in_between = true;
};

corio::task<> await_finished_twice(corio::task<int> t, twice_report* r) {
  bool other_ran = false;
  corio::create_task(set_flag(&other_ran));
  r->first = co_await t;
  r->second = co_await t;
  r->other_ran_in_between = other_ran;
}

corio::task<> await_failed_twice(corio::task<int> t, const void** first, const void** second) {
  try {
    co_await t;
  } catch (const std::runtime_error& e) {
    *first = &e;
  }
  try {
    co_await t;
  } catch (const std::runtime_error& e) {
    *second = &e;
  }
}
}  // namespace

TEST(TK, TK_08_awaiting_a_finished_task_returns_the_same_result_without_suspending) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(answer());
  loop.run_until_complete(t);
  twice_report r;
  loop.run_until_complete(await_finished_twice(t, &r));
  EXPECT_EQ(r.first, 42);
  EXPECT_EQ(r.second, 42);
  EXPECT_FALSE(r.other_ran_in_between);
}

TEST(TK, TK_08_awaiting_a_failed_task_raises_the_same_exception_object_each_time) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(fail_after_yield("once"));
  EXPECT_THROW(loop.run_until_complete(t), std::runtime_error);
  const void* first = nullptr;
  const void* second = nullptr;
  loop.run_until_complete(await_failed_twice(t, &first, &second));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);
}

// -- TK-09: a task awaiting itself -------------------------------------------------

namespace {
corio::task<std::string> await_self(corio::task<std::string>* self) {
  try {
    co_await *self;
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "no error";
}

corio::task<std::string> await_current_task() {
  try {
    co_await corio::current_task();
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
  co_return "no error";
}
}  // namespace

TEST(TK, TK_09_a_task_awaiting_itself_fails_with_runtime_error) {
  event_loop loop(virtual_time());
  corio::task<std::string> t;
  t = loop.create_task(await_self(&t));
  EXPECT_EQ(loop.run_until_complete(t), "Task cannot await on itself");
  EXPECT_EQ(loop.run_until_complete(await_current_task()), "Task cannot await on itself");
}

// -- TK-10: current_task -------------------------------------------------------------

namespace {
corio::task<> record_current(any_task* self, std::vector<std::string>* log, std::string tag) {
  for (int i = 0; i < 3; ++i) {
    log->push_back(tag + (corio::current_task() == *self ? "=self" : "=other"));
    co_await corio::sleep(0s);
  }
}

corio::task<bool> inline_child_sees(any_task* outer) { co_return corio::current_task() == *outer; }

corio::task<bool> outer_awaits_inline_child(any_task* self) { co_return co_await inline_child_sees(self); }
}  // namespace

TEST(TK, TK_10_current_task_follows_interleaved_tasks) {
  event_loop loop(virtual_time());
  std::vector<std::string> log;
  any_task a;
  any_task b;
  auto ta = loop.create_task(record_current(&a, &log, "a"));
  auto tb = loop.create_task(record_current(&b, &log, "b"));
  a = ta;  // read by the tasks from their first step on, which comes later
  b = tb;
  run_briefly(loop, 4);
  EXPECT_TRUE(ta.done());
  EXPECT_TRUE(tb.done());
  EXPECT_EQ(log, (std::vector<std::string>{"a=self", "b=self", "a=self", "b=self", "a=self", "b=self"}));
}

TEST(TK, TK_10_current_task_is_empty_between_steps_and_throws_without_a_loop) {
  event_loop loop(virtual_time());
  EXPECT_THROW(corio::current_task(), std::runtime_error);
  bool empty_in_callback = false;
  auto t = loop.create_task(answer_after(0ms));
  loop.call_soon([&] { empty_in_callback = !corio::current_task(); });
  loop.run_until_complete(t);
  EXPECT_TRUE(empty_in_callback);
  EXPECT_THROW(corio::current_task(), std::runtime_error);
}

TEST(TK, TK_10_a_coroutine_awaited_inline_runs_as_part_of_the_awaiting_task) {
  event_loop loop(virtual_time());
  any_task self;
  auto t = loop.create_task(outer_awaits_inline_child(&self));
  self = t;
  EXPECT_TRUE(loop.run_until_complete(t));
}

// -- TK-11: all_tasks ----------------------------------------------------------------

namespace {
corio::task<> check_all_tasks(std::vector<any_task>* expected_in, std::vector<any_task>* expected_out) {
  const auto all = corio::all_tasks();
  EXPECT_TRUE(contains(all, corio::current_task())) << "the running task is not done";
  for (auto& t : *expected_in) EXPECT_TRUE(contains(all, t)) << t.get_name();
  for (auto& t : *expected_out) EXPECT_FALSE(contains(all, t)) << t.get_name();
  EXPECT_EQ(all.size(), expected_in->size() + 1);
  co_return;
}
}  // namespace

TEST(TK, TK_11_all_tasks_returns_the_not_done_tasks_of_the_running_loop) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  auto finished = loop.create_task(answer());
  loop.run_until_complete(finished);
  auto foreign = other.create_task(sleep_for(1s));
  std::vector<any_task> in{loop.create_task(sleep_for(1s)), loop.create_task(sleep_for(2s))};
  std::vector<any_task> out{finished, foreign};
  loop.run_until_complete(check_all_tasks(&in, &out));
  run_for(loop, 3s);
  EXPECT_TRUE(corio::all_tasks(loop).empty());
  EXPECT_EQ(corio::all_tasks(other).size(), 1u);
  other.run_until_complete(foreign);
}

TEST(TK, TK_11_all_tasks_of_a_given_loop_works_when_it_is_not_running) {
  event_loop loop(virtual_time());
  auto a = loop.create_task(sleep_for(1s));
  auto b = loop.create_task(answer());
  auto all = corio::all_tasks(loop);
  EXPECT_EQ(all.size(), 2u);
  EXPECT_TRUE(contains(all, a));
  EXPECT_TRUE(contains(all, b));
  EXPECT_EQ(loop.pending_task_count(), 2u);
  loop.run_until_complete(b);
  all = corio::all_tasks(loop);
  EXPECT_EQ(all.size(), 1u);
  EXPECT_TRUE(contains(all, a));
  loop.run_until_complete(a);
}

// -- TK-12: task exception never retrieved -----------------------------------------

TEST(TK, TK_12_a_failed_task_nobody_asked_is_reported_when_destroyed) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  corio::task_options named;
  named.name = "failing-task";
  loop.create_task(fail_after_yield("unseen"), named);  // handle dropped
  run_briefly(loop, 3);
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(log.items[0].message, "Task exception was never retrieved");
  EXPECT_EQ(log.items[0].task, "failing-task");
  EXPECT_EQ(what_of(log.items[0].exception), "unseen");
}

TEST(TK, TK_12_the_report_waits_for_the_last_handle) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  auto keep = std::make_unique<corio::task<int>>(loop.create_task(fail_after_yield("held")));
  run_briefly(loop, 3);
  EXPECT_TRUE(keep->done());
  EXPECT_TRUE(log.items.empty());
  keep.reset();
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(log.items[0].message, "Task exception was never retrieved");
}

TEST(TK, TK_12_retrieved_and_cancelled_tasks_are_not_reported) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  {
    auto seen = loop.create_task(fail_after_yield("seen"));
    auto cancelled = loop.create_task(wait_forever());
    run_briefly(loop, 3);
    cancelled.cancel();
    run_briefly(loop, 2);
    EXPECT_TRUE(seen.exception() != nullptr);
    EXPECT_TRUE(cancelled.cancelled());
  }
  {
    auto awaited = loop.create_task(fail_after_yield("awaited"));
    EXPECT_THROW(loop.run_until_complete(awaited), std::runtime_error);
  }
  EXPECT_TRUE(log.items.empty());
}

// -- TK-13: the loop holds pending tasks ---------------------------------------------

namespace {
corio::task<> work_in_steps(int* progress) {
  for (int i = 0; i < 3; ++i) {
    co_await corio::sleep(1s);
    ++*progress;
  }
}
}  // namespace

TEST(TK, TK_13_a_task_whose_handles_are_all_dropped_still_runs_to_completion) {
  event_loop loop(virtual_time());
  int progress = 0;
  loop.create_task(work_in_steps(&progress));
  EXPECT_EQ(loop.pending_task_count(), 1u);
  run_for(loop, 5s);
  EXPECT_EQ(progress, 3);
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(TK, TK_13_destroying_a_still_pending_task_is_reported) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  corio::task_options named;
  named.name = "abandoned";
  loop.create_task(sleep_for(1h), named);
  run_briefly(loop);
  EXPECT_TRUE(log.items.empty());
  loop.close();
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(log.items[0].message, "Task was destroyed but it is pending!");
  EXPECT_EQ(log.items[0].task, "abandoned");
}

TEST(TK, TK_13_a_pending_task_held_past_close_is_reported_when_its_last_handle_goes) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  auto keep = std::make_unique<corio::task<>>(loop.create_task(sleep_for(1h)));
  run_briefly(loop);
  loop.close();
  EXPECT_TRUE(log.items.empty());
  EXPECT_FALSE(keep->done());
  keep.reset();
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(log.items[0].message, "Task was destroyed but it is pending!");
}

// -- TK-14: exceptions finish the task -----------------------------------------

namespace {
corio::task<const void*> catch_address(corio::task<int> t, std::string* msg) {
  try {
    co_await t;
  } catch (const std::runtime_error& e) {
    *msg = e.what();
    co_return &e;
  }
  co_return nullptr;
}

corio::task<int> fail_with_cause() {
  co_await corio::sleep(0s);
  try {
    throw std::logic_error("root cause");
  } catch (...) {
    std::throw_with_nested(std::runtime_error("wrapper"));
  }
}

corio::task<std::string> unwrap_cause(corio::task<int> t) {
  try {
    co_await t;
  } catch (const std::runtime_error& outer) {
    try {
      std::rethrow_if_nested(outer);
    } catch (const std::logic_error& inner) {
      co_return std::string(outer.what()) + " <- " + inner.what();
    }
    co_return "no cause";
  }
  co_return "no error";
}
}  // namespace

TEST(TK, TK_14_the_exception_is_raised_to_every_awaiter) {
  event_loop loop(virtual_time());
  auto failing = loop.create_task(fail_after_yield("shared"));
  std::string m1;
  std::string m2;
  auto w1 = loop.create_task(catch_address(failing, &m1));
  auto w2 = loop.create_task(catch_address(failing, &m2));
  loop.run_until_complete(w2);
  loop.run_until_complete(w1);
  EXPECT_EQ(m1, "shared");
  EXPECT_EQ(m2, "shared");
  EXPECT_NE(w1.result(), nullptr);
  EXPECT_EQ(w1.result(), w2.result()) << "one exception object";
}

TEST(TK, TK_14_the_exception_chain_is_preserved) {
  event_loop loop(virtual_time());
  auto failing = loop.create_task(fail_with_cause());
  EXPECT_EQ(loop.run_until_complete(unwrap_cause(failing)), "wrapper <- root cause");
}

// -- TK-15: fatal errors are stored and leave the loop ---------------------------

namespace {
corio::task<int> interrupt_after_yield() {
  co_await corio::sleep(0s);
  throw corio::keyboard_interrupt();
}

corio::task<> exit_after(std::chrono::milliseconds d) {
  co_await corio::sleep(d);
  throw corio::system_exit(2);
}
}  // namespace

TEST(TK, TK_15_keyboard_interrupt_in_a_task_is_stored_and_stops_run_forever) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  int progress = 0;
  loop.create_task(work_in_steps(&progress));
  auto t = loop.create_task(interrupt_after_yield());
  EXPECT_THROW(loop.run_forever(), corio::keyboard_interrupt);
  EXPECT_FALSE(loop.is_running());
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_THROW(std::rethrow_exception(t.exception()), corio::keyboard_interrupt);
  EXPECT_EQ(progress, 0);
  run_for(loop, 5s);
  EXPECT_EQ(progress, 3) << "the other tasks carry on in a later run";
  EXPECT_TRUE(log.items.empty());
}

TEST(TK, TK_15_keyboard_interrupt_in_the_main_task_leaves_run_until_complete) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(interrupt_after_yield());
  EXPECT_THROW(loop.run_until_complete(t), corio::keyboard_interrupt);
  EXPECT_TRUE(t.done());
  EXPECT_THROW(t.result(), corio::keyboard_interrupt);
  EXPECT_EQ(loop.run_until_complete(answer()), 42) << "the loop is usable afterwards";
}

TEST(TK, TK_15_system_exit_in_a_task_leaves_run_until_complete_of_another_future) {
  event_loop loop(virtual_time());
  auto never = loop.create_future<int>();
  auto t = loop.create_task(exit_after(1s));
  try {
    loop.run_until_complete(never);
    FAIL() << "system_exit did not leave the loop";
  } catch (const corio::system_exit& e) {
    EXPECT_EQ(e.code(), 2);
  }
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(never.done());
}

// -- TK-16: suspending on a future of the task's loop --------------------------------

namespace {
corio::task<int> await_and_mark(corio::future<int> f, bool* resumed) {
  const int v = co_await f;
  *resumed = true;
  co_return v * 2;
}
}  // namespace

TEST(TK, TK_16_a_task_suspends_on_a_future_and_is_resumed_with_its_result_through_the_loop) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  bool resumed = false;
  auto t = loop.create_task(await_and_mark(f, &resumed));
  run_briefly(loop, 3);
  EXPECT_FALSE(resumed);
  f.set_result(21);
  EXPECT_FALSE(resumed) << "set_result does not resume the task inline";
  run_briefly(loop);
  EXPECT_TRUE(resumed);
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), 42);
}

TEST(TK, TK_16_cancelling_the_task_reaches_the_future_it_waits_on) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  bool resumed = false;
  auto t = loop.create_task(await_and_mark(f, &resumed));
  run_briefly(loop);
  t.cancel("reach");
  EXPECT_TRUE(f.cancelled()) << "the task is registered on the future it awaits";
  run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(resumed);
}

// -- TK-18: done callbacks and waking awaiters ---------------------------------------

namespace {
corio::task<int> inner_step(corio::future<int> f, std::vector<std::string>* log) {
  const int v = co_await f;
  log->push_back("inner done");
  co_return v;
}

corio::task<> outer_step(corio::task<int> inner, std::vector<std::string>* log) {
  co_await inner;
  log->push_back("outer resumed");
}
}  // namespace

TEST(TK, TK_18_done_callbacks_see_the_final_state_and_run_via_call_soon_in_order) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<std::string> order;
  auto t = loop.create_task(inner_step(f, &order));
  t.add_done_callback([&](any_task& self) {
    order.push_back(self.done() && !self.cancelled() && self.exception() == nullptr ? "cb1 done" : "cb1 early");
  });
  t.add_done_callback([&](any_task&) { order.push_back("cb2"); });
  auto id = t.add_done_callback([&](any_task&) { order.push_back("removed"); });
  EXPECT_EQ(t.remove_done_callback(id), 1u);
  run_briefly(loop);
  f.set_result(5);
  run_briefly(loop);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(order, (std::vector<std::string>{"inner done"})) << "callbacks do not run inside the task's last step";
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"inner done", "cb1 done", "cb2"}));
}

TEST(TK, TK_18_a_callback_added_to_a_done_task_runs_via_call_soon) {
  event_loop loop(virtual_time());
  auto t = loop.create_task(answer());
  loop.run_until_complete(t);
  bool ran = false;
  t.add_done_callback([&](any_task&) { ran = true; });
  EXPECT_FALSE(ran);
  run_briefly(loop);
  EXPECT_TRUE(ran);
}

TEST(TK, TK_18_an_awaiting_task_is_woken_one_iteration_after_the_task_finishes) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<std::string> log;
  auto inner = loop.create_task(inner_step(f, &log));
  inner.add_done_callback([&](any_task&) { log.push_back("callback"); });
  auto outer = loop.create_task(outer_step(inner, &log));
  run_briefly(loop, 2);
  EXPECT_TRUE(log.empty());
  f.set_result(1);
  run_briefly(loop);
  EXPECT_EQ(log, (std::vector<std::string>{"inner done"}));
  EXPECT_TRUE(inner.done());
  EXPECT_FALSE(outer.done());
  run_briefly(loop);
  EXPECT_EQ(log, (std::vector<std::string>{"inner done", "callback", "outer resumed"}));
  EXPECT_TRUE(outer.done());
}

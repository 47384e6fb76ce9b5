// Unit tests for <corio/tasks.hpp>: coroutines, tasks, create_task,
// current_task / all_tasks, names, cancellation, sleep, and the lifetime of
// coroutine frames.
#include <corio/tasks.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
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

corio::task<int> answer() { co_return 42; }

corio::task<int> answer_later(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<> set_flag(bool& flag) {
  flag = true;
  co_return;
}

// Holds a counted in its frame as a parameter and another as a local.
corio::task<int> counted_frame(counted param, bool& body_ran, corio::duration d) {
  body_ran = true;
  counted local(param.id);
  co_await corio::sleep(d);
  co_return local.id;
}

corio::task<int> fail_with(std::string what) {
  co_await corio::sleep(0s);
  throw std::runtime_error(what);
}

corio::task<> sleep_forever(bool& cleaned_up) {
  struct cleanup {
    bool& flag;
    ~cleanup() { flag = true; }
  } guard{cleaned_up};
  co_await corio::sleep(std::chrono::hours(24 * 365));
}

corio::task<counted> make_counted(int id) { co_return counted(id); }

corio::task<std::unique_ptr<int>> make_unique_int(int v) {
  co_await corio::sleep(0s);
  co_return std::make_unique<int>(v);
}

corio::task<int&> ref_to(int& x) {
  co_await corio::sleep(0s);
  co_return x;
}

std::string cancel_message_of(const corio::any_task& t) {
  try {
    (void)t.exception();
    return "<not cancelled>";
  } catch (const corio::cancelled_error& e) {
    return e.what();
  }
}

}  // namespace

static_assert(corio::awaitable<corio::task<int>>);
static_assert(corio::awaitable<corio::task<int>&>);
static_assert(corio::awaitable<corio::future<int>>);
static_assert(corio::awaitable<corio::any_task>);
static_assert(!corio::awaitable<std::suspend_always>, "foreign awaiters are rejected at compile time");
static_assert(!corio::awaitable<int>);

// -- laziness and unawaited coroutines ---------------------------------------------

TEST(Task, calling_a_coroutine_runs_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  corio::task<> t = set_flag(ran);
  EXPECT_FALSE(ran);
  EXPECT_FALSE(t.scheduled());
  EXPECT_FALSE(t.done());
  corio::testing::run_briefly(loop, 3);
  EXPECT_FALSE(ran) << "an unscheduled coroutine is not the loop's business";
}

TEST(Task, an_unawaited_coroutine_is_destroyed_without_running_its_body) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  bool body_ran = false;
  {
    corio::task<int> t = counted_frame(counted(1), body_ran, 1s);
    EXPECT_EQ(counted::alive(), 1u) << "the parameter copy lives in the frame";
  }
  EXPECT_FALSE(body_ran);
  EXPECT_EQ(counted::alive(), 0u) << "dropping the coroutine destroys its frame";
  EXPECT_TRUE(log.seen.empty()) << "an unawaited coroutine is not a pending task";
}

TEST(Task, in_debug_mode_dropping_an_unawaited_coroutine_inside_the_loop_is_reported_on_stderr) {
  corio::loop_options opts = corio::testing::virtual_time();
  opts.debug = true;
  corio::event_loop loop(opts);
  bool ran = false;
  loop.call_soon([&] { corio::task<> t = set_flag(ran); });
  testing::internal::CaptureStderr();
  corio::testing::run_briefly(loop);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(ran);
  EXPECT_NE(err.find("set_flag(bool&) was never awaited or scheduled"), std::string::npos) << err;
}

TEST(Task, in_debug_mode_dropping_an_unawaited_coroutine_outside_any_loop_is_reported_naming_it) {
  corio::loop_options opts = corio::testing::virtual_time();
  opts.debug = true;
  corio::event_loop loop(opts);  // debug mode on somewhere, no loop running
  bool ran = false;
  testing::internal::CaptureStderr();
  { corio::task<> t = set_flag(ran); }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_FALSE(ran);
  EXPECT_NE(err.find("set_flag(bool&) was never awaited or scheduled"), std::string::npos) << err;
}

TEST(Task, create_task_runs_the_body_only_once_the_loop_turns) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  corio::task<> t = loop.create_task(set_flag(ran));
  EXPECT_TRUE(t.scheduled());
  EXPECT_FALSE(ran);
  EXPECT_EQ(loop.pending_task_count(), 1u);
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(ran);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(Task, eager_start_runs_the_first_step_inside_create_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    bool ran = false;
    corio::task<> t = corio::create_task(set_flag(ran), corio::task_options{"eager", true});
    EXPECT_TRUE(ran);
    EXPECT_TRUE(t.done()) << "a coroutine that never suspends finishes inside create_task";
    EXPECT_EQ(t.get_name(), "eager");
    co_return;
  }());
}

TEST(Task, an_eager_task_that_suspends_continues_as_a_normal_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    corio::task<int> t = corio::create_task(answer_later(1s, 5), corio::task_options{"", true});
    EXPECT_FALSE(t.done());
    co_return co_await t;
  }());
  EXPECT_EQ(r, 5);
}

// -- results -----------------------------------------------------------------------

TEST(Task, run_until_complete_returns_the_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_EQ(loop.run_until_complete(answer()), 42);
  EXPECT_EQ(loop.run_until_complete(answer_later(3s, 7)), 7);
  EXPECT_EQ(loop.time().time_since_epoch(), 3s);
}

TEST(Task, run_until_complete_rethrows_the_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.run_until_complete(fail_with("bad")), std::runtime_error);
}

TEST(Task, run_until_complete_accepts_a_task_already_scheduled) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(answer_later(1s, 9));
  EXPECT_EQ(loop.run_until_complete(t), 9);
  EXPECT_EQ(t.result(), 9);
}

TEST(Task, run_until_complete_of_a_task_of_another_loop_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event_loop other(corio::testing::virtual_time());
  corio::task<int> t = other.create_task(answer());
  EXPECT_THROW(loop.run_until_complete(t), std::invalid_argument);
  other.run_until_complete(t);
}

TEST(Task, a_void_task_completes_with_no_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  corio::task<> t = loop.create_task(set_flag(ran));
  loop.run_until_complete(t);
  EXPECT_TRUE(ran);
  EXPECT_NO_THROW(t.result());
  EXPECT_EQ(t.exception(), nullptr);
}

TEST(Task, a_reference_task_returns_the_very_object) {
  corio::event_loop loop(corio::testing::virtual_time());
  int x = 1;
  int& r = loop.run_until_complete(ref_to(x));
  EXPECT_EQ(&r, &x);
  corio::task<int&> t = loop.create_task(ref_to(x));
  loop.run_until_complete(t);
  EXPECT_EQ(&t.result(), &x);
  int* inline_addr = loop.run_until_complete([](int& y) -> corio::task<int*> {
    int& z = co_await ref_to(y);
    co_return &z;
  }(x));
  EXPECT_EQ(inline_addr, &x);
}

TEST(Task, a_move_only_result_travels_by_move) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::unique_ptr<int> p = loop.run_until_complete(make_unique_int(3));
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 3);
  int inline_v = loop.run_until_complete([]() -> corio::task<int> {
    std::unique_ptr<int> q = co_await make_unique_int(4);
    co_return *q;
  }());
  EXPECT_EQ(inline_v, 4);
}

TEST(Task, awaiting_an_rvalue_task_moves_the_value_out) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::task<counted> t = corio::create_task(make_counted(5));
    while (!t.done()) co_await corio::sleep(0s);
    const std::size_t copies = counted::copies;
    const std::size_t moves = counted::moves;
    counted c = co_await std::move(t);
    EXPECT_EQ(c.id, 5);
    EXPECT_EQ(counted::copies, copies) << "an rvalue await must not copy";
    EXPECT_EQ(counted::moves, moves + 1);
    EXPECT_EQ(t.result().id, -1) << "the stored value was moved from";
  }());
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Task, awaiting_an_lvalue_task_returns_a_reference_to_its_result) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::task<counted> t = corio::create_task(make_counted(6));
    while (!t.done()) co_await corio::sleep(0s);
    const std::size_t copies = counted::copies;
    const std::size_t moves = counted::moves;
    counted& a = co_await t;
    counted& b = co_await t;  // a done task may be awaited again
    EXPECT_EQ(&a, &t.result());
    EXPECT_EQ(&b, &a);
    EXPECT_EQ(a.id, 6);
    EXPECT_EQ(counted::copies, copies);
    EXPECT_EQ(counted::moves, moves);
  }());
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Task, awaiting_an_unscheduled_lvalue_coroutine_runs_it_inline_and_keeps_the_result_in_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::task<std::unique_ptr<int>> t = make_unique_int(8);
    std::unique_ptr<int>& r = co_await t;
    EXPECT_EQ(&r, &t.result());
    EXPECT_EQ(*r, 8);
    EXPECT_FALSE(t.scheduled());
  }());
}

TEST(Task, many_tasks_may_await_one_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> shared = loop.create_task(answer_later(2s, 10));
  auto waiter = [](corio::task<int> t, int add) -> corio::task<int> { co_return co_await t + add; };
  corio::task<int> a = loop.create_task(waiter(shared, 1));
  corio::task<int> b = loop.create_task(waiter(shared, 2));
  loop.run_until_complete(b);
  corio::testing::run_briefly(loop);
  EXPECT_EQ(a.result(), 11);
  EXPECT_EQ(b.result(), 12);
}

TEST(Task, an_exception_in_an_inline_coroutine_reaches_the_awaiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string what = loop.run_until_complete([]() -> corio::task<std::string> {
    try {
      co_await fail_with("deep");
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "nothing";
  }());
  EXPECT_EQ(what, "deep");
}

TEST(Task, awaiting_a_coroutine_already_being_awaited_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> shared = answer_later(1s, 1);
  auto first = loop.create_task([](corio::task<int>& t) -> corio::task<int> { co_return co_await t; }(shared));
  corio::testing::run_briefly(loop);
  auto second = loop.create_task([](corio::task<int>& t) -> corio::task<int> { co_return co_await t; }(shared));
  EXPECT_THROW(loop.run_until_complete(second), std::runtime_error);
  EXPECT_EQ(loop.run_until_complete(first), 1);
}

TEST(Task, a_task_cannot_await_itself) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> self;
  self = loop.create_task([](corio::task<>& me) -> corio::task<> {
    co_await corio::sleep(0s);
    co_await me;
  }(self));
  EXPECT_THROW(loop.run_until_complete(self), std::runtime_error);
}

// -- scheduling errors -------------------------------------------------------------

TEST(Task, create_task_twice_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(answer());
  EXPECT_THROW(loop.create_task(t), std::runtime_error);
  loop.run_until_complete(t);
}

TEST(Task, create_task_of_an_empty_handle_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.create_task(corio::task<int>()), std::invalid_argument);
}

TEST(Task, create_task_on_a_closed_loop_throws_and_drops_the_coroutine_unrun) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  loop.close();
  bool body_ran = false;
  EXPECT_THROW(loop.create_task(counted_frame(counted(1), body_ran, 0s)), std::runtime_error);
  EXPECT_FALSE(body_ran);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Task, create_task_without_a_running_loop_throws_runtime_error) {
  counted::reset();
  bool body_ran = false;
  EXPECT_THROW(corio::create_task(counted_frame(counted(1), body_ran, 0s)), std::runtime_error);
  EXPECT_FALSE(body_ran);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Task, cancel_of_an_unscheduled_coroutine_throws_logic_error) {
  corio::task<int> t = answer();
  EXPECT_THROW(t.cancel(), std::logic_error);
}

TEST(Task, ensure_future_schedules_a_coroutine_and_passes_a_task_through) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::task<int> fresh = corio::ensure_future(answer());
    EXPECT_TRUE(fresh.scheduled());
    corio::task<int> again = corio::ensure_future(fresh);
    EXPECT_TRUE(again == fresh);
    corio::future<int> f = corio::create_future<int>();
    EXPECT_TRUE(corio::ensure_future(f) == f);
    f.set_result(0);
    EXPECT_EQ(co_await fresh, 42);
  }());
}

// -- frame lifetime ----------------------------------------------------------------

TEST(Task, the_frame_of_a_finished_task_is_freed_once_its_handles_go) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  bool body_ran = false;
  {
    corio::task<int> t = loop.create_task(counted_frame(counted(3), body_ran, 1s));
    EXPECT_EQ(loop.run_until_complete(t), 3);
    EXPECT_TRUE(body_ran);
    EXPECT_EQ(counted::alive(), 1u) << "the local is gone; the parameter lives with the frame";
    EXPECT_EQ(loop.pending_task_count(), 0u);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Task, the_frame_of_a_finished_task_nobody_holds_is_freed_at_once) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  bool body_ran = false;
  loop.create_task(counted_frame(counted(3), body_ran, 1s));
  EXPECT_EQ(counted::alive(), 1u);
  loop.call_later(2s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_TRUE(body_ran);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Task, a_task_whose_handles_were_dropped_keeps_running) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool done = false;
  loop.create_task([](bool& flag) -> corio::task<> {
    co_await corio::sleep(5s);
    flag = true;
  }(done));
  EXPECT_EQ(loop.pending_task_count(), 1u);
  loop.call_later(10s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_TRUE(done);
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(Task, closing_a_loop_destroys_the_frames_of_its_pending_tasks_and_reports_them) {
  counted::reset();
  handler_log log;
  bool cleaned_up = false;
  bool body_ran = false;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    log.install(loop);
    loop.create_task(sleep_forever(cleaned_up), corio::task_options{"sleeper"});
    loop.create_task(counted_frame(counted(1), body_ran, std::chrono::hours(1)), corio::task_options{"counted"});
    corio::future<int> never = loop.create_future<int>();
    loop.create_task([](corio::future<int> f, counted) -> corio::task<int> { co_return co_await f; }(never, counted(2)),
                     corio::task_options{"waiter"});
    corio::testing::run_briefly(loop, 2);
    loop.create_task(answer(), corio::task_options{"never-started"});
    EXPECT_EQ(loop.pending_task_count(), 4u);
    EXPECT_EQ(counted::alive(), 3u);
    loop.close();
    EXPECT_EQ(loop.pending_task_count(), 0u);
  }
  EXPECT_TRUE(cleaned_up) << "RAII locals of a suspended frame run when the loop lets it go";
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log.count("Task was destroyed but it is pending!"), 4u);
  std::vector<std::string> names;
  for (const auto& c : log.seen) names.push_back(c.task);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"counted", "never-started", "sleeper", "waiter"}));
}

TEST(Task, destroying_a_loop_with_pending_tasks_destroys_their_frames) {
  counted::reset();
  int reports = 0;
  bool cleaned_up = false;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context& c) {
      reports += c.message == "Task was destroyed but it is pending!";
    });
    loop.create_task(sleep_forever(cleaned_up));
    corio::testing::run_briefly(loop);
  }
  EXPECT_TRUE(cleaned_up);
  EXPECT_EQ(reports, 1);
}

TEST(Task, a_task_awaiting_another_pending_task_is_torn_down_cleanly_at_close) {
  handler_log log;
  bool inner_cleaned = false;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    log.install(loop);
    corio::task<> inner = loop.create_task(sleep_forever(inner_cleaned), corio::task_options{"inner"});
    loop.create_task([](corio::task<> t) -> corio::task<> { co_await t; }(inner), corio::task_options{"outer"});
    inner = corio::task<>();
    corio::testing::run_briefly(loop, 2);
  }
  EXPECT_TRUE(inner_cleaned);
  EXPECT_EQ(log.count("Task was destroyed but it is pending!"), 2u);
}

TEST(Task, a_pending_task_the_user_still_holds_is_reported_when_the_last_handle_goes) {
  handler_log log;
  bool cleaned_up = false;
  corio::event_loop loop(corio::testing::virtual_time());
  log.install(loop);
  corio::task<> t = loop.create_task(sleep_forever(cleaned_up), corio::task_options{"held"});
  corio::testing::run_briefly(loop);
  loop.close();
  EXPECT_FALSE(cleaned_up) << "the user's handle keeps the frame";
  EXPECT_FALSE(t.done());
  t = corio::task<>();
  EXPECT_TRUE(cleaned_up);
  ASSERT_EQ(log.count("Task was destroyed but it is pending!"), 1u);
  EXPECT_EQ(log.seen[0].task, "held");
}

// -- "exception was never retrieved" -------------------------------------------------

TEST(Task, an_exception_never_retrieved_is_reported_once_through_the_handler) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  loop.create_task(fail_with("nobody looks"), corio::task_options{"lonely"});
  loop.call_later(1s, [&] { loop.stop(); });
  loop.run_forever();
  ASSERT_EQ(log.seen.size(), 1u);
  EXPECT_EQ(log.seen[0].message, "Task exception was never retrieved");
  EXPECT_EQ(log.seen[0].task, "lonely");
  try {
    std::rethrow_exception(log.seen[0].exception);
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "nobody looks");
  }
}

TEST(Task, an_unretrieved_exception_is_reported_when_the_last_handle_goes) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  corio::task<int> t = loop.create_task(fail_with("later"));
  corio::task<int> copy = t;
  loop.call_later(1s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(log.seen.empty()) << "still held: someone may yet look";
  t = corio::task<int>();
  EXPECT_TRUE(log.seen.empty());
  copy = corio::task<int>();
  EXPECT_EQ(log.count("Task exception was never retrieved"), 1u);
  EXPECT_EQ(log.seen.size(), 1u);
}

TEST(Task, a_retrieved_exception_is_not_reported) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  {
    corio::task<int> a = loop.create_task(fail_with("a"));
    corio::task<int> b = loop.create_task(fail_with("b"));
    corio::task<int> c = loop.create_task(fail_with("c"));
    loop.call_later(1s, [&] { loop.stop(); });
    loop.run_forever();
    EXPECT_THROW(a.result(), std::runtime_error);
    EXPECT_TRUE(b.exception());
    EXPECT_THROW(loop.run_until_complete([](corio::task<int> t) -> corio::task<int> { co_return co_await t; }(c)),
                 std::runtime_error);
  }
  EXPECT_TRUE(log.seen.empty());
}

TEST(Task, a_cancelled_task_is_not_reported) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  bool cleaned = false;
  corio::task<> t = loop.create_task(sleep_forever(cleaned));
  corio::testing::run_briefly(loop);
  t.cancel();
  t = corio::task<>();
  corio::testing::run_briefly(loop, 2);
  EXPECT_TRUE(cleaned);
  EXPECT_TRUE(log.seen.empty());
}

// -- current_task, all_tasks, names --------------------------------------------------

TEST(Task, current_task_is_the_task_whose_step_runs) {
  EXPECT_THROW(corio::current_task(), std::runtime_error);
  corio::event_loop loop(corio::testing::virtual_time());
  bool empty_in_callback = false;
  loop.call_soon([&] { empty_in_callback = !corio::current_task(); });
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(empty_in_callback);
  corio::task<bool> t;
  t = loop.create_task([](corio::task<bool>& me) -> corio::task<bool> {
    const bool before = corio::current_task() == me;
    co_await corio::sleep(1s);
    co_return before && corio::current_task() == me;
  }(t));
  EXPECT_TRUE(loop.run_until_complete(t));
}

TEST(Task, all_tasks_lists_the_pending_tasks_of_a_loop) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(corio::all_tasks(), std::runtime_error);
  corio::task<int> a = loop.create_task(answer_later(1s, 1));
  corio::task<int> b = loop.create_task(answer_later(2s, 2));
  EXPECT_EQ(corio::all_tasks(loop).size(), 2u);
  loop.run_until_complete(a);
  std::vector<corio::any_task> left = corio::all_tasks(loop);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(left[0] == b);
  std::size_t inside = loop.run_until_complete([]() -> corio::task<std::size_t> { co_return corio::all_tasks().size(); }());
  EXPECT_EQ(inside, 2u) << "b and the task asking";
  loop.run_until_complete(b);
  EXPECT_TRUE(corio::all_tasks(loop).empty());
}

TEST(Task, default_names_are_distinct_task_numbers) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> a = loop.create_task(answer());
  corio::task<int> b = loop.create_task(answer());
  EXPECT_EQ(a.get_name().rfind("Task-", 0), 0u) << a.get_name();
  EXPECT_EQ(b.get_name().rfind("Task-", 0), 0u) << b.get_name();
  EXPECT_NE(a.get_name(), b.get_name());
  loop.run_until_complete(b);
}

TEST(Task, names_can_be_given_and_changed) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(answer(), corio::task_options{"first"});
  EXPECT_EQ(t.get_name(), "first");
  t.set_name("second");
  EXPECT_EQ(t.get_name(), "second");
  loop.run_until_complete([]() -> corio::task<> {
    corio::task<int> u = corio::create_task(answer(), std::string("by-string"));
    EXPECT_EQ(u.get_name(), "by-string");
    co_await u;
  }());
  loop.run_until_complete(t);
}

TEST(Task, a_task_factory_sees_every_task_and_may_rename_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  int seen = 0;
  loop.set_task_factory([&](corio::event_loop& l, corio::any_task& t, corio::task_options& o) {
    EXPECT_EQ(&l, &loop);
    EXPECT_TRUE(t);
    ++seen;
    o.name = "factory-" + (o.name.empty() ? std::string("anon") : o.name);
  });
  EXPECT_TRUE(static_cast<bool>(loop.get_task_factory()));
  corio::task<int> a = loop.create_task(answer());
  corio::task<int> b = loop.create_task(answer(), corio::task_options{"b"});
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(a.get_name(), "factory-anon");
  EXPECT_EQ(b.get_name(), "factory-b");
  loop.set_task_factory(nullptr);
  EXPECT_FALSE(static_cast<bool>(loop.get_task_factory()));
  corio::task<int> c = loop.create_task(answer(), corio::task_options{"c"});
  EXPECT_EQ(c.get_name(), "c");
  loop.run_until_complete(c);
}

TEST(Task, a_task_factory_that_replaces_itself_keeps_its_captures_until_it_returns) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  std::size_t alive_inside = 0;
  loop.set_task_factory([&, c = counted()](corio::event_loop& l, corio::any_task&, corio::task_options& o) {
    l.set_task_factory(nullptr);
    alive_inside = counted::alive();
    o.name = "renamed";
  });
  corio::task<int> t = loop.create_task(answer());
  EXPECT_EQ(alive_inside, 1u) << "the running factory's capture was destroyed under it";
  EXPECT_EQ(t.get_name(), "renamed");
  loop.run_until_complete(t);
  EXPECT_EQ(counted::alive(), 0u);
}

// -- cancellation ----------------------------------------------------------------------

TEST(Task, cancel_a_sleeping_task_with_a_message) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cleaned = false;
  corio::task<> t = loop.create_task(sleep_forever(cleaned));
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.cancel("shutdown"));
  EXPECT_EQ(t.cancelling(), 1u);
  EXPECT_FALSE(t.done()) << "the cancellation is delivered by the next step";
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(cleaned);
  EXPECT_EQ(cancel_message_of(t), "shutdown");
  EXPECT_THROW(t.result(), corio::cancelled_error);
  EXPECT_FALSE(t.cancel()) << "a done task cannot be cancelled";
  EXPECT_EQ(loop.time().time_since_epoch(), 0s) << "the sleep's timer went with the cancellation";
}

TEST(Task, a_task_cancelled_before_its_first_step_never_runs_its_body) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  corio::task<> t = loop.create_task(set_flag(ran));
  t.cancel();
  corio::testing::run_briefly(loop);
  EXPECT_FALSE(ran);
  EXPECT_TRUE(t.cancelled());
}

TEST(Task, uncancel_withdraws_a_request) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(answer_later(1s, 1));
  EXPECT_EQ(t.uncancel(), 0u) << "nothing to withdraw";
  t.cancel();
  t.cancel();
  EXPECT_EQ(t.cancelling(), 2u);
  EXPECT_EQ(t.uncancel(), 1u);
  EXPECT_EQ(t.cancelling(), 1u);
  corio::testing::run_briefly(loop, 3);
  EXPECT_TRUE(t.cancelled());
}

TEST(Task, a_task_may_catch_its_cancellation_and_carry_on) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task([]() -> corio::task<int> {
    bool cancelled = false;
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
      cancelled = true;
    }
    if (!cancelled) co_return 0;
    co_await corio::sleep(1s);  // cleanup that awaits
    co_return 7;
  }());
  corio::testing::run_briefly(loop);
  t.cancel();
  EXPECT_EQ(loop.run_until_complete(t), 7);
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(t.cancelling(), 1u) << "swallowing does not withdraw the request";
}

TEST(Task, cancel_reaches_the_innermost_inline_await) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cleaned = false;
  corio::task<> t = loop.create_task([](bool& c) -> corio::task<> { co_await sleep_forever(c); }(cleaned));
  corio::testing::run_briefly(loop);
  t.cancel();
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(cleaned);
}

TEST(Task, cancelling_a_task_cancels_the_task_it_awaits) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cleaned = false;
  corio::task<> inner = loop.create_task(sleep_forever(cleaned));
  corio::task<> outer = loop.create_task([](corio::task<> t) -> corio::task<> { co_await t; }(inner));
  corio::testing::run_briefly(loop, 2);
  outer.cancel("both");
  corio::testing::run_briefly(loop, 3);
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(outer.cancelled());
  EXPECT_EQ(cancel_message_of(inner), "both");
}

TEST(Task, a_keyboard_interrupt_in_a_task_escapes_the_loop) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> t = loop.create_task([]() -> corio::task<> {
    co_await corio::sleep(0s);
    throw corio::keyboard_interrupt();
  }());
  EXPECT_THROW(loop.run_until_complete(t), corio::keyboard_interrupt);
  EXPECT_TRUE(t.done());
}

// -- done callbacks and loops ----------------------------------------------------------

TEST(Task, done_callbacks_see_the_finished_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(answer_later(1s, 3));
  bool saw_done = false;
  bool removed_ran = false;
  t.add_done_callback([&](corio::any_task& self) { saw_done = self.done() && self == t; });
  auto id = t.add_done_callback([&](corio::any_task&) { removed_ran = true; });
  EXPECT_EQ(t.remove_done_callback(id), 1u);
  loop.run_until_complete(t);
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(saw_done);
  EXPECT_FALSE(removed_ran);
}

TEST(Task, a_pending_task_with_a_done_callback_is_still_torn_down_at_close) {
  counted::reset();
  handler_log log;
  bool cleaned = false;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    log.install(loop);
    corio::task<> t = loop.create_task(sleep_forever(cleaned), corio::task_options{"with-callback"});
    t.add_done_callback([c = counted()](corio::any_task&) {});
    corio::testing::run_briefly(loop);
  }
  EXPECT_TRUE(cleaned) << "a registered done callback must not keep the frame alive forever";
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log.count("Task was destroyed but it is pending!"), 1u);
}

TEST(Task, get_loop_is_the_loop_that_runs_it) {
  corio::task<int> t;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    t = loop.create_task(answer());
    EXPECT_EQ(&t.get_loop(), &loop);
    loop.run_until_complete(t);
  }
  EXPECT_THROW(t.get_loop(), std::runtime_error);
  EXPECT_EQ(t.result(), 42);
}

// -- sleep -------------------------------------------------------------------------------

TEST(Sleep, advances_virtual_time_by_exactly_the_delay) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> { co_await corio::sleep(std::chrono::minutes(10)); }());
  EXPECT_EQ(loop.time().time_since_epoch(), std::chrono::minutes(10));
}

TEST(Sleep, with_a_value_returns_it_afterwards) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::unique_ptr<int> p = loop.run_until_complete([]() -> corio::task<std::unique_ptr<int>> {
    co_return co_await corio::sleep(1s, std::make_unique<int>(4));
  }());
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 4);
}

TEST(Sleep, sleep_zero_yields_to_the_loop_exactly_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> order;
  loop.create_task([](std::vector<std::string>& o) -> corio::task<> {
    o.push_back("a1");
    co_await corio::sleep(0s);
    o.push_back("a2");
  }(order));
  loop.create_task([](std::vector<std::string>& o) -> corio::task<> {
    o.push_back("b1");
    co_return;
  }(order));
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1"}));
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "a2"}));
}

TEST(Sleep, a_negative_delay_is_a_yield) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> { co_await corio::sleep(-5s); }());
  EXPECT_EQ(loop.time().time_since_epoch(), 0s);
}

TEST(Sleep, sleepers_wake_in_deadline_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> order;
  auto sleeper = [](std::vector<int>& o, int ms) -> corio::task<> {
    co_await corio::sleep(std::chrono::milliseconds(ms));
    o.push_back(ms);
  };
  for (int ms : {30, 10, 20, 10, 0}) loop.create_task(sleeper(order, ms));
  loop.call_later(1s, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(order, (std::vector<int>{0, 10, 10, 20, 30}));
}

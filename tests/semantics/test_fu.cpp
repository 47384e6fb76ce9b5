// Semantic tests for docs/semantics.md section 2: futures (FU-01..FU-18).
//
// Rules with nothing observable left in C++:
//   FU-05 (exception class / StopIteration parts): set_exception takes an
//          exception object or a std::exception_ptr, never a class, and corio
//          has no StopIteration equivalent, so there is nothing to reject but
//          a null exception_ptr (tested below).
//   FU-10: done callbacks running in a contextvars Context belong to the CV
//          section (contextvars are a later issue).
//   FU-11 (fn equality part): C++ has no function equality, so
//          remove_done_callback takes the id add_done_callback returned and
//          removes that one registration (a documented departure, tested
//          below); list mutation through __eq__ side effects cannot happen.
//   FU-15, FU-16: wrap_future mirrors a concurrent.futures.Future, which is
//          the CF / TH sections (a later issue). The part that needs no
//          concurrent future ("wrap_future of an asyncio future returns it
//          unchanged") is ensure_future(future), tested under TK-01.
#include <corio/corio.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "el_helpers.hpp"

using namespace std::chrono_literals;
using corio::event_loop;
using corio::testing::run_briefly;
using corio::testing::virtual_time;

namespace {

// Shared with the EL tests.
using elh::error_log;
using elh::what_of;

// The message of the cancelled_error `fn` throws; fails the test otherwise.
template <class F>
std::string cancel_message_of(F&& fn) {
  try {
    fn();
  } catch (const corio::cancelled_error& e) {
    return e.what();
  } catch (...) {
    ADD_FAILURE() << "threw something other than cancelled_error";
    return "<other>";
  }
  ADD_FAILURE() << "did not throw";
  return "<none>";
}

void run_for(event_loop& loop, corio::duration d) {
  loop.call_later(d, [&loop] { loop.stop(); });
  loop.run_forever();
}

}  // namespace

// -- FU-01: states ------------------------------------------------------------------

TEST(FU, FU_01_a_new_future_is_pending) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.cancelled());
}

TEST(FU, FU_01_each_terminal_state_is_done_and_only_cancel_is_cancelled) {
  event_loop loop(virtual_time());
  auto with_result = loop.create_future<int>();
  with_result.set_result(1);
  auto with_exception = loop.create_future<int>();
  with_exception.set_exception(std::runtime_error("x"));
  auto cancelled = loop.create_future<int>();
  cancelled.cancel();

  EXPECT_TRUE(with_result.done());
  EXPECT_FALSE(with_result.cancelled());
  EXPECT_TRUE(with_exception.done());
  EXPECT_FALSE(with_exception.cancelled());
  EXPECT_TRUE(cancelled.done());
  EXPECT_TRUE(cancelled.cancelled());
  EXPECT_TRUE(with_exception.exception() != nullptr);
}

TEST(FU, FU_01_copies_share_one_state) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  auto g = f;
  g.set_result(3);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 3);
  EXPECT_TRUE(f == g);
}

// -- FU-02: result() ------------------------------------------------------------------

TEST(FU, FU_02_result_of_a_pending_future_raises_invalid_state) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  EXPECT_THROW(f.result(), corio::invalid_state_error);
  auto v = loop.create_future<>();
  EXPECT_THROW(v.result(), corio::invalid_state_error);
}

TEST(FU, FU_02_result_returns_the_value) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<std::string>();
  f.set_result("value");
  EXPECT_EQ(f.result(), "value");
  EXPECT_EQ(f.result(), "value") << "result() can be asked again";
}

TEST(FU, FU_02_result_of_a_cancelled_future_raises_cancelled_error_with_the_message) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.cancel("the reason");
  EXPECT_EQ(cancel_message_of([&] { f.result(); }), "the reason");
}

TEST(FU, FU_02_result_rethrows_the_same_exception_object_each_time) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_exception(std::runtime_error("stored"));
  const void* first = nullptr;
  const void* second = nullptr;
  try {
    f.result();
  } catch (const std::runtime_error& e) {
    first = &e;
    EXPECT_STREQ(e.what(), "stored");
  }
  try {
    f.result();
  } catch (const std::runtime_error& e) {
    second = &e;
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first, second);
}

// -- FU-03: exception() ------------------------------------------------------------

TEST(FU, FU_03_exception_of_a_pending_future_raises_invalid_state) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  EXPECT_THROW(f.exception(), corio::invalid_state_error);
}

TEST(FU, FU_03_exception_of_a_cancelled_future_raises_cancelled_error) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.cancel("why");
  EXPECT_EQ(cancel_message_of([&] { f.exception(); }), "why");
}

TEST(FU, FU_03_exception_is_null_after_a_result_and_the_exception_otherwise) {
  event_loop loop(virtual_time());
  auto ok = loop.create_future<int>();
  ok.set_result(1);
  EXPECT_TRUE(ok.exception() == nullptr);

  auto bad = loop.create_future<int>();
  auto stored = std::make_exception_ptr(std::logic_error("kept"));
  bad.set_exception(stored);
  EXPECT_TRUE(bad.exception() == stored);
  EXPECT_EQ(what_of(bad.exception()), "kept");
}

// -- FU-04: the first outcome stays --------------------------------------------

TEST(FU, FU_04_setting_a_done_future_raises_invalid_state_and_keeps_the_first_outcome) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_result(1);
  EXPECT_THROW(f.set_result(2), corio::invalid_state_error);
  EXPECT_THROW(f.set_exception(std::runtime_error("late")), corio::invalid_state_error);
  EXPECT_EQ(f.result(), 1);

  auto g = loop.create_future<int>();
  g.set_exception(std::runtime_error("first"));
  EXPECT_THROW(g.set_result(2), corio::invalid_state_error);
  EXPECT_THROW(g.set_exception(std::runtime_error("second")), corio::invalid_state_error);
  EXPECT_EQ(what_of(g.exception()), "first");
}

TEST(FU, FU_04_setting_a_cancelled_future_raises_invalid_state) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.cancel();
  EXPECT_THROW(f.set_result(2), corio::invalid_state_error);
  EXPECT_THROW(f.set_exception(std::runtime_error("late")), corio::invalid_state_error);
  EXPECT_TRUE(f.cancelled());
}

TEST(FU, FU_04_invalid_state_error_is_a_std_exception) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<>();
  f.set_result();
  EXPECT_THROW(f.set_result(), std::exception);
}

// -- FU-05: set_exception arguments ---------------------------------------------

TEST(FU, FU_05_set_exception_rejects_a_null_exception_ptr) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  EXPECT_THROW(f.set_exception(std::exception_ptr()), std::invalid_argument);
  EXPECT_FALSE(f.done()) << "a rejected set_exception changes nothing";
}

TEST(FU, FU_05_set_exception_with_an_exception_object_stores_that_object) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_exception(std::out_of_range("range"));
  EXPECT_THROW(f.result(), std::out_of_range);
  EXPECT_EQ(what_of(f.exception()), "range");
}

// -- FU-06: cancel() ----------------------------------------------------------------

TEST(FU, FU_06_cancel_of_a_pending_future_returns_true_and_schedules_callbacks) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  int calls = 0;
  f.add_done_callback([&](corio::future<int>& self) {
    ++calls;
    EXPECT_TRUE(self.cancelled());
  });
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_EQ(calls, 0);
  run_briefly(loop);
  EXPECT_EQ(calls, 1);
}

TEST(FU, FU_06_cancel_of_a_done_future_returns_false_and_changes_nothing) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_result(5);
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 5);

  auto g = loop.create_future<int>();
  g.set_exception(std::runtime_error("e"));
  EXPECT_FALSE(g.cancel());
  EXPECT_EQ(what_of(g.exception()), "e");

  auto h = loop.create_future<int>();
  EXPECT_TRUE(h.cancel("first"));
  EXPECT_FALSE(h.cancel("second"));
  EXPECT_EQ(cancel_message_of([&] { h.result(); }), "first");
}

// -- FU-07: the cancel message -------------------------------------------------------

TEST(FU, FU_07_the_cancel_message_is_carried_by_cancelled_error) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.cancel("my message");
  EXPECT_EQ(cancel_message_of([&] { f.result(); }), "my message");
  EXPECT_EQ(cancel_message_of([&] { f.exception(); }), "my message");
}

TEST(FU, FU_07_without_a_message_cancelled_error_has_an_empty_one) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.cancel();
  EXPECT_EQ(cancel_message_of([&] { f.result(); }), "");
}

namespace {
corio::task<std::string> await_and_report(corio::future<int> f) {
  try {
    co_await f;
  } catch (const corio::cancelled_error& e) {
    co_return e.what();
  }
  co_return "not cancelled";
}
}  // namespace

TEST(FU, FU_07_an_awaiting_task_sees_the_cancel_message) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  auto t = loop.create_task(await_and_report(f));
  run_briefly(loop);
  f.cancel("from outside");
  EXPECT_EQ(loop.run_until_complete(t), "from outside");
}

TEST(FU, FU_07_cancelled_error_is_not_a_std_exception) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.cancel("m");
  bool caught_as_std = false;
  bool caught_as_base = false;
  try {
    f.result();
  } catch (const std::exception&) {
    caught_as_std = true;
  } catch (const corio::base_exception&) {
    caught_as_base = true;
  }
  EXPECT_FALSE(caught_as_std);
  EXPECT_TRUE(caught_as_base);
}

// -- FU-08: done callbacks go through call_soon -------------------------------------

TEST(FU, FU_08_set_result_schedules_callbacks_in_registration_order_not_inline) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<std::string> order;
  loop.call_soon([&] { order.push_back("before"); });
  f.add_done_callback([&](corio::future<int>& self) { order.push_back("cb1:" + std::to_string(self.result())); });
  f.add_done_callback([&](corio::future<int>& self) { order.push_back("cb2:" + std::to_string(self.result())); });
  f.set_result(9);
  EXPECT_TRUE(order.empty()) << "no callback runs inside set_result";
  loop.call_soon([&] { order.push_back("after"); });
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"before", "cb1:9", "cb2:9", "after"}));
}

TEST(FU, FU_08_set_exception_schedules_callbacks_not_inline) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<std::string> seen;
  f.add_done_callback([&](corio::future<int>& self) { seen.push_back("1:" + what_of(self.exception())); });
  f.add_done_callback([&](corio::future<int>& self) { seen.push_back("2:" + what_of(self.exception())); });
  f.set_exception(std::runtime_error("err"));
  EXPECT_TRUE(seen.empty());
  run_briefly(loop);
  EXPECT_EQ(seen, (std::vector<std::string>{"1:err", "2:err"}));
}

TEST(FU, FU_08_each_callback_runs_once) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<>();
  int calls = 0;
  f.add_done_callback([&](corio::future<>&) { ++calls; });
  f.set_result();
  run_briefly(loop, 3);
  EXPECT_EQ(calls, 1);
}

TEST(FU, FU_08_an_exception_in_a_done_callback_goes_to_the_handler) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  auto f = loop.create_future<int>();
  bool second_ran = false;
  f.add_done_callback([](corio::future<int>&) { throw std::runtime_error("cb failed"); });
  f.add_done_callback([&](corio::future<int>&) { second_ran = true; });
  f.set_result(1);
  run_briefly(loop);
  EXPECT_TRUE(second_ran);
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(what_of(log.items[0].exception), "cb failed");
}

// -- FU-09: callbacks added to a done future ---------------------------------------

TEST(FU, FU_09_add_done_callback_on_a_done_future_schedules_it_with_call_soon) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_result(4);
  run_briefly(loop);
  std::vector<std::string> order;
  loop.call_soon([&] { order.push_back("a"); });
  f.add_done_callback([&](corio::future<int>& self) { order.push_back("cb" + std::to_string(self.result())); });
  EXPECT_TRUE(order.empty()) << "never inline";
  loop.call_soon([&] { order.push_back("b"); });
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "cb4", "b"}));
}

TEST(FU, FU_09_a_callback_added_from_a_done_callback_runs_in_a_later_iteration) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<std::string> order;
  f.add_done_callback([&](corio::future<int>& self) {
    order.push_back("outer");
    self.add_done_callback([&](corio::future<int>&) { order.push_back("inner"); });
  });
  f.set_result(1);
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"outer"}));
  run_briefly(loop);
  EXPECT_EQ(order, (std::vector<std::string>{"outer", "inner"}));
}

// -- FU-11: remove_done_callback -------------------------------------------------------

TEST(FU, FU_11_remove_done_callback_removes_the_registration_and_returns_the_count) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<int> ran;
  auto id1 = f.add_done_callback([&](corio::future<int>&) { ran.push_back(1); });
  auto id2 = f.add_done_callback([&](corio::future<int>&) { ran.push_back(2); });
  auto id3 = f.add_done_callback([&](corio::future<int>&) { ran.push_back(3); });
  EXPECT_NE(id1, id2);
  EXPECT_NE(id2, id3);
  EXPECT_EQ(f.remove_done_callback(id2), 1u);
  EXPECT_EQ(f.remove_done_callback(id2), 0u) << "already removed";
  f.set_result(0);
  run_briefly(loop);
  EXPECT_EQ(ran, (std::vector<int>{1, 3}));
}

TEST(FU, FU_11_each_registration_of_the_same_callable_has_its_own_id) {
  // Departure: C++ has no function equality, so removal is per registration.
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  int calls = 0;
  auto cb = [&](corio::future<int>&) { ++calls; };
  auto id1 = f.add_done_callback(cb);
  f.add_done_callback(cb);
  EXPECT_EQ(f.remove_done_callback(id1), 1u);
  f.set_result(0);
  run_briefly(loop);
  EXPECT_EQ(calls, 1);
}

TEST(FU, FU_11_remove_done_callback_of_an_unknown_id_returns_zero) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  auto g = loop.create_future<int>();
  auto id = g.add_done_callback([](corio::future<int>&) {});
  EXPECT_EQ(f.remove_done_callback(id), 0u) << "an id of another future";
  EXPECT_EQ(f.remove_done_callback(12345), 0u);
  g.set_result(1);
  run_briefly(loop);
}

TEST(FU, FU_11_removal_after_scheduling_neither_skips_nor_duplicates_callbacks) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<std::string> ran;
  std::uintptr_t id2 = 0;
  std::uintptr_t id3 = 0;
  std::size_t removed = 99;
  f.add_done_callback([&](corio::future<int>& self) {
    ran.push_back("mut");
    removed = self.remove_done_callback(id2) + self.remove_done_callback(id3);
  });
  id2 = f.add_done_callback([&](corio::future<int>&) { ran.push_back("cb2"); });
  id3 = f.add_done_callback([&](corio::future<int>&) { ran.push_back("cb3"); });
  f.set_result(1);
  run_briefly(loop, 3);
  EXPECT_EQ(removed, 0u) << "callbacks already scheduled are no longer registered";
  EXPECT_EQ(ran, (std::vector<std::string>{"mut", "cb2", "cb3"}));
}

TEST(FU, FU_11_removing_every_callback_leaves_nothing_to_run) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  int calls = 0;
  std::vector<std::uintptr_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(f.add_done_callback([&](corio::future<int>&) { ++calls; }));
  std::size_t removed = 0;
  for (auto id : ids) removed += f.remove_done_callback(id);
  EXPECT_EQ(removed, 5u);
  f.set_result(1);
  run_briefly(loop, 2);
  EXPECT_EQ(calls, 0);
}

// -- FU-12: awaiting a future ---------------------------------------------------------

namespace {
corio::task<> set_flag_task(bool* flag) {
  *flag = true;
  co_return;
}

// Awaits an already-done future and reports whether another task ran meanwhile.
corio::task<int> await_done_future(corio::future<int> f, bool* other_ran, bool* other_ran_before_resume) {
  corio::create_task(set_flag_task(other_ran));
  const int v = co_await f;
  *other_ran_before_resume = *other_ran;
  co_return v;
}

corio::task<int> await_future(corio::future<int> f) { co_return co_await f; }
}  // namespace

TEST(FU, FU_12_awaiting_a_done_future_returns_without_yielding) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_result(8);
  bool other_ran = false;
  bool other_ran_before_resume = true;
  EXPECT_EQ(loop.run_until_complete(await_done_future(f, &other_ran, &other_ran_before_resume)), 8);
  EXPECT_FALSE(other_ran_before_resume);
}

TEST(FU, FU_12_awaiting_a_done_future_with_an_exception_raises_it_at_once) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  f.set_exception(std::runtime_error("ready error"));
  EXPECT_THROW(loop.run_until_complete(await_future(f)), std::runtime_error);
}

TEST(FU, FU_12_awaiting_a_pending_future_suspends_until_it_is_done) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  auto t = loop.create_task(await_future(f));
  run_briefly(loop, 3);
  EXPECT_FALSE(t.done());
  loop.call_later(1s, [f]() mutable { f.set_result(21); });
  EXPECT_EQ(loop.run_until_complete(t), 21);
  EXPECT_EQ(loop.time(), corio::time_point(1s));
}

TEST(FU, FU_12_many_tasks_may_await_the_same_future) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  std::vector<corio::task<int>> ts;
  for (int i = 0; i < 5; ++i) ts.push_back(loop.create_task(await_future(f)));
  run_briefly(loop);
  for (auto& t : ts) EXPECT_FALSE(t.done());
  f.set_result(6);
  run_briefly(loop);
  for (auto& t : ts) {
    ASSERT_TRUE(t.done());
    EXPECT_EQ(t.result(), 6);
  }
}

// -- FU-13: a future of another loop --------------------------------------------------

TEST(FU, FU_13_a_task_awaiting_a_future_of_another_loop_fails_with_runtime_error) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  auto foreign = other.create_future<int>();
  auto t = loop.create_task(await_future(foreign));
  EXPECT_THROW(loop.run_until_complete(t), std::runtime_error);
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_FALSE(foreign.done()) << "the foreign future is left alone";
}

// -- FU-14: exception never retrieved -------------------------------------------------

TEST(FU, FU_14_an_unretrieved_exception_is_reported_when_the_future_is_destroyed) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  {
    auto f = loop.create_future<int>();
    f.set_exception(std::runtime_error("nobody looked"));
    auto copy = f;
  }
  ASSERT_EQ(log.items.size(), 1u);
  EXPECT_EQ(log.items[0].message, "Future exception was never retrieved");
  EXPECT_EQ(what_of(log.items[0].exception), "nobody looked");
  EXPECT_FALSE(log.items[0].future.empty());
}

TEST(FU, FU_14_the_report_waits_for_the_last_reference) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  auto keep = std::make_unique<corio::future<int>>();
  {
    auto f = loop.create_future<int>();
    f.set_exception(std::runtime_error("later"));
    *keep = f;
  }
  EXPECT_TRUE(log.items.empty());
  keep.reset();
  EXPECT_EQ(log.items.size(), 1u);
}

TEST(FU, FU_14_retrieval_by_result_or_exception_suppresses_the_report) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  {
    auto f = loop.create_future<int>();
    f.set_exception(std::runtime_error("seen by result"));
    EXPECT_THROW(f.result(), std::runtime_error);
  }
  {
    auto f = loop.create_future<int>();
    f.set_exception(std::runtime_error("seen by exception"));
    EXPECT_TRUE(f.exception() != nullptr);
  }
  EXPECT_TRUE(log.items.empty());
}

TEST(FU, FU_14_retrieval_by_await_suppresses_the_report) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  {
    auto f = loop.create_future<int>();
    auto t = loop.create_task(await_future(f));
    run_briefly(loop);
    f.set_exception(std::runtime_error("awaited"));
    EXPECT_THROW(loop.run_until_complete(t), std::runtime_error);
  }
  EXPECT_TRUE(log.items.empty());
}

TEST(FU, FU_14_results_and_cancellations_are_never_reported) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  {
    auto ok = loop.create_future<int>();
    ok.set_result(1);
    auto cancelled = loop.create_future<int>();
    cancelled.cancel("c");
    auto pending = loop.create_future<int>();
  }
  EXPECT_TRUE(log.items.empty());
}

TEST(FU, FU_14_a_throwing_handler_does_not_escape_the_destructor) {
  event_loop loop(virtual_time());
  int calls = 0;
  loop.set_exception_handler([&](event_loop&, const corio::exception_context&) {
    ++calls;
    throw std::runtime_error("handler fails");
  });
  testing::internal::CaptureStderr();
  {
    auto f = loop.create_future<int>();
    f.set_exception(std::runtime_error("unretrieved"));
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(err.find("handler fails"), std::string::npos) << err;
}

TEST(FU, FU_14_a_future_outliving_its_loop_reports_without_crashing) {
  auto loop = std::make_unique<event_loop>(virtual_time());
  auto f = loop->create_future<int>();
  f.set_exception(std::runtime_error("orphan"));
  loop.reset();
  testing::internal::CaptureStderr();
  f = corio::future<int>();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("never retrieved"), std::string::npos) << err;
}

// -- FU-17: internal completion of a cancelled wait is silent ----------------------

namespace {
corio::task<int> sleep_then(std::chrono::milliseconds d, int v) { co_return co_await corio::sleep(d, v); }
}  // namespace

TEST(FU, FU_17_a_timer_of_a_cancelled_sleep_completes_nothing_and_reports_nothing) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  auto t = loop.create_task(sleep_then(1000ms, 5));
  loop.call_later(500ms, [t]() mutable { t.cancel("stop"); });
  run_for(loop, 3s);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(cancel_message_of([&] { t.result(); }), "stop");
  EXPECT_TRUE(log.items.empty());
}

TEST(FU, FU_17_a_cancel_racing_the_completion_of_the_awaited_future_reports_nothing) {
  event_loop loop(virtual_time());
  error_log log;
  log.attach(loop);
  auto f = loop.create_future<int>();
  auto t = loop.create_task(await_future(f));
  run_briefly(loop);
  // The future completes and the task is cancelled before the task resumes:
  // the cancel must not try to complete the done future again.
  f.set_result(1);
  EXPECT_TRUE(t.cancel());
  run_briefly(loop, 2);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(log.items.empty());
  EXPECT_EQ(f.result(), 1);
}

// -- FU-18: futures come from a loop -------------------------------------------------

namespace {
corio::task<bool> create_future_inside(event_loop* expected) {
  auto f = corio::create_future<int>();
  co_return &f.get_loop() == expected;
}
}  // namespace

TEST(FU, FU_18_create_future_binds_the_future_to_its_loop) {
  event_loop loop(virtual_time());
  auto f = loop.create_future<int>();
  EXPECT_EQ(&f.get_loop(), &loop);
}

TEST(FU, FU_18_the_free_create_future_uses_the_running_loop) {
  event_loop loop(virtual_time());
  EXPECT_TRUE(loop.run_until_complete(create_future_inside(&loop)));
}

TEST(FU, FU_18_there_is_no_implicit_loop_outside_a_running_one) {
  event_loop loop(virtual_time());
  corio::set_event_loop(&loop);
  EXPECT_THROW(corio::create_future<int>(), std::runtime_error);
  corio::set_event_loop(nullptr);
}

TEST(FU, FU_18_a_closed_loop_creates_no_futures) {
  event_loop loop(virtual_time());
  loop.close();
  EXPECT_THROW(loop.create_future<int>(), std::runtime_error);
}

TEST(FU, FU_18_done_callbacks_run_on_the_futures_loop) {
  event_loop loop(virtual_time());
  event_loop other(virtual_time());
  auto f = loop.create_future<int>();
  event_loop* ran_on = nullptr;
  f.add_done_callback([&](corio::future<int>&) { ran_on = &corio::get_running_loop(); });
  f.set_result(1);
  run_briefly(other);
  EXPECT_EQ(ran_on, nullptr);
  run_briefly(loop);
  EXPECT_EQ(ran_on, &loop);
}

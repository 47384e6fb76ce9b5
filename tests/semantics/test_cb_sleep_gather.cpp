// Semantic tests for docs/semantics.md section 5, sleep and gather
// (CB-01..CB-11).
//
// Rules without a runtime test here:
//   CB-11  A non-awaitable argument to gather is a TypeError in Python; in
//          corio gather only accepts corio::task / corio::future /
//          corio::any_task, so the mistake does not compile and nothing can
//          be scheduled or leak at run time.
#include "cb_util.hpp"

#include <corio/gather.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using cbt::cancel_message;
using cbt::now_ms;
using cbt::outcome_of;

namespace {

corio::task<std::string> text_after(corio::duration d, std::string s) {
  co_await corio::sleep(d);
  co_return s;
}

// Returns v after d and records the order in which children finished.
corio::task<int> logged_value(corio::duration d, int v, std::vector<int>& finished) {
  co_await corio::sleep(d);
  finished.push_back(v);
  co_return v;
}

}  // namespace

// -- sleep ------------------------------------------------------------------------

TEST(CB, CB_01_sleep_zero_or_negative_yields_once_so_tasks_interleave_round_robin) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  auto worker = [&](std::string name, corio::duration d) -> corio::task<> {
    for (int i = 0; i < 3; ++i) {
      log.push_back(name + std::to_string(i));
      co_await corio::sleep(d);
    }
  };
  auto a = loop.create_task(worker("A", 0ns));
  auto b = loop.create_task(worker("B", -1ms));  // a negative delay yields the same way
  loop.run_until_complete(b);
  loop.run_until_complete(a);
  EXPECT_EQ(log, (std::vector<std::string>{"A0", "B0", "A1", "B1", "A2", "B2"}));
  EXPECT_EQ(now_ms(loop), 0);  // yielding does not move time
}

TEST(CB, CB_01_sleep_zero_puts_the_task_behind_callbacks_already_scheduled) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  auto body = [&]() -> corio::task<> {
    corio::get_running_loop().call_soon([&] { log.push_back("callback"); });
    co_await corio::sleep(0s);
    log.push_back("task resumed");
  };
  loop.run_until_complete(body());
  EXPECT_EQ(log, (std::vector<std::string>{"callback", "task resumed"}));
}

TEST(CB, CB_02_sleep_with_a_value_returns_it_after_at_least_the_delay) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::int64_t woke_at = -1;
  auto body = [&]() -> corio::task<std::string> {
    std::string r = co_await corio::sleep(25ms, std::string("x"));
    woke_at = now_ms();
    co_await corio::sleep(10ms);
    co_return r;
  };
  EXPECT_EQ(loop.run_until_complete(body()), "x");
  EXPECT_GE(woke_at, 25);
  EXPECT_GE(now_ms(loop), 35);
}

// -- gather -----------------------------------------------------------------------

TEST(CB, CB_03_gather_returns_results_in_argument_order_and_runs_children_concurrently) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> finished;
  std::tuple<int, std::string, std::monostate, int> r{};
  auto body = [&]() -> corio::task<> {
    r = co_await corio::gather(logged_value(30ms, 1, finished), text_after(10ms, "two"), cbt::nap(5ms),
                               logged_value(20ms, 4, finished));
  };
  loop.run_until_complete(body());
  EXPECT_EQ(std::get<0>(r), 1);
  EXPECT_EQ(std::get<1>(r), "two");
  EXPECT_EQ(std::get<3>(r), 4);
  EXPECT_EQ(finished, (std::vector<int>{4, 1}));  // completion order differs
  EXPECT_EQ(now_ms(loop), 30);                    // concurrently, not 65 ms
}

TEST(CB, CB_03_gather_over_a_vector_keeps_argument_order_and_void_children_give_void) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> finished;
  std::vector<int> values;
  int void_children_done = 0;
  auto count_done = [&](corio::duration d) -> corio::task<> {
    co_await corio::sleep(d);
    ++void_children_done;
  };
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> v;
    v.push_back(logged_value(30ms, 1, finished));
    v.push_back(logged_value(10ms, 2, finished));
    v.push_back(logged_value(20ms, 3, finished));
    values = co_await corio::gather(std::move(v));
    std::vector<corio::task<>> voids;
    voids.push_back(count_done(5ms));
    voids.push_back(count_done(1ms));
    co_await corio::gather(std::move(voids));
  };
  loop.run_until_complete(body());
  EXPECT_EQ(values, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(finished, (std::vector<int>{2, 3, 1}));
  EXPECT_EQ(void_children_done, 2);
  EXPECT_EQ(now_ms(loop), 35);
}

TEST(CB, CB_03_empty_gather_is_a_future_already_done_with_an_empty_list) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool done_at_once = false;
  std::size_t size = 99;
  auto body = [&]() -> corio::task<> {
    auto g = corio::gather(std::vector<corio::task<int>>());
    done_at_once = g.done();
    auto r = co_await g;
    size = r.size();
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(done_at_once);
  EXPECT_EQ(size, 0u);
}

TEST(CB, CB_04_the_same_coroutine_passed_twice_runs_once_and_its_result_appears_twice) {
  corio::event_loop loop(corio::testing::virtual_time());
  int runs = 0;
  auto counted = [&]() -> corio::task<int> {
    ++runs;
    co_await corio::sleep(5ms);
    co_return 9;
  };
  std::tuple<int, int> pair{};
  std::vector<int> list;
  int runs_after_tuple = -1;
  auto body = [&]() -> corio::task<> {
    auto c = counted();
    pair = co_await corio::gather(c, c);
    runs_after_tuple = runs;
    auto d = counted();
    std::vector<corio::task<int>> v;
    v.push_back(d);
    v.push_back(d);
    list = co_await corio::gather(std::move(v));
  };
  loop.run_until_complete(body());
  EXPECT_EQ(std::get<0>(pair), 9);
  EXPECT_EQ(std::get<1>(pair), 9);
  EXPECT_EQ(runs_after_tuple, 1);
  EXPECT_EQ(list, (std::vector<int>{9, 9}));
  EXPECT_EQ(runs, 2);
}

TEST(CB, CB_05_the_first_child_error_fails_gather_at_once_and_siblings_keep_running) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  std::string error;
  std::int64_t failed_at = -1;
  bool sibling_cancelled = true;
  int sibling_result = 0;
  auto body = [&]() -> corio::task<> {
    auto good = corio::create_task(cbt::value_after(30ms, 3));
    try {
      co_await corio::gather(cbt::fail_after(10ms, "boom"), good,
                             cbt::sleep_logging_cancel(20ms, log, "unnamed"));
    } catch (const std::runtime_error& e) {
      error = e.what();
      failed_at = now_ms();
    }
    sibling_cancelled = good.cancelled() || good.cancelling() > 0;
    sibling_result = co_await good;
    co_await corio::sleep(10ms);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(error, "boom");
  EXPECT_EQ(failed_at, 10);  // not after the slower siblings
  EXPECT_FALSE(sibling_cancelled);
  EXPECT_EQ(sibling_result, 3);
  // The child we hold no handle to ran on too.
  EXPECT_EQ(log, (std::vector<std::string>{"unnamed done at 20"}));
}

TEST(CB, CB_06_child_errors_after_gather_already_failed_are_not_reported_as_unretrieved) {
  cbt::handler_spy spy;
  corio::event_loop loop(corio::testing::virtual_time());
  spy.install(loop);
  std::string first;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::gather(cbt::fail_after(10ms, "first"), cbt::fail_after(20ms, "second"),
                             cbt::fail_after(20ms, "third"));
    } catch (const std::runtime_error& e) {
      first = e.what();
    }
    co_await corio::sleep(30ms);  // the other children fail after the gather did
  };
  loop.run_until_complete(body());
  EXPECT_EQ(first, "first");
  EXPECT_TRUE(spy.reports.empty()) << spy.reports.front().message;

  // Control: the same handler does hear about a failure nobody retrieved.
  auto lonely = [&]() -> corio::task<> {
    corio::create_task(cbt::fail_after(1ms, "lonely"));
    co_await corio::sleep(5ms);
  };
  loop.run_until_complete(lonely());
  ASSERT_EQ(spy.reports.size(), 1u);
  EXPECT_EQ(cbt::message_of(spy.reports[0].exception), "lonely");
}

TEST(CB, CB_07_gather_settled_puts_errors_and_cancellations_in_place_and_never_fails) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::optional<std::tuple<corio::outcome<int>, corio::outcome<int>, corio::outcome<void>>> r;
  std::int64_t done_at = -1;
  auto body = [&]() -> corio::task<> {
    auto victim = corio::create_task(cbt::nap(1h));
    auto g = corio::gather_settled(cbt::value_after(10ms, 1), cbt::fail_after(5ms, "bad"), victim);
    co_await corio::sleep(1ms);
    victim.cancel("cut");
    r.emplace(co_await g);
    done_at = now_ms();
  };
  loop.run_until_complete(body());
  ASSERT_TRUE(r);
  auto& [ok, bad, cut] = *r;
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok.value(), 1);
  EXPECT_FALSE(bad.has_value());
  EXPECT_FALSE(bad.cancelled());
  EXPECT_EQ(cbt::message_of(bad.exception()), "bad");
  EXPECT_FALSE(cut.has_value());
  EXPECT_TRUE(cut.cancelled());
  EXPECT_EQ(cancel_message(cut.exception()), "cut");
  EXPECT_EQ(done_at, 10);  // waited for every child
}

TEST(CB, CB_07_gather_settled_over_a_vector_returns_one_outcome_per_child) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<corio::outcome<int>> r;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> v;
    v.push_back(cbt::fail_after(3ms, "x"));
    v.push_back(cbt::value_after(2ms, 2));
    r = co_await corio::gather_settled(std::move(v));
  };
  loop.run_until_complete(body());
  ASSERT_EQ(r.size(), 2u);
  EXPECT_FALSE(r[0].has_value());
  EXPECT_THROW(r[0].value(), std::runtime_error);
  ASSERT_TRUE(r[1].has_value());
  EXPECT_EQ(r[1].value(), 2);
}

TEST(CB, CB_08_a_cancelled_child_fails_gather_with_cancelled_error_and_the_rest_continue) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string msg = "<none>";
  std::int64_t failed_at = -1;
  std::uint32_t own_cancelling = 99;
  int other_result = 0;
  auto body = [&]() -> corio::task<> {
    auto victim = corio::create_task(cbt::nap(1h));
    auto other = corio::create_task(cbt::value_after(20ms, 2));
    auto g = corio::gather(victim, other);
    co_await corio::sleep(5ms);
    victim.cancel("child");
    try {
      co_await g;
    } catch (const corio::cancelled_error& e) {
      msg = e.what();
      failed_at = now_ms();
    }
    own_cancelling = corio::current_task().cancelling();
    other_result = co_await other;  // still running, not cancelled
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_EQ(msg, "child");
  EXPECT_EQ(failed_at, 5);
  EXPECT_EQ(own_cancelling, 0u);  // the awaiting task was not cancelled itself
  EXPECT_EQ(other_result, 2);
  EXPECT_FALSE(t.cancelled());
}

TEST(CB, CB_09_cancelling_the_gather_future_cancels_every_child_not_yet_done) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cancel_ret = false, cancel_after = true, raised = false;
  corio::task<> a;
  corio::task<int> b, finished;
  std::exception_ptr g_outcome;
  auto body = [&]() -> corio::task<> {
    a = corio::create_task(cbt::nap(1h));
    b = corio::create_task(cbt::value_after(1h, 2));
    finished = corio::create_task(cbt::value_after(1ms, 3));
    auto g = corio::gather(a, b, finished);
    co_await corio::sleep(5ms);
    cancel_ret = g.cancel();
    EXPECT_EQ(a.cancelling(), 1u);
    EXPECT_EQ(b.cancelling(), 1u);
    try {
      co_await g;
    } catch (const corio::cancelled_error&) {
      raised = true;
    }
    g_outcome = outcome_of(g);
    cancel_after = g.cancel();
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(cancel_ret);
  EXPECT_TRUE(raised);
  EXPECT_TRUE(cbt::holds<corio::cancelled_error>(g_outcome));
  EXPECT_FALSE(cancel_after);  // done now
  EXPECT_TRUE(a.cancelled());
  EXPECT_TRUE(b.cancelled());
  EXPECT_FALSE(finished.cancelled());
  EXPECT_EQ(finished.result(), 3);
  EXPECT_EQ(now_ms(loop), 5);
}

TEST(CB, CB_09_cancelling_the_task_awaiting_gather_cancels_the_children_even_when_settled) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  bool returned = false;
  auto plain = [&]() -> corio::task<> {
    co_await corio::gather(cbt::sleep_logging_cancel(1h, log, "p1"), cbt::sleep_logging_cancel(1h, log, "p2"));
    returned = true;
  };
  auto settled = [&]() -> corio::task<> {
    // return_exceptions=True must not turn the caller's own cancellation into results
    co_await corio::gather_settled(cbt::sleep_logging_cancel(1h, log, "s1"), cbt::nap(1h));
    returned = true;
  };
  auto t1 = loop.create_task(plain());
  auto t2 = loop.create_task(settled());
  corio::testing::run_briefly(loop, 3);
  EXPECT_TRUE(t1.cancel());
  EXPECT_TRUE(t2.cancel());
  EXPECT_THROW(loop.run_until_complete(t1), corio::cancelled_error);
  EXPECT_THROW(loop.run_until_complete(t2), corio::cancelled_error);
  EXPECT_TRUE(t1.cancelled());
  EXPECT_TRUE(t2.cancelled());
  EXPECT_FALSE(returned);
  EXPECT_EQ(log, (std::vector<std::string>{"p1 cancelled at 0", "p2 cancelled at 0", "s1 cancelled at 0"}));
}

TEST(CB, CB_09_a_cancelled_gather_ends_cancelled_even_if_its_children_swallow_the_cancel) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto stubborn = [](int v) -> corio::task<int> {
    try {
      co_await corio::sleep(1h);
    } catch (const corio::cancelled_error&) {
    }
    co_await corio::sleep(3ms);
    co_return v;
  };
  bool plain_cancelled = false, settled_cancelled = false;
  std::int64_t ended_at = -1;
  corio::task<int> a, b;
  auto body = [&]() -> corio::task<> {
    a = corio::create_task(stubborn(1));
    b = corio::create_task(stubborn(2));
    auto g = corio::gather(a, b);
    auto s = corio::gather_settled(stubborn(3));
    co_await corio::sleep(1ms);
    g.cancel();
    s.cancel();
    try {
      co_await g;
    } catch (const corio::cancelled_error&) {
      plain_cancelled = true;
      ended_at = now_ms();
    }
    try {
      co_await s;
    } catch (const corio::cancelled_error&) {
      settled_cancelled = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(plain_cancelled);
  EXPECT_TRUE(settled_cancelled);
  EXPECT_EQ(ended_at, 4);  // once the children settled
  EXPECT_EQ(a.result(), 1);
  EXPECT_EQ(b.result(), 2);
}

TEST(CB, CB_09_cancel_on_a_gather_whose_children_are_all_done_returns_false) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cancel_ret = true;
  std::tuple<int, int> r{};
  auto body = [&]() -> corio::task<> {
    auto x = corio::create_task(cbt::value_after(1ms, 1));
    auto y = corio::create_task(cbt::value_after(2ms, 2));
    co_await corio::sleep(5ms);
    auto g = corio::gather(x, y);
    cancel_ret = g.cancel();
    r = co_await g;
  };
  loop.run_until_complete(body());
  EXPECT_FALSE(cancel_ret);
  EXPECT_EQ(std::get<0>(r), 1);
  EXPECT_EQ(std::get<1>(r), 2);
}

TEST(CB, CB_10_the_cancel_message_of_the_outer_task_reaches_the_caller_through_gather) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto looping = [&]() -> corio::task<> {
    for (int i = 0; i < 20; ++i) co_await corio::gather_settled(cbt::nap(50ms));
  };
  std::string seen = "<none>";
  auto main_body = [&]() -> corio::task<> {
    auto qwe = corio::create_task(looping());
    co_await corio::sleep(200ms);
    qwe.cancel("my message");
    try {
      co_await qwe;
    } catch (const corio::cancelled_error& e) {
      seen = e.what();
    }
  };
  loop.run_until_complete(main_body());
  EXPECT_EQ(seen, "my message");

  // The same through gather's own cancel().
  std::string direct = "<none>";
  auto direct_body = [&]() -> corio::task<> {
    auto g = corio::gather(cbt::nap(1h), cbt::nap(1h));
    co_await corio::sleep(1ms);
    g.cancel("via gather");
    try {
      co_await g;
    } catch (const corio::cancelled_error& e) {
      direct = e.what();
    }
  };
  loop.run_until_complete(direct_body());
  EXPECT_EQ(direct, "via gather");
}

// CB-03: coroutines are wrapped in tasks in argument order, so they also
// start in that order.
TEST(CB, CB_03_gathered_coroutines_start_in_argument_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> started;
  auto step = [](std::vector<int>& log, int id) -> corio::task<int> {
    log.push_back(id);
    co_return id;
  };
  auto r = loop.run_until_complete([&]() -> corio::task<std::tuple<int, int, int>> {
    co_return co_await corio::gather(step(started, 1), step(started, 2), step(started, 3));
  }());
  EXPECT_EQ(started, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(r, std::make_tuple(1, 2, 3));
}

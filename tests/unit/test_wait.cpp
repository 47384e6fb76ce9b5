// Unit tests for <corio/wait.hpp>: wait (with return_when and timeout) and
// as_completed.
#include <corio/wait.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<int> fail_after(corio::duration d, std::string what) {
  co_await corio::sleep(d);
  throw std::runtime_error(what);
}

// Values of the tasks, in the order listed.
std::vector<int> values(const std::vector<corio::task<int>>& ts) {
  std::vector<int> out;
  for (const auto& t : ts) out.push_back(t.result());
  return out;
}

std::vector<corio::task<int>> schedule(corio::event_loop& loop, std::vector<int> seconds) {
  std::vector<corio::task<int>> ts;
  for (int s : seconds) ts.push_back(loop.create_task(value_after(std::chrono::seconds(s), s)));
  return ts;
}

}  // namespace

// -- wait ------------------------------------------------------------------------------

TEST(Wait, all_completed_returns_every_task_done_in_the_order_given) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete(corio::wait(schedule(loop, {3, 1, 2})));
  EXPECT_TRUE(r.pending.empty());
  EXPECT_EQ(values(r.done), (std::vector<int>{3, 1, 2}));
  EXPECT_EQ(loop.time().time_since_epoch(), 3s);
}

TEST(Wait, first_completed_returns_as_soon_as_one_is_done_and_cancels_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {3, 1, 2});
  auto r = loop.run_until_complete(corio::wait(ts, corio::first_completed));
  EXPECT_EQ(loop.time().time_since_epoch(), 1s);
  EXPECT_EQ(values(r.done), std::vector<int>{1});
  ASSERT_EQ(r.pending.size(), 2u);
  for (auto& t : r.pending) EXPECT_FALSE(t.done());
  loop.run_until_complete(ts[0]);
  EXPECT_FALSE(ts[0].cancelled());
  EXPECT_EQ(ts[2].result(), 2);
}

TEST(Wait, first_exception_returns_when_one_fails) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<corio::task<int>> ts;
  ts.push_back(loop.create_task(value_after(1s, 1)));
  ts.push_back(loop.create_task(fail_after(2s, "bad")));
  ts.push_back(loop.create_task(value_after(5s, 5)));
  auto r = loop.run_until_complete(corio::wait(ts, corio::first_exception));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_EQ(r.pending.size(), 1u);
  EXPECT_THROW(ts[1].result(), std::runtime_error) << "wait never raises; the exception stays in the task";
  loop.run_until_complete(ts[2]);
}

TEST(Wait, first_exception_without_a_failure_waits_for_all) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete(corio::wait(schedule(loop, {1, 2}), corio::first_exception));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(r.done.size(), 2u);
}

TEST(Wait, a_timeout_returns_the_pending_ones_without_cancelling_them) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {1, 5});
  auto r = loop.run_until_complete(corio::wait(ts, corio::all_completed, 2s));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_EQ(values(r.done), std::vector<int>{1});
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_FALSE(r.pending[0].cancelled());
  EXPECT_EQ(loop.run_until_complete(ts[1]), 5);
}

TEST(Wait, a_timeout_that_is_not_reached_changes_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete(corio::wait(schedule(loop, {1}), corio::all_completed, 10s));
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(loop.time().time_since_epoch(), 1s);
}

TEST(Wait, futures_already_done_count_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> done = loop.create_future<int>();
  done.set_result(1);
  corio::future<int> pending = loop.create_future<int>();
  auto r = loop.run_until_complete(corio::wait(std::vector{done, pending}, corio::first_completed));
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.done[0] == done);
  EXPECT_EQ(r.pending.size(), 1u);
  pending.cancel();
}

TEST(Wait, duplicates_count_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t = loop.create_task(value_after(1s, 1));
  auto r = loop.run_until_complete(corio::wait(std::vector{t, t, t}));
  EXPECT_EQ(r.done.size(), 1u);
}

TEST(Wait, an_empty_list_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_THROW(loop.run_until_complete(corio::wait(std::vector<corio::task<int>>{})), std::invalid_argument);
}

TEST(Wait, an_unscheduled_coroutine_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  std::vector<corio::task<>> ts;
  ts.push_back([](bool& r) -> corio::task<> {
    r = true;
    co_return;
  }(ran));
  EXPECT_THROW(loop.run_until_complete(corio::wait(std::move(ts))), std::invalid_argument);
  EXPECT_FALSE(ran);
}

TEST(Wait, cancelling_the_waiting_task_leaves_the_awaited_ones_alone) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ts = schedule(loop, {5, 6});
  corio::task<corio::wait_result<corio::task<int>>> waiter = loop.create_task(corio::wait(ts));
  loop.call_later(1s, [waiter]() mutable { waiter.cancel(); });
  EXPECT_THROW(loop.run_until_complete(waiter), corio::cancelled_error);
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_FALSE(ts[0].done());
  EXPECT_EQ(loop.run_until_complete(ts[1]), 6);
  EXPECT_EQ(ts[0].result(), 5);
}

// -- as_completed -------------------------------------------------------------------------

TEST(AsCompleted, yields_results_in_completion_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> order = loop.run_until_complete([]() -> corio::task<std::vector<int>> {
    std::vector<corio::task<int>> ts;
    for (int s : {3, 1, 2}) ts.push_back(value_after(std::chrono::seconds(s), s));
    std::vector<int> out;
    corio::as_completed<corio::task<int>> ac(std::move(ts));
    EXPECT_EQ(ac.size(), 3u);
    for (auto next : ac) out.push_back(co_await next);
    co_return out;
  }());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(AsCompleted, an_exception_comes_out_at_its_turn) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> seen = loop.run_until_complete([]() -> corio::task<std::vector<std::string>> {
    std::vector<corio::task<int>> ts;
    ts.push_back(value_after(2s, 2));
    ts.push_back(fail_after(1s, "early"));
    std::vector<std::string> out;
    for (auto next : corio::as_completed(std::move(ts))) {
      try {
        out.push_back(std::to_string(co_await next));
      } catch (const std::runtime_error& e) {
        out.push_back(e.what());
      }
    }
    co_return out;
  }());
  EXPECT_EQ(seen, (std::vector<std::string>{"early", "2"}));
}

TEST(AsCompleted, after_the_timeout_the_remaining_awaits_throw_timeout_error_and_nothing_is_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<corio::task<int>> ts = schedule(loop, {1, 5, 6});
  std::vector<std::string> seen = loop.run_until_complete([](std::vector<corio::task<int>> tasks) -> corio::task<std::vector<std::string>> {
    std::vector<std::string> out;
    for (auto next : corio::as_completed(std::move(tasks), 2s)) {
      try {
        out.push_back(std::to_string(co_await next));
      } catch (const corio::timeout_error&) {
        out.push_back("timeout");
      }
    }
    co_return out;
  }(ts));
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "timeout", "timeout"}));
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
  EXPECT_FALSE(ts[1].cancelled());
  EXPECT_EQ(loop.run_until_complete(ts[2]), 6);
}

TEST(AsCompleted, duplicates_count_once_and_done_ones_come_first) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> order = loop.run_until_complete([]() -> corio::task<std::vector<int>> {
    corio::task<int> slow = corio::create_task(value_after(2s, 2));
    corio::future<int> ready = corio::create_future<int>();
    ready.set_result(0);
    corio::future<int> later = corio::create_future<int>();
    corio::get_running_loop().call_later(1s, [later]() mutable { later.set_result(1); });
    std::vector<corio::future<int>> fs{later, ready, later};
    corio::as_completed<corio::future<int>> ac(std::move(fs));
    EXPECT_EQ(ac.size(), 2u);
    std::vector<int> out;
    for (auto next : ac) out.push_back(co_await next);
    out.push_back(co_await slow);
    co_return out;
  }());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

// Semantic tests for docs/semantics.md section 5, wait (CB-12..CB-15).
//
// Not tested at run time:
//   CB-14 (invalid return_when)  return_when is an enum class in corio, so a
//          bad value cannot be passed without a cast; the ValueError of the
//          rule has no run-time counterpart. The other CB-14 clauses are
//          tested below.
//
// corio's wait() returns at once, without suspending, when its condition
// already holds; the tests below rely on results only, never on that.
#include "cb_util.hpp"

#include <corio/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using cbt::now_ms;

namespace {

template <class H>
bool contains(const std::vector<H>& v, const H& h) {
  return std::find(v.begin(), v.end(), h) != v.end();
}

corio::task<> set_and_sleep(bool& ran, corio::duration d) {
  ran = true;
  co_await corio::sleep(d);
}

}  // namespace

TEST(CB, CB_12_wait_all_completed_returns_done_and_pending_and_never_raises_the_errors) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto a = loop.create_task(cbt::value_after(10ms, 1));
  auto b = loop.create_task(cbt::fail_after(20ms, "b failed"));
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> fs{a, b};
    r = co_await corio::wait(std::move(fs));
  };
  EXPECT_NO_THROW(loop.run_until_complete(body()));
  EXPECT_EQ(now_ms(loop), 20);
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(contains(r.done, a));
  EXPECT_TRUE(contains(r.done, b));
  EXPECT_TRUE(r.pending.empty());
  EXPECT_EQ(a.result(), 1);
  EXPECT_TRUE(cbt::holds<std::runtime_error>(b.exception()));  // there to be fetched
}

TEST(CB, CB_12_wait_with_a_timeout_returns_what_is_pending_without_cancelling_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto quick = loop.create_task(cbt::value_after(10ms, 1));
  auto slow = loop.create_task(cbt::value_after(50ms, 2));
  std::int64_t returned_at = -1;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> fs{quick, slow};
    r = co_await corio::wait(std::move(fs), corio::all_completed, 15ms);
    returned_at = now_ms();
  };
  EXPECT_NO_THROW(loop.run_until_complete(body()));  // a timeout is no error for wait()
  EXPECT_EQ(returned_at, 15);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0], quick);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], slow);
  EXPECT_FALSE(slow.cancelled());
  EXPECT_EQ(slow.cancelling(), 0u);
  EXPECT_EQ(loop.run_until_complete(slow), 2);
}

TEST(CB, CB_12_wait_accepts_plain_futures_and_leaves_them_alone_on_timeout) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto f = loop.create_future<int>();
  auto g = loop.create_future<int>();
  corio::wait_result<corio::future<int>> r;
  auto body = [&]() -> corio::task<> {
    corio::get_running_loop().call_later(5ms, [&] { f.set_result(1); });
    std::vector<corio::future<int>> fs{f, g};
    r = co_await corio::wait(std::move(fs), corio::all_completed, std::optional<corio::duration>(10ms));
  };
  loop.run_until_complete(body());
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0], f);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], g);
  EXPECT_FALSE(g.done());
  g.set_result(2);  // still usable: nothing cancelled it
  EXPECT_EQ(g.result(), 2);
}

TEST(CB, CB_13_first_completed_returns_as_soon_as_one_is_done) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto a = loop.create_task(cbt::value_after(10ms, 1));
  auto b = loop.create_task(cbt::value_after(20ms, 2));
  std::int64_t returned_at = -1;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> fs{b, a};
    r = co_await corio::wait(std::move(fs), corio::first_completed);
    returned_at = now_ms();
  };
  loop.run_until_complete(body());
  EXPECT_EQ(returned_at, 10);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0], a);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], b);
  EXPECT_EQ(loop.run_until_complete(b), 2);
}

TEST(CB, CB_13_first_completed_counts_every_future_already_done_at_the_call) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::future<int>> r;
  auto x = loop.create_future<int>();
  auto y = loop.create_future<int>();
  auto z = loop.create_future<int>();
  x.set_result(1);
  y.set_exception(std::runtime_error("y"));
  auto body = [&]() -> corio::task<> {
    std::vector<corio::future<int>> fs{x, z, y};
    r = co_await corio::wait(std::move(fs), corio::first_completed);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(now_ms(loop), 0);
  ASSERT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(contains(r.done, x));
  EXPECT_TRUE(contains(r.done, y));
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], z);
  EXPECT_THROW(y.result(), std::runtime_error);
}

TEST(CB, CB_13_first_exception_returns_when_one_raises) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto ok = loop.create_task(cbt::value_after(5ms, 1));
  auto bad = loop.create_task(cbt::fail_after(10ms, "bad"));
  auto slow = loop.create_task(cbt::value_after(30ms, 3));
  std::int64_t returned_at = -1;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> fs{ok, bad, slow};
    r = co_await corio::wait(std::move(fs), corio::first_exception);
    returned_at = now_ms();
  };
  EXPECT_NO_THROW(loop.run_until_complete(body()));
  EXPECT_EQ(returned_at, 10);  // not at 5 ms: a result is not an exception
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(contains(r.done, ok));
  EXPECT_TRUE(contains(r.done, bad));
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], slow);
  EXPECT_FALSE(slow.cancelled());
  EXPECT_THROW(bad.result(), std::runtime_error);
  EXPECT_EQ(loop.run_until_complete(slow), 3);
}

TEST(CB, CB_13_first_exception_without_any_error_waits_for_all) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto a = loop.create_task(cbt::value_after(5ms, 1));
  auto b = loop.create_task(cbt::value_after(15ms, 2));
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> fs{a, b};
    r = co_await corio::wait(std::move(fs), corio::first_exception);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(now_ms(loop), 15);
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(r.pending.empty());
}

TEST(CB, CB_13_first_exception_counts_an_error_already_there_at_the_call) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto bad = loop.create_task(cbt::fail_after(1ms, "early"));
  auto slow = loop.create_task(cbt::value_after(1h, 2));
  auto body = [&]() -> corio::task<> {
    co_await corio::sleep(5ms);  // `bad` has failed by now
    std::vector<corio::task<int>> fs{slow, bad};
    r = co_await corio::wait(std::move(fs), corio::first_exception);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(now_ms(loop), 5);
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0], bad);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], slow);
  EXPECT_THROW(bad.result(), std::runtime_error);
  slow.cancel();
  EXPECT_THROW(loop.run_until_complete(slow), corio::cancelled_error);
}

TEST(CB, CB_14_wait_on_an_empty_list_throws_invalid_argument) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool threw = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::wait(std::vector<corio::task<int>>());
    } catch (const std::invalid_argument&) {
      threw = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(threw);
}

TEST(CB, CB_14_wait_rejects_an_unscheduled_coroutine_and_never_runs_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool threw = false, ran = false;
  auto scheduled = loop.create_task(cbt::nap(1ms));
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<>> fs;
    fs.push_back(scheduled);
    fs.push_back(set_and_sleep(ran, 1ms));  // a bare coroutine, not a task
    try {
      co_await corio::wait(std::move(fs));
    } catch (const std::invalid_argument&) {
      threw = true;
    }
    co_await corio::sleep(5ms);
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(threw);
  EXPECT_FALSE(ran);
}

TEST(CB, CB_14_duplicates_in_wait_are_collapsed_into_one_entry) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<int>> r;
  auto a = loop.create_task(cbt::value_after(5ms, 1));
  auto b = loop.create_task(cbt::value_after(1h, 2));
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> fs{a, a, b, a, b};
    r = co_await corio::wait(std::move(fs), corio::all_completed, 10ms);
  };
  loop.run_until_complete(body());
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.done[0], a);
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], b);
  b.cancel();
  EXPECT_THROW(loop.run_until_complete(b), corio::cancelled_error);
}

TEST(CB, CB_15_futures_completing_in_the_same_iteration_are_all_reported_done) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::future<int>> r;
  auto f = loop.create_future<int>();
  auto g = loop.create_future<int>();
  auto h = loop.create_future<int>();
  auto body = [&]() -> corio::task<> {
    corio::get_running_loop().call_later(5ms, [&] {
      f.set_result(1);
      g.set_result(2);
    });
    std::vector<corio::future<int>> fs{f, g, h};
    r = co_await corio::wait(std::move(fs), corio::first_completed);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(contains(r.done, f));
  EXPECT_TRUE(contains(r.done, g));
  ASSERT_EQ(r.pending.size(), 1u);
  EXPECT_EQ(r.pending[0], h);
}

TEST(CB, CB_15_tasks_finishing_at_the_timeout_instant_are_reported_done) {
  // CPython's test_wait_concurrent_complete: both sleeps and the timeout
  // end at the same loop time.
  corio::event_loop loop(corio::testing::virtual_time());
  corio::wait_result<corio::task<>> r;
  auto a = loop.create_task(cbt::nap(10ms));
  auto b = loop.create_task(cbt::nap(10ms));
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<>> fs{b, a};
    r = co_await corio::wait(std::move(fs), corio::all_completed, 10ms);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(r.pending.empty());
}

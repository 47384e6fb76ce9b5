// Stress: gather and gather_settled over a hundred thousand tasks.
#include <corio/gather.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

constexpr int kTasks = 100'000;

struct handler_log {
  std::size_t reports = 0;
  void install(corio::event_loop& loop) {
    loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context&) { ++reports; });
  }
};

corio::task<int> child(int i, corio::duration d) {
  counted local(i);
  co_await corio::sleep(d);
  co_return i;
}

corio::task<int> child_or_fail(int i, corio::duration d, bool fail) {
  counted local(i);
  co_await corio::sleep(d);
  if (fail) throw std::runtime_error("child " + std::to_string(i));
  co_return i;
}

std::vector<corio::duration> random_delays(unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<corio::duration> d(kTasks);
  for (auto& x : d) x = std::chrono::microseconds(rng() % 1'000'000);
  return d;
}

}  // namespace

TEST(StressGather, a_hundred_thousand_tasks_give_their_results_in_order) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  const auto delays = random_delays(1);
  std::vector<int> r = loop.run_until_complete([](const std::vector<corio::duration>& d) -> corio::task<std::vector<int>> {
    std::vector<corio::task<int>> ts;
    ts.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) ts.push_back(child(i, d[i]));
    co_return co_await corio::gather(std::move(ts));
  }(delays));
  ASSERT_EQ(r.size(), static_cast<std::size_t>(kTasks));
  for (int i = 0; i < kTasks; ++i) ASSERT_EQ(r[i], i);
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log.reports, 0u);
}

TEST(StressGather, settled_over_a_hundred_thousand_puts_every_failure_and_cancellation_in_place) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  const auto delays = random_delays(2);
  loop.run_until_complete([](const std::vector<corio::duration>& d) -> corio::task<> {
    std::vector<corio::task<int>> ts;
    ts.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) ts.push_back(corio::create_task(child_or_fail(i, d[i], i % 7 == 3)));
    // Every eleventh is cancelled half-way.
    corio::get_running_loop().call_later(500ms, [ts]() mutable {
      for (int i = 0; i < kTasks; i += 11) ts[i].cancel();
    });
    auto r = co_await corio::gather_settled(ts);
    EXPECT_EQ(r.size(), static_cast<std::size_t>(kTasks));
    for (int i = 0; i < kTasks; ++i) {
      const bool cancelled = i % 11 == 0 && d[i] >= 500ms;
      if (cancelled) {
        EXPECT_TRUE(r[i].cancelled()) << i;
      } else if (i % 7 == 3) {
        EXPECT_FALSE(r[i].has_value()) << i;
        EXPECT_FALSE(r[i].cancelled()) << i;
        EXPECT_THROW(r[i].value(), std::runtime_error);
      } else {
        EXPECT_TRUE(r[i].has_value()) << i;
        if (r[i].has_value()) {
          EXPECT_EQ(r[i].value(), i);
        }
      }
    }
  }(delays));
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log.reports, 0u) << "gather_settled retrieved every exception";
}

TEST(StressGather, one_failure_among_a_hundred_thousand_fails_the_gather_and_the_rest_run_on_quietly) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  const auto delays = random_delays(3);
  bool failed_at_once = false;
  loop.run_until_complete([](const std::vector<corio::duration>& d, bool& at_once) -> corio::task<> {
    std::vector<corio::task<int>> ts;
    ts.reserve(kTasks);
    // Every thousandth child fails; the first to fail (at 1 ms) fails the gather.
    for (int i = 0; i < kTasks; ++i)
      ts.push_back(child_or_fail(i, i == 500 ? corio::duration(1ms) : d[i] + 2ms, i % 1000 == 500));
    try {
      co_await corio::gather(std::move(ts));
    } catch (const std::runtime_error& e) {
      at_once = std::string(e.what()) == "child 500" &&
                corio::get_running_loop().time().time_since_epoch() == 1ms;
    }
    co_await corio::sleep(2s);  // the others run to the end
  }(delays, failed_at_once));
  EXPECT_TRUE(failed_at_once);
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log.reports, 0u) << "later failures were the gather's to report, and it stays quiet";
}

TEST(StressGather, cancelling_a_gather_of_a_hundred_thousand_cancels_them_all) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  const auto delays = random_delays(4);
  std::vector<corio::task<int>> ts;
  ts.reserve(kTasks);
  for (int i = 0; i < kTasks; ++i) ts.push_back(loop.create_task(child(i, delays[i] + 1ms)));
  corio::task<> waiter = loop.create_task([](std::vector<corio::task<int>> children) -> corio::task<> {
    co_await corio::gather(std::move(children));
  }(ts));
  loop.call_later(1us, [waiter]() mutable { waiter.cancel(); });
  EXPECT_THROW(loop.run_until_complete(waiter), corio::cancelled_error);
  corio::testing::run_briefly(loop, 2);
  for (auto& t : ts) ASSERT_TRUE(t.cancelled());
  EXPECT_EQ(loop.pending_task_count(), 0u);
  ts.clear();
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log.reports, 0u);
}

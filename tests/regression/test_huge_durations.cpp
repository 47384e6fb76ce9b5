// Durations and deadlines too large for the loop's int64 nanosecond clock
// (seconds::max(), 300 years, hours::max(), 1e300 s) used to wrap around:
// sleep returned at once, timeout and wait_for fired at once, and
// call_later(nanoseconds::max()) stopped every timer of its loop. They now
// saturate: "for ever" waits until cancelled, on the real and the virtual
// clock alike.
#include <corio/corio.hpp>
#include <corio/detail/saturate.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

using namespace std::chrono_literals;

namespace {

using years = std::chrono::duration<std::int64_t, std::ratio<31'556'952>>;
constexpr auto kCentury = std::chrono::hours(24 * 365 * 100);

namespace d = corio::detail;
static_assert(d::ns_ceil_saturated(0s) == 0);
static_assert(d::ns_ceil_saturated(1500ms) == 1'500'000'000);
static_assert(d::ns_ceil_saturated(std::chrono::seconds::max()) == d::kNeverNs);
static_assert(d::ns_ceil_saturated(std::chrono::nanoseconds::max()) == d::kNeverNs);
static_assert(d::ns_ceil_saturated(std::chrono::hours::max()) == d::kNeverNs);
static_assert(d::ns_ceil_saturated(years(300)) == d::kNeverNs);
static_assert(d::ns_ceil_saturated(years(200)) == std::int64_t{200} * 31'556'952 * 1'000'000'000);
static_assert(d::ns_ceil_saturated(std::chrono::seconds::min()) == d::kMinNs);
static_assert(d::ns_ceil_saturated(std::chrono::duration<unsigned long long>(~0ull)) == d::kNeverNs);
static_assert(d::add_saturated(d::kNeverNs - 5, 10) == d::kNeverNs);
static_assert(d::add_saturated(d::kMinNs + 5, -10) == d::kMinNs);

TEST(HugeDurations, ceil_of_floating_durations_saturates_and_rounds_up) {
  EXPECT_EQ(d::ns_ceil_saturated(std::chrono::duration<double>(1e300)), d::kNeverNs);
  EXPECT_EQ(d::ns_ceil_saturated(std::chrono::duration<double>(-1e300)), d::kMinNs);
  EXPECT_EQ(d::ns_ceil_saturated(std::chrono::duration<double>(std::numeric_limits<double>::infinity())), d::kNeverNs);
  EXPECT_EQ(d::ns_ceil_saturated(std::chrono::duration<double>(std::nan(""))), 0);
  EXPECT_EQ(d::ns_ceil_saturated(std::chrono::duration<double, std::nano>(1.25)), 2);
  EXPECT_EQ(d::ns_ceil_saturated(std::chrono::duration<double, std::milli>(0.5)), 500'000);
}

// Sleeps for `how_long`, noting whether it woke by itself.
corio::task<> sleeper(corio::duration how_long, bool& woke) {
  co_await corio::sleep(how_long);
  woke = true;
}
template <class D>
corio::task<> sleeper_of(D how_long, bool& woke) {
  co_await corio::sleep(how_long);
  woke = true;
}

// A century of virtual time passes; the task must still be asleep, and a
// cancel still ends it.
template <class D>
void expect_sleeps_for_ever(D how_long) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool woke = false;
  auto t = loop.create_task(sleeper_of(how_long, woke));
  corio::testing::run_for(loop, kCentury);
  EXPECT_FALSE(woke);
  EXPECT_FALSE(t.done());
  t.cancel();
  corio::testing::run_briefly(loop, 2);
  EXPECT_TRUE(t.cancelled());
}

TEST(HugeDurations, sleep_for_nanoseconds_max_sleeps_until_cancelled) {
  expect_sleeps_for_ever(std::chrono::nanoseconds::max());
}
TEST(HugeDurations, sleep_for_seconds_max_sleeps_until_cancelled) { expect_sleeps_for_ever(std::chrono::seconds::max()); }
TEST(HugeDurations, sleep_for_hours_max_sleeps_until_cancelled) { expect_sleeps_for_ever(std::chrono::hours::max()); }
TEST(HugeDurations, sleep_for_three_hundred_years_sleeps_until_cancelled) { expect_sleeps_for_ever(years(300)); }
TEST(HugeDurations, sleep_for_1e300_seconds_sleeps_until_cancelled) {
  expect_sleeps_for_ever(std::chrono::duration<double>(1e300));
}

TEST(HugeDurations, sleep_for_two_hundred_years_wakes_after_two_hundred_years_of_loop_time) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool woke = false;
  loop.run_until_complete(sleeper_of(years(200), woke));
  EXPECT_TRUE(woke);
  EXPECT_GE(loop.time().time_since_epoch(), years(200));
}

TEST(HugeDurations, sleep_for_a_huge_negative_duration_yields_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool woke = false;
  loop.run_until_complete(sleeper_of(std::chrono::seconds::min(), woke));
  EXPECT_TRUE(woke);
  EXPECT_EQ(loop.time().time_since_epoch(), 0ns);
}

TEST(HugeDurations, sleep_for_ever_on_the_real_clock_ends_by_cancellation) {
  corio::event_loop loop;
  bool woke = false;
  auto t = loop.create_task(sleeper(corio::duration::max(), woke));
  loop.call_later(5ms, [&] { t.cancel(); });
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_FALSE(woke);
}

TEST(HugeDurations, call_later_nanoseconds_max_never_fires_and_other_timers_still_do) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool never = false;
  auto h = loop.call_later(std::chrono::nanoseconds::max(), [&] { never = true; });
  EXPECT_EQ(h.when(), corio::time_point::max());
  std::vector<int> fired;
  loop.call_later(5ms, [&] { fired.push_back(5); });
  loop.call_later(std::chrono::hours::max(), [&] { never = true; });
  loop.call_later(1s, [&] { fired.push_back(1000); });
  corio::testing::run_for(loop, kCentury);
  EXPECT_EQ(fired, (std::vector<int>{5, 1000}));
  EXPECT_FALSE(never);
  h.cancel();
  EXPECT_TRUE(h.cancelled());
}

TEST(HugeDurations, call_at_time_point_max_never_fires_and_can_be_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool never = false;
  auto h = loop.call_at(corio::time_point::max(), [&] { never = true; });
  corio::testing::run_for(loop, kCentury);
  EXPECT_FALSE(never);
  h.cancel();
  corio::testing::run_for(loop, 1s);
  EXPECT_FALSE(never);
}

TEST(HugeDurations, call_later_a_huge_negative_delay_is_due_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> order;
  loop.call_later(-1ms, [&] { order.push_back(2); });
  loop.call_later(std::chrono::nanoseconds::min(), [&] { order.push_back(1); });
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

TEST(HugeDurations, timeout_of_seconds_max_lets_the_body_finish) {
  corio::event_loop loop(corio::testing::virtual_time());
  const int r = loop.run_until_complete([]() -> corio::task<int> {
    co_return co_await corio::timeout(std::chrono::seconds::max(), []() -> corio::task<int> {
      co_await corio::sleep(10ms);
      co_return 7;
    });
  }());
  EXPECT_EQ(r, 7);
}

TEST(HugeDurations, timeout_at_time_point_max_lets_a_long_body_finish) {
  corio::event_loop loop(corio::testing::virtual_time());
  const int r = loop.run_until_complete([]() -> corio::task<int> {
    co_return co_await corio::timeout_at(corio::time_point::max(), []() -> corio::task<int> {
      co_await corio::sleep(kCentury);
      co_return 8;
    });
  }());
  EXPECT_EQ(r, 8);
}

TEST(HugeDurations, wait_for_hours_max_returns_the_result) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_EQ(loop.run_until_complete([]() -> corio::task<int> {
              co_return co_await corio::wait_for(corio::sleep(10ms, 42), std::chrono::hours::max());
            }()),
            42);
  EXPECT_EQ(loop.run_until_complete([]() -> corio::task<int> {
              co_return co_await corio::wait_for(corio::sleep(10ms, 43), std::chrono::seconds::max());
            }()),
            43);
}

TEST(HugeDurations, wait_with_a_huge_timeout_waits_for_completion) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete([]() -> corio::task<std::size_t> {
    std::vector<corio::task<int>> ts;
    ts.push_back(corio::create_task(corio::wait_for(corio::sleep(20ms, 1), 1s)));
    auto [done, pending] = co_await corio::wait(std::move(ts), corio::all_completed, std::chrono::seconds::max());
    co_return done.size() * 10 + pending.size();
  }());
  EXPECT_EQ(r, 10u);
}

TEST(HugeDurations, as_completed_with_a_huge_timeout_yields_every_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto sum = loop.run_until_complete([]() -> corio::task<int> {
    std::vector<corio::task<int>> ts;
    ts.push_back(corio::create_task(corio::wait_for(corio::sleep(20ms, 1), 1s)));
    ts.push_back(corio::create_task(corio::wait_for(corio::sleep(10ms, 2), 1s)));
    int s = 0;
    for (auto next : corio::as_completed(std::move(ts), std::chrono::hours::max())) s += co_await next;
    co_return s;
  }());
  EXPECT_EQ(sum, 3);
}

}  // namespace

namespace {

TEST(HugeDurations, closing_a_loop_lets_go_of_timers_that_never_fire) {
  auto owned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = owned;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.call_later(std::chrono::seconds::max(), [p = std::move(owned)] {});
    bool woke = false;
    loop.create_task(sleeper(corio::duration::max(), woke));
    corio::testing::run_briefly(loop, 2);
    loop.close();
  }
  EXPECT_TRUE(watch.expired());
}

}  // namespace

// Stress: a hundred thousand timers with random deadlines and random
// cancellations on a virtual clock fire in exact (deadline, arrival) order,
// at their deadline, and the cancelled ones never fire.
#include <corio/events.hpp>

#include <corio/tasks.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

constexpr std::size_t kTimers = 100'000;

struct fired_timer {
  std::size_t index;
  corio::time_point at;
};

}  // namespace

TEST(StressTimers, a_hundred_thousand_random_timers_fire_in_exact_order_and_cancelled_ones_never) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  std::mt19937_64 rng(2024);
  const corio::duration start = 50s;
  loop.advance_time(start);  // deadlines before this are already due

  std::vector<corio::time_point> when(kTimers);
  std::vector<corio::timer_handle> handles(kTimers);
  std::vector<char> cancelled(kTimers, 0);
  std::vector<char> fired_flag(kTimers, 0);
  std::vector<fired_timer> fired;
  fired.reserve(kTimers);

  for (std::size_t i = 0; i < kTimers; ++i) {
    corio::duration d;
    switch (rng() % 10) {
      case 0:  // many timers share a few deadlines: ties go by arrival
        d = std::chrono::seconds(60 + static_cast<int>(rng() % 3));
        break;
      case 1:  // far away: the wheel's upper levels
        d = std::chrono::hours(1 + static_cast<int>(rng() % 500));
        break;
      default:  // microsecond-spread deadlines from 0 to 100 s
        d = std::chrono::microseconds(static_cast<std::int64_t>(rng() % 100'000'000));
    }
    when[i] = corio::time_point(d);
    handles[i] = loop.call_at(when[i], [&, i, c = counted()] {
      fired_flag[i] = 1;
      fired.push_back({i, loop.time()});
      // Some callbacks cancel a random timer that has not run yet.
      if (rng() % 20 == 0) {
        const std::size_t j = rng() % kTimers;
        if (!fired_flag[j] && !cancelled[j]) {
          handles[j].cancel();
          cancelled[j] = 1;
        }
      }
    });
  }
  EXPECT_EQ(counted::alive(), kTimers);
  for (std::size_t i = 0; i < kTimers; ++i) {
    if (rng() % 10 < 3) {
      handles[i].cancel();
      cancelled[i] = 1;
    }
  }

  loop.call_at(corio::time_point(std::chrono::hours(501)), [&] { loop.stop(); });
  loop.run_forever();

  // Every timer either fired once or was cancelled before its turn.
  std::size_t cancelled_count = 0;
  for (std::size_t i = 0; i < kTimers; ++i) {
    ASSERT_NE(fired_flag[i] != 0, cancelled[i] != 0) << "timer " << i;
    cancelled_count += cancelled[i];
  }
  ASSERT_EQ(fired.size() + cancelled_count, kTimers);
  EXPECT_GT(cancelled_count, kTimers / 4);

  // In order of deadline, ties in order of scheduling, each at its deadline
  // (or at once, for a deadline already past), within one clock tick.
  const corio::time_point t0(start);
  for (std::size_t k = 0; k < fired.size(); ++k) {
    const fired_timer& f = fired[k];
    const corio::time_point due = std::max(when[f.index], t0);
    ASSERT_LE(f.at, due) << "timer " << f.index << " fired late";
    ASSERT_GE(f.at + 1ns, due) << "timer " << f.index << " fired early";
    if (k > 0) {
      const fired_timer& p = fired[k - 1];
      const bool ordered = when[p.index] < when[f.index] || (when[p.index] == when[f.index] && p.index < f.index);
      ASSERT_TRUE(ordered) << "timer " << p.index << " (" << when[p.index].time_since_epoch().count() << " ns) fired before "
                           << f.index << " (" << when[f.index].time_since_epoch().count() << " ns)";
    }
  }
  handles.clear();
  EXPECT_EQ(counted::alive(), 0u) << "every callback's capture is gone";
}

TEST(StressTimers, twenty_thousand_sleeping_tasks_wake_at_their_deadline_in_order_despite_cancellations) {
  counted::reset();
  constexpr std::size_t kTasks = 20'000;
  corio::event_loop loop(corio::testing::virtual_time());
  std::mt19937 rng(11);
  std::vector<corio::duration> delay(kTasks);
  std::vector<std::size_t> woke;
  woke.reserve(kTasks);
  std::vector<corio::task<>> tasks;
  tasks.reserve(kTasks);
  auto sleeper = [](std::size_t i, corio::duration d, std::vector<std::size_t>& out) -> corio::task<> {
    counted local;
    co_await corio::sleep(d);
    EXPECT_EQ(corio::get_running_loop().time().time_since_epoch(), d);
    out.push_back(i);
  };
  for (std::size_t i = 0; i < kTasks; ++i) {
    delay[i] = std::chrono::milliseconds(1 + rng() % 60'000);
    tasks.push_back(loop.create_task(sleeper(i, delay[i], woke)));
  }
  // Cancel a third of them at random moments.
  std::vector<char> cancel_accepted(kTasks, 0);
  for (std::size_t n = 0; n < kTasks / 3; ++n) {
    const std::size_t i = rng() % kTasks;
    loop.call_later(std::chrono::milliseconds(rng() % 60'000), [&, i] { cancel_accepted[i] |= tasks[i].cancel(); });
  }
  loop.call_later(61s, [&] { loop.stop(); });
  loop.run_forever();

  for (std::size_t i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(tasks[i].done());
    ASSERT_EQ(tasks[i].cancelled(), cancel_accepted[i] != 0) << "task " << i;
  }
  for (std::size_t k = 1; k < woke.size(); ++k) {
    const std::size_t a = woke[k - 1], b = woke[k];
    ASSERT_TRUE(delay[a] < delay[b] || (delay[a] == delay[b] && a < b)) << a << " woke before " << b;
  }
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
}

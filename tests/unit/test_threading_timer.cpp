// Unit tests for <corio/threading/timer.hpp>: timer (threading.Timer).
#include <corio/threading/timer.hpp>

#include <corio/threading/event.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::thread_options;
using corio::threading::timer;
using corio_test::on_time;
using corio_test::steady;

TEST(ThreadingTimer, fires_after_the_interval_on_its_own_thread) {
  corio_test::watchdog guard(30s, "timer fires");
  std::thread::id fired_on;
  steady::time_point fired_at;
  int arg = 0;
  const auto t0 = steady::now();
  timer t(50ms, [&](int x) {
    fired_on = std::this_thread::get_id();
    fired_at = steady::now();
    arg = x;
  }, 7);
  EXPECT_EQ(t.interval(), 50ms);
  t.start();
  t.join();
  EXPECT_EQ(arg, 7);
  EXPECT_NE(fired_on, std::this_thread::get_id());
  EXPECT_TRUE(on_time(fired_at - t0, 50ms));
}

TEST(ThreadingTimer, cancel_before_it_fires_stops_it) {
  corio_test::watchdog guard(30s, "timer cancel");
  std::atomic<bool> fired{false};
  timer t(10s, [&] { fired = true; });
  t.start();
  std::this_thread::sleep_for(10ms);
  const auto t0 = steady::now();
  t.cancel();
  t.join();
  EXPECT_LT(steady::now() - t0, 5s);  // did not wait out the interval
  EXPECT_FALSE(fired.load());
}

TEST(ThreadingTimer, cancel_before_start_means_it_never_fires) {
  std::atomic<bool> fired{false};
  timer t(0s, [&] { fired = true; });
  t.cancel();
  t.start();
  t.join();
  EXPECT_FALSE(fired.load());
}

TEST(ThreadingTimer, cancel_after_it_fired_is_harmless) {
  corio_test::watchdog guard(30s, "cancel after fire");
  int fired = 0;
  timer t(0s, [&] { ++fired; });
  t.start();
  t.join();
  t.cancel();
  EXPECT_EQ(fired, 1);
}

TEST(ThreadingTimer, negative_interval_throws_invalid_argument) {
  EXPECT_THROW(timer(-1ms, [] {}), std::invalid_argument);
}

TEST(ThreadingTimer, is_a_thread_with_name_and_daemon_options) {
  corio_test::watchdog guard(30s, "timer as thread");
  std::string name_inside;
  timer t(thread_options{"tick", true}, 1ms,
          [&] { name_inside = corio::threading::current_thread().name(); });
  EXPECT_EQ(t.name(), "tick");
  EXPECT_TRUE(t.daemon());
  t.start();
  EXPECT_TRUE(t.join(10s));
  EXPECT_EQ(name_inside, "tick");
}

TEST(ThreadingTimer, destroying_a_pending_non_daemon_timer_waits_for_it_to_fire) {
  corio_test::watchdog guard(30s, "timer destroy");
  std::atomic<bool> fired{false};
  {
    timer t(20ms, [&] { fired = true; });
    t.start();
  }
  EXPECT_TRUE(fired.load());
}

// -- start_timer: timers no object owns --------------------------------------------------

TEST(ThreadingStartTimer, fires_after_the_interval_with_its_arguments_and_the_handle_joins_it) {
  // Python: threading.Timer(0.05, f, args=(7,)).start(), the object dropped.
  corio_test::watchdog guard(30s, "start_timer fires");
  std::atomic<int> arg{0};
  steady::time_point fired_at;
  const auto t0 = steady::now();
  corio::threading::timer_handle h = corio::threading::start_timer(
      50ms,
      [&](int x) {
        fired_at = steady::now();
        arg = x;
      },
      7);
  EXPECT_EQ(h.interval(), 50ms);
  EXPECT_TRUE(h.is_alive());
  h.join();
  EXPECT_EQ(arg.load(), 7);
  EXPECT_TRUE(on_time(fired_at - t0, 50ms));
}

TEST(ThreadingStartTimer, cancelled_through_its_handle_it_never_fires_and_its_thread_ends) {
  corio_test::watchdog guard(30s, "start_timer cancel");
  std::atomic<bool> fired{false};
  auto h = corio::threading::start_timer(thread_options{"reminder", std::nullopt}, 10s, [&] { fired = true; });
  EXPECT_EQ(h.name(), "reminder");
  const auto t0 = steady::now();
  h.cancel();
  h.join();
  EXPECT_LT(steady::now() - t0, 5s);  // did not wait out the interval
  EXPECT_FALSE(fired.load());
  h.cancel();  // again: harmless
}

TEST(ThreadingStartTimer, a_timer_re_armed_from_its_own_function_ticks_without_owning_objects) {
  // Python's periodic idiom: def tick(n): ...; Timer(0.01, tick, (n + 1,)).start()
  corio_test::watchdog guard(30s, "start_timer re-armed");
  std::atomic<int> ticks{0};
  corio::threading::event done;
  std::function<void(int)> tick = [&](int n) {
    ticks = n;
    if (n == 5) {
      done.set();
      return;
    }
    corio::threading::start_timer(1ms, tick, n + 1);
  };
  corio::threading::start_timer(1ms, tick, 1);
  EXPECT_TRUE(done.wait(20s));
  EXPECT_EQ(ticks.load(), 5);
}

TEST(ThreadingStartTimer, negative_interval_throws_invalid_argument) {
  EXPECT_THROW(corio::threading::start_timer(-1ms, [] {}), std::invalid_argument);
}

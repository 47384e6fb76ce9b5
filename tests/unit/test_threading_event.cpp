// Unit tests for <corio/threading/event.hpp>: event (threading.Event).
#include <corio/threading/event.hpp>

#include <corio/threading/thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::event;
using corio_test::all_asleep;
using corio_test::on_time;
using corio_test::steady;

TEST(ThreadingEvent, set_and_clear_change_the_flag) {
  event e;
  EXPECT_FALSE(e.is_set());
  e.set();
  EXPECT_TRUE(e.is_set());
  e.set();  // harmless twice
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
}

TEST(ThreadingEvent, wait_on_a_set_event_returns_true_at_once) {
  event e;
  e.set();
  EXPECT_TRUE(e.wait());
  EXPECT_TRUE(e.wait(0s));
  EXPECT_TRUE(e.wait(10s));
}

TEST(ThreadingEvent, timed_wait_returns_false_after_the_timeout) {
  event e;
  const auto t0 = steady::now();
  EXPECT_FALSE(e.wait(60ms));
  const auto took = steady::now() - t0;
  EXPECT_TRUE(on_time(took, 60ms));
  EXPECT_FALSE(e.wait(0s));
  EXPECT_FALSE(e.wait_until(std::chrono::system_clock::now() + 5ms));
}

TEST(ThreadingEvent, negative_timeout_throws_invalid_argument) {
  event e;
  EXPECT_THROW(e.wait(-1ms), std::invalid_argument);
  e.set();
  EXPECT_THROW(e.wait(-1ms), std::invalid_argument);
}

TEST(ThreadingEvent, set_wakes_every_waiter) {
  corio_test::watchdog guard(30s, "event set");
  event e;
  std::atomic<int> woken{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 5; ++i) {
    ts.emplace_back([&, i] {
      if (i % 2 == 0) {
        EXPECT_TRUE(e.wait());
      } else {
        EXPECT_TRUE(e.wait(10s));
      }
      ++woken;
    });
  }
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(woken.load(), 0);
  e.set();
  for (auto& t : ts) t.join();
  EXPECT_EQ(woken.load(), 5);
}

TEST(ThreadingEvent, clear_right_after_set_does_not_unwake_the_waiters) {
  corio_test::watchdog guard(30s, "set then clear");
  event e;
  std::vector<std::atomic<std::uint64_t>> tids(3);
  std::atomic<int> returned_true{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&, i] {
      tids[i] = corio::threading::get_native_id();
      if (e.wait(10s)) ++returned_true;
    });
  }
  EXPECT_TRUE(all_asleep(tids));
  e.set();
  e.clear();
  for (auto& t : ts) t.join();
  EXPECT_EQ(returned_true.load(), 3);
  EXPECT_FALSE(e.is_set());
}

TEST(ThreadingEvent, a_set_during_a_timed_wait_returns_true) {
  corio_test::watchdog guard(30s, "set during wait");
  event e;
  std::thread setter([&] {
    std::this_thread::sleep_for(10ms);
    e.set();
  });
  EXPECT_TRUE(e.wait(10s));
  setter.join();
}

// Unit tests for <corio/threading/semaphore.hpp>: semaphore and
// bounded_semaphore (threading.Semaphore, threading.BoundedSemaphore).
#include <corio/threading/semaphore.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::bounded_semaphore;
using corio::threading::semaphore;
using corio_test::eventually;
using corio_test::on_time;
using corio_test::steady;
using corio_test::what_of;

TEST(ThreadingSemaphore, negative_initial_value_throws_invalid_argument) {
  EXPECT_THROW(semaphore(-1), std::invalid_argument);
  EXPECT_THROW(bounded_semaphore(-3), std::invalid_argument);
  semaphore zero(0);
  EXPECT_EQ(zero.value(), 0);
  semaphore def;
  EXPECT_EQ(def.value(), 1);
}

TEST(ThreadingSemaphore, acquire_takes_permits_until_none_are_left) {
  semaphore s(2);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire(false));
  EXPECT_EQ(s.value(), 0);
  EXPECT_FALSE(s.acquire(false));
  EXPECT_FALSE(s.acquire(0s));
  s.release();
  EXPECT_EQ(s.value(), 1);
  EXPECT_TRUE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire());
  EXPECT_FALSE(s.try_acquire_for(-1ms));
  EXPECT_FALSE(s.try_acquire_until(std::chrono::system_clock::now() + 5ms));
}

TEST(ThreadingSemaphore, timed_acquire_returns_false_after_the_timeout) {
  semaphore s(0);
  const auto t0 = steady::now();
  EXPECT_FALSE(s.acquire(60ms));
  const auto took = steady::now() - t0;
  EXPECT_TRUE(on_time(took, 60ms));
  EXPECT_THROW(s.acquire(-1ms), std::invalid_argument);
}

TEST(ThreadingSemaphore, release_n_wakes_n_waiters) {
  corio_test::watchdog guard(30s, "release(n)");
  semaphore s(0);
  std::atomic<int> through{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&] {
      EXPECT_TRUE(s.acquire(10s));
      ++through;
    });
  }
  s.release(2);
  EXPECT_TRUE(eventually([&] { return through.load() == 2; }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(through.load(), 2);
  EXPECT_EQ(s.value(), 0);
  s.release();
  for (auto& t : ts) t.join();
  EXPECT_EQ(through.load(), 3);
  EXPECT_EQ(s.value(), 0);
}

TEST(ThreadingSemaphore, release_of_zero_permits_throws) {
  semaphore s;
  EXPECT_THROW(s.release(0), std::invalid_argument);
  EXPECT_EQ(s.value(), 1);
}

TEST(ThreadingSemaphore, plain_semaphore_release_is_unbounded_up_to_overflow) {
  semaphore s(1);
  s.release(5);
  EXPECT_EQ(s.value(), 6);
  semaphore big(std::numeric_limits<std::int64_t>::max() - 1);
  big.release();
  EXPECT_THROW(big.release(), std::overflow_error);
}

TEST(ThreadingSemaphore, scoped_guard_returns_the_permit) {
  semaphore s(1);
  {
    auto g = s.scoped();
    EXPECT_EQ(s.value(), 0);
  }
  EXPECT_EQ(s.value(), 1);
}

TEST(ThreadingBoundedSemaphore, release_above_the_initial_value_throws) {
  bounded_semaphore s(2);
  EXPECT_EQ(what_of<std::invalid_argument>([&] { s.release(); }), "Semaphore released too many times");
  EXPECT_EQ(s.value(), 2);
  s.acquire();
  s.acquire();
  EXPECT_THROW(s.release(3), std::invalid_argument);
  EXPECT_EQ(s.value(), 0);  // a refused release changes nothing
  s.release(2);
  EXPECT_EQ(s.value(), 2);
  semaphore& base = s;  // the bound holds through the base class too
  EXPECT_THROW(base.release(), std::invalid_argument);
}

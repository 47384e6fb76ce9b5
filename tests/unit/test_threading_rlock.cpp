// Unit tests for <corio/threading/rlock.hpp>: rlock (threading.RLock).
#include <corio/threading/rlock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::rlock;
using corio_test::what_of;

TEST(ThreadingRLock, the_owner_acquires_again_and_counts) {
  rlock rl;
  EXPECT_FALSE(rl.locked());
  EXPECT_FALSE(rl.owned_by_me());
  EXPECT_EQ(rl.recursion_count(), 0u);
  EXPECT_TRUE(rl.acquire());
  EXPECT_TRUE(rl.acquire(false));
  EXPECT_TRUE(rl.acquire(0s));
  EXPECT_EQ(rl.recursion_count(), 3u);
  EXPECT_TRUE(rl.owned_by_me());
  rl.release();
  rl.release();
  EXPECT_TRUE(rl.locked());
  EXPECT_EQ(rl.recursion_count(), 1u);
  rl.release();
  EXPECT_FALSE(rl.locked());
  EXPECT_EQ(rl.recursion_count(), 0u);
}

TEST(ThreadingRLock, release_when_unowned_throws) {
  rlock rl;
  EXPECT_EQ(what_of<std::runtime_error>([&] { rl.release(); }), "cannot release un-acquired lock");
}

TEST(ThreadingRLock, other_threads_cannot_take_or_release_it) {
  rlock rl;
  rl.acquire();
  rl.acquire();
  std::thread other([&] {
    EXPECT_FALSE(rl.owned_by_me());
    EXPECT_EQ(rl.recursion_count(), 0u);
    EXPECT_TRUE(rl.locked());
    EXPECT_FALSE(rl.acquire(false));
    EXPECT_FALSE(rl.acquire(30ms));
    EXPECT_THROW(rl.release(), std::runtime_error);
  });
  other.join();
  EXPECT_EQ(rl.recursion_count(), 2u);
  rl.release();
  rl.release();
}

TEST(ThreadingRLock, freed_only_by_the_last_release) {
  corio_test::watchdog guard(30s, "rlock hand-over");
  rlock rl;
  rl.acquire();
  rl.acquire();
  std::atomic<bool> got{false};
  std::thread other([&] {
    EXPECT_TRUE(rl.acquire(10s));
    got = true;
    EXPECT_EQ(rl.recursion_count(), 1u);
    rl.release();
  });
  rl.release();
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(got.load());
  rl.release();
  other.join();
  EXPECT_TRUE(got.load());
  EXPECT_FALSE(rl.locked());
}

TEST(ThreadingRLock, negative_timeout_throws_invalid_argument) {
  rlock rl;
  EXPECT_THROW(rl.acquire(-1s), std::invalid_argument);
}

TEST(ThreadingRLock, lockable_and_scoped) {
  rlock rl;
  {
    std::unique_lock a(rl);
    std::unique_lock b(rl);  // reentrant through std types too
    EXPECT_EQ(rl.recursion_count(), 2u);
  }
  EXPECT_FALSE(rl.locked());
  {
    auto g = rl.scoped();
    auto h = rl.scoped();
    EXPECT_EQ(rl.recursion_count(), 2u);
  }
  EXPECT_FALSE(rl.locked());
  EXPECT_TRUE(rl.try_lock());
  EXPECT_TRUE(rl.try_lock_for(1ms));
  EXPECT_TRUE(rl.try_lock_until(std::chrono::system_clock::now()));
  EXPECT_EQ(rl.recursion_count(), 3u);
  std::thread([&] {
    EXPECT_FALSE(rl.try_lock());
    EXPECT_FALSE(rl.try_lock_for(5ms));
    EXPECT_FALSE(rl.try_lock_until(std::chrono::steady_clock::now() + 5ms));
  }).join();
  rl.unlock();
  rl.unlock();
  rl.unlock();
  EXPECT_FALSE(rl.locked());
}

// Unit tests for <corio/threading/lock.hpp>: primitive_lock (threading.Lock)
// and scoped_guard.
#include <corio/threading/lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::lock;
using corio::threading::primitive_lock;
using corio::threading::scoped_guard;
using corio_test::on_time;
using corio_test::steady;
using corio_test::what_of;

TEST(ThreadingLock, starts_unlocked_and_acquire_release_toggle_locked) {
  lock lk;
  EXPECT_FALSE(lk.locked());
  EXPECT_TRUE(lk.acquire());
  EXPECT_TRUE(lk.locked());
  lk.release();
  EXPECT_FALSE(lk.locked());
}

TEST(ThreadingLock, lock_is_an_alias_of_primitive_lock) {
  static_assert(std::is_same_v<lock, primitive_lock>);
  static_assert(!std::is_copy_constructible_v<lock> && !std::is_move_constructible_v<lock>);
}

TEST(ThreadingLock, non_blocking_acquire_of_a_held_lock_fails_at_once) {
  lock lk;
  ASSERT_TRUE(lk.acquire(false));
  const auto t0 = steady::now();
  EXPECT_FALSE(lk.acquire(false));  // not reentrant, even for the holder
  EXPECT_LT(steady::now() - t0, 1s);
  lk.release();
}

TEST(ThreadingLock, timed_acquire_of_a_held_lock_returns_false_after_the_timeout) {
  lock lk;
  lk.acquire();
  std::thread other([&] {
    const auto t0 = steady::now();
    EXPECT_FALSE(lk.acquire(80ms));
    EXPECT_TRUE(on_time(steady::now() - t0, 80ms));
  });
  other.join();
  EXPECT_TRUE(lk.locked());
  lk.release();
}

TEST(ThreadingLock, zero_timeout_is_one_attempt) {
  lock lk;
  EXPECT_TRUE(lk.acquire(0s));
  EXPECT_FALSE(lk.acquire(0s));
  lk.release();
}

TEST(ThreadingLock, float_and_huge_timeouts_are_accepted) {
  lock lk;
  EXPECT_TRUE(lk.acquire(std::chrono::duration<double>(0.01)));
  EXPECT_FALSE(lk.acquire(std::chrono::duration<double>(0.01)));
  lk.release();
  EXPECT_TRUE(lk.acquire(std::chrono::hours::max()));  // saturates, does not overflow
  std::thread releaser([&] { lk.release(); });
  EXPECT_TRUE(lk.acquire(std::chrono::hours::max()));  // waits for the release
  releaser.join();
  lk.release();
}

TEST(ThreadingLock, negative_timeout_throws_invalid_argument) {
  lock lk;
  EXPECT_THROW(lk.acquire(-1ms), std::invalid_argument);
  EXPECT_THROW(lk.acquire(std::chrono::duration<double>(-0.5)), std::invalid_argument);
  EXPECT_FALSE(lk.locked());
}

TEST(ThreadingLock, release_of_an_unlocked_lock_throws_runtime_error) {
  lock lk;
  EXPECT_EQ(what_of<std::runtime_error>([&] { lk.release(); }), "release unlocked lock");
  lk.acquire();
  lk.release();
  EXPECT_THROW(lk.release(), std::runtime_error);
  EXPECT_FALSE(lk.locked());
}

TEST(ThreadingLock, another_thread_may_release) {
  lock lk;
  lk.acquire();
  std::thread([&] { lk.release(); }).join();
  EXPECT_FALSE(lk.locked());
}

TEST(ThreadingLock, blocked_acquirer_gets_the_lock_on_release) {
  corio_test::watchdog guard(30s, "blocked acquirer");
  lock lk;
  lk.acquire();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    EXPECT_TRUE(lk.acquire(10s));
    got = true;
    lk.release();
  });
  std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(got.load());
  lk.release();
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_FALSE(lk.locked());
}

TEST(ThreadingLock, many_waiters_are_all_served) {
  corio_test::watchdog guard(30s, "many waiters");
  lock lk;
  lk.acquire();
  int inside = 0;
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; ++i) {
    ts.emplace_back([&] {
      ASSERT_TRUE(lk.acquire(10s));
      ++inside;  // guarded by lk
      lk.release();
    });
  }
  std::this_thread::sleep_for(10ms);
  lk.release();
  for (auto& t : ts) t.join();
  EXPECT_EQ(inside, 6);
}

TEST(ThreadingLock, works_with_std_lock_types_and_condition_variable_any) {
  lock lk;
  {
    std::unique_lock ul(lk);
    EXPECT_TRUE(lk.locked());
  }
  EXPECT_FALSE(lk.locked());
  {
    std::scoped_lock sl(lk);
    EXPECT_TRUE(lk.locked());
  }
  EXPECT_TRUE(lk.try_lock());
  EXPECT_FALSE(lk.try_lock());
  EXPECT_FALSE(lk.try_lock_for(-5ms));  // std semantics: one attempt
  EXPECT_FALSE(lk.try_lock_for(10ms));
  EXPECT_FALSE(lk.try_lock_until(std::chrono::system_clock::now() + 10ms));
  EXPECT_FALSE(lk.try_lock_until(steady::now() - 1s));
  lk.unlock();
  EXPECT_TRUE(lk.try_lock_until(std::chrono::system_clock::now() + 10ms));
  lk.unlock();

  std::condition_variable_any cv;
  bool ready = false;
  std::thread setter([&] {
    std::lock_guard g(lk);
    ready = true;
    cv.notify_one();
  });
  {
    std::unique_lock ul(lk);
    EXPECT_TRUE(cv.wait_for(ul, 10s, [&] { return ready; }));
  }
  setter.join();
}

TEST(ThreadingLock, scoped_guard_releases_at_scope_exit_and_on_exception) {
  lock lk;
  {
    auto g = lk.scoped();
    EXPECT_TRUE(lk.locked());
    EXPECT_TRUE(g.owns());
  }
  EXPECT_FALSE(lk.locked());
  try {
    auto g = lk.scoped();
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(lk.locked());
}

TEST(ThreadingLock, scoped_guard_adopts_an_acquisition_made_apart_and_releases_it_on_exception) {
  // Python: if lock.acquire(timeout=1): try: ... finally: lock.release()
  lock lk;
  ASSERT_TRUE(lk.acquire(1s));
  try {
    scoped_guard g(lk, corio::threading::adopt_lock);  // CTAD: scoped_guard<lock>
    EXPECT_TRUE(g.owns());
    EXPECT_TRUE(lk.locked());
    throw std::runtime_error("x");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(lk.locked());
  corio::threading::rlock r;
  ASSERT_TRUE(r.acquire());
  ASSERT_TRUE(r.acquire());
  {
    scoped_guard g(r, std::adopt_lock);  // the standard tag is the same
    EXPECT_EQ(r.recursion_count(), 2u);
  }
  EXPECT_EQ(r.recursion_count(), 1u);  // one release per guard
  r.release();
}

TEST(ThreadingLock, scoped_guard_moves_and_resets) {
  lock lk;
  auto g = lk.scoped();
  scoped_guard<lock> moved = std::move(g);
  EXPECT_FALSE(g.owns());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_TRUE(moved.owns());
  EXPECT_TRUE(lk.locked());
  moved.reset();
  EXPECT_FALSE(lk.locked());
  moved.reset();  // harmless twice
  lock other;
  scoped_guard<lock> a = other.scoped();
  a = lk.scoped();  // releases `other`, adopts `lk`
  EXPECT_FALSE(other.locked());
  EXPECT_TRUE(lk.locked());
}

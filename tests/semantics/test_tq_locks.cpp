// Semantic tests for docs/semantics.md section 12, the threading primitives:
// Lock, RLock, Condition, Event, Semaphore, BoundedSemaphore, Barrier
// (TQ-08..TQ-13). Scenarios follow CPython's Lib/test/lock_tests.py; every
// blocking wait is bounded so that a lost wake-up fails instead of hanging.
//
// Parts of rules with nothing to test in C++:
//   TQ-08  acquire(blocking=False, timeout=t) (ValueError): the two are
//          separate overloads, so the combination does not compile.
//          acquire(timeout=1e100) (OverflowError): durations saturate to
//          "for ever" instead.
//   TQ-13  `action=None`/`timeout=None`: an empty std::function and
//          std::nullopt.
#include <corio/threading/barrier.hpp>
#include <corio/threading/condition.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/lock.hpp>
#include <corio/threading/rlock.hpp>
#include <corio/threading/semaphore.hpp>
#include <corio/threading/thread.hpp>

#include <corio/exceptions.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace th = corio::threading;

using corio_test::all_asleep;
using corio_test::eventually;
using corio_test::on_time;
using corio_test::steady;
using corio_test::thread_bunch;
using corio_test::what_of;

// == TQ-08 ==========================================================================

TEST(TQ_08, release_when_unlocked_raises) {
  th::lock lk;
  EXPECT_THROW(lk.release(), std::runtime_error);
  lk.acquire();
  lk.release();
  EXPECT_THROW(lk.release(), std::runtime_error);
}

TEST(TQ_08, lock_is_not_reentrant) {
  th::lock lk;
  lk.acquire();
  EXPECT_FALSE(lk.acquire(false));
  EXPECT_FALSE(lk.acquire(10ms));
  lk.release();
}

TEST(TQ_08, lock_may_be_released_by_another_thread) {
  // lock_tests.LockTests.test_different_thread
  corio_test::watchdog guard(30s, "TQ-08 different thread");
  th::lock lk;
  th::thread t([&] { lk.acquire(); });
  t.start();
  t.join();
  EXPECT_TRUE(lk.locked());
  lk.release();
  EXPECT_FALSE(lk.locked());
}

TEST(TQ_08, acquire_with_timeout_returns_false_on_timeout) {
  // lock_tests.BaseLockTests.test_timeout
  corio_test::watchdog guard(30s, "TQ-08 timeout");
  th::lock lk;
  EXPECT_THROW(lk.acquire(-100s), std::invalid_argument);
  EXPECT_TRUE(lk.acquire(std::chrono::hours::max()));  // TIMEOUT_MAX is fine
  lk.release();
  const auto t0 = steady::now();
  EXPECT_TRUE(lk.acquire(5s));  // free: at once
  EXPECT_LT(steady::now() - t0, 5s);
  std::vector<steady::duration> took(1);
  std::vector<bool> results(2);
  thread_bunch b(1, [&](int) {
    const auto s0 = steady::now();
    results[0] = lk.acquire(0s);
    const auto s1 = steady::now();
    results[1] = lk.acquire(100ms);
    took[0] = steady::now() - s1;
    (void)s0;
  });
  b.join();
  EXPECT_FALSE(results[0]);
  EXPECT_FALSE(results[1]);
  EXPECT_TRUE(on_time(took[0], 100ms));
  lk.release();
}

TEST(TQ_08, non_blocking_acquire_never_blocks) {
  // lock_tests.BaseLockTests.test_try_acquire(_contended)
  corio_test::watchdog guard(30s, "TQ-08 try acquire");
  th::lock lk;
  EXPECT_TRUE(lk.acquire(false));
  std::vector<int> result;
  thread_bunch b(1, [&](int) {
    const auto t0 = steady::now();
    result.push_back(lk.acquire(false) ? 1 : 0);
    result.push_back(steady::now() - t0 < 1s ? 1 : 0);
  });
  b.join();
  EXPECT_EQ(result, (std::vector<int>{0, 1}));
  lk.release();
}

// == TQ-09 ==========================================================================

TEST(TQ_09, rlock_is_reentrant_by_its_owner) {
  // lock_tests.RLockTests.test_reacquire
  th::rlock rl;
  rl.acquire();
  rl.acquire();
  rl.acquire();
  EXPECT_EQ(rl.recursion_count(), 3u);
  rl.release();
  rl.release();
  rl.release();
  EXPECT_FALSE(rl.locked());
}

TEST(TQ_09, release_when_unowned_raises) {
  // lock_tests.RLockTests.test_release_unacquired
  th::rlock rl;
  EXPECT_THROW(rl.release(), std::runtime_error);
  rl.acquire();
  rl.acquire();
  rl.release();
  rl.acquire();
  rl.release();
  rl.release();
  EXPECT_THROW(rl.release(), std::runtime_error);
}

TEST(TQ_09, release_by_a_non_owner_raises) {
  // lock_tests.RLockTests.test_different_thread
  corio_test::watchdog guard(30s, "TQ-09 different thread");
  th::rlock rl;
  th::event release_it;
  th::thread t([&] {
    rl.acquire();
    release_it.wait();
    rl.release();
  });
  t.start();
  ASSERT_TRUE(eventually([&] { return rl.locked(); }));
  EXPECT_EQ(what_of<std::runtime_error>([&] { rl.release(); }), "cannot release un-acquired lock");
  release_it.set();
  t.join();
  EXPECT_FALSE(rl.locked());
}

// == TQ-10 ==========================================================================

TEST(TQ_10, wait_without_owning_the_lock_raises) {
  // lock_tests.ConditionTests.test_unacquired_wait
  th::condition c;
  EXPECT_THROW(c.wait(), std::runtime_error);
  th::lock lk;
  th::condition over_lock(lk);
  EXPECT_THROW(over_lock.wait(1s), std::runtime_error);
}

TEST(TQ_10, notify_without_owning_the_lock_raises) {
  // lock_tests.ConditionTests.test_unacquired_notify
  th::condition c;
  EXPECT_THROW(c.notify(), std::runtime_error);
  EXPECT_THROW(c.notify_all(), std::runtime_error);
}

TEST(TQ_10, wait_with_timeout_returns_false_on_timeout) {
  // lock_tests.ConditionTests.test_timeout: several threads time out.
  corio_test::watchdog guard(30s, "TQ-10 timeout");
  th::condition c;
  std::mutex mu;
  std::vector<bool> results;
  std::vector<steady::duration> took;
  {
    thread_bunch b(3, [&](int) {
      auto g = c.scoped();
      const auto t0 = steady::now();
      const bool r = c.wait(100ms);
      const auto d = steady::now() - t0;
      std::lock_guard lg(mu);
      results.push_back(r);
      took.push_back(d);
    });
  }
  ASSERT_EQ(results.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(results[i]);
    EXPECT_TRUE(on_time(took[i], 100ms));
  }
}

TEST(TQ_10, wait_for_with_timeout_returns_the_last_predicate_value) {
  // lock_tests.ConditionTests.test_waitfor_timeout
  corio_test::watchdog guard(30s, "TQ-10 wait_for timeout");
  th::condition c;
  int state = 0;  // guarded by c
  {
    auto g = c.scoped();
    const auto t0 = steady::now();
    EXPECT_FALSE(c.wait_for([&] { return state == 4; }, 100ms));
    EXPECT_TRUE(on_time(steady::now() - t0, 100ms));
  }
  // With a producer: returns the (truthy) value once it holds.
  th::thread producer([&] {
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(1ms);
      auto g = c.scoped();
      ++state;
      c.notify();
    }
  });
  producer.start();
  {
    auto g = c.scoped();
    EXPECT_EQ(c.wait_for([&] { return state == 4 ? state * 10 : 0; }, 10s), 40);
  }
  producer.join();
}

TEST(TQ_10, wait_reacquires_the_lock_and_notify_wakes_in_order) {
  // lock_tests.ConditionTests.test_notify (abridged): notify(1), then
  // notify(2), then notify_all().
  corio_test::watchdog guard(30s, "TQ-10 notify");
  th::condition c;
  int ready = 0;
  std::vector<int> woken;
  thread_bunch b(5, [&](int) {
    auto g = c.scoped();
    ++ready;
    EXPECT_TRUE(c.wait());
    EXPECT_TRUE(c.wait_for([] { return true; }));  // the lock is held again here
    woken.push_back(1);
  });
  ASSERT_TRUE(eventually([&] {
    auto g = c.scoped();
    return ready == 5;
  }));
  const auto count = [&] {
    auto g = c.scoped();
    return woken.size();
  };
  {
    auto g = c.scoped();
    c.notify();
  }
  EXPECT_TRUE(eventually([&] { return count() == 1; }));
  {
    auto g = c.scoped();
    c.notify(2);
  }
  EXPECT_TRUE(eventually([&] { return count() == 3; }));
  {
    auto g = c.scoped();
    c.notify_all();
  }
  b.join();
  EXPECT_EQ(woken.size(), 5u);
}

// == TQ-11 ==========================================================================

TEST(TQ_11, wait_with_timeout_returns_the_flag) {
  // lock_tests.EventTests.test_timeout
  corio_test::watchdog guard(30s, "TQ-11 timeout");
  th::event e;
  std::mutex mu;
  std::vector<bool> unset_results, set_results;
  std::vector<steady::duration> took;
  {
    thread_bunch b(3, [&](int) {
      const auto t0 = steady::now();
      const bool r = e.wait(0s);
      const bool r2 = e.wait(100ms);
      const auto d = steady::now() - t0;
      std::lock_guard g(mu);
      unset_results.push_back(r);
      unset_results.push_back(r2);
      took.push_back(d);
    });
  }
  for (bool r : unset_results) EXPECT_FALSE(r);
  for (auto d : took) EXPECT_TRUE(on_time(d, 100ms));
  e.set();
  {
    thread_bunch b(3, [&](int) {
      const bool r = e.wait(0s);
      std::lock_guard g(mu);
      set_results.push_back(r);
    });
  }
  EXPECT_EQ(set_results, (std::vector<bool>{true, true, true}));
}

TEST(TQ_11, set_wakes_all_waiters) {
  // lock_tests.EventTests.test_set_and_clear
  corio_test::watchdog guard(30s, "TQ-11 set and clear");
  th::event e;
  std::vector<std::atomic<std::uint64_t>> tids(5);
  std::atomic<int> true_results{0};
  {
    thread_bunch b(5, [&](int i) {
      tids[i] = th::get_native_id();
      if (e.wait(10s)) ++true_results;
    });
    EXPECT_TRUE(all_asleep(tids));
    e.set();
    e.clear();
  }
  EXPECT_EQ(true_results.load(), 5);
  EXPECT_FALSE(e.is_set());
}

// == TQ-12 ==========================================================================

TEST(TQ_12, negative_initial_value_raises) {
  // lock_tests.BaseSemaphoreTests.test_constructor
  EXPECT_THROW(th::semaphore(-1), std::invalid_argument);
  EXPECT_THROW(th::bounded_semaphore(-1), std::invalid_argument);
  th::semaphore s0(0);
  th::semaphore s1(1);
  th::bounded_semaphore b0(0);
  EXPECT_EQ(s0.value(), 0);
  EXPECT_EQ(b0.value(), 0);
}

TEST(TQ_12, acquire_with_timeout_returns_false_on_timeout) {
  // lock_tests.BaseSemaphoreTests.test_acquire_timeout
  th::semaphore s(2);
  EXPECT_THROW(s.acquire(-1s), std::invalid_argument);
  EXPECT_TRUE(s.acquire(0s));
  EXPECT_TRUE(s.acquire(0s));
  EXPECT_FALSE(s.acquire(0s));
  s.release();
  EXPECT_TRUE(s.acquire(1ms));
  const auto t0 = steady::now();
  EXPECT_FALSE(s.acquire(100ms));
  EXPECT_TRUE(on_time(steady::now() - t0, 100ms));
  EXPECT_FALSE(s.acquire(false));
}

TEST(TQ_12, release_n_releases_n) {
  // lock_tests.BaseSemaphoreTests.test_multirelease
  corio_test::watchdog guard(30s, "TQ-12 multirelease");
  th::semaphore s(7);
  s.acquire();
  s.release(2);  // value 8
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  // And with waiters: release(3) lets exactly three through.
  std::atomic<int> through{0};
  thread_bunch b(4, [&](int) {
    if (s.acquire(10s)) ++through;
  });
  s.release(3);
  EXPECT_TRUE(eventually([&] { return through.load() == 3; }));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(through.load(), 3);
  s.release();
  b.join();
  EXPECT_EQ(through.load(), 4);
}

TEST(TQ_12, bounded_semaphore_over_release_raises) {
  // lock_tests.BoundedSemaphoreTests.test_release_unacquired
  th::bounded_semaphore s(1);
  EXPECT_THROW(s.release(), std::invalid_argument);
  s.acquire();
  s.release();
  EXPECT_THROW(s.release(), std::invalid_argument);
  th::semaphore plain(1);
  plain.release();  // a plain semaphore has no bound
  EXPECT_EQ(plain.value(), 2);
}

// == TQ-13 ==========================================================================

namespace {
constexpr int kParties = 5;
}  // namespace

TEST(TQ_13, wait_returns_distinct_indices) {
  // lock_tests.BarrierTests.test_wait_return
  corio_test::watchdog guard(30s, "TQ-13 wait return");
  th::barrier bar(kParties);
  std::mutex mu;
  std::vector<std::size_t> indices;
  {
    thread_bunch b(kParties, [&](int) {
      const std::size_t i = bar.wait(10s);
      std::lock_guard g(mu);
      indices.push_back(i);
    });
  }
  std::sort(indices.begin(), indices.end());
  EXPECT_EQ(indices, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(TQ_13, action_runs_once_per_cycle_in_one_thread_before_release) {
  // lock_tests.BarrierTests.test_action
  corio_test::watchdog guard(30s, "TQ-13 action");
  std::vector<int> results;  // appended by the action only
  th::barrier bar(kParties, [&] { results.push_back(1); });
  std::atomic<int> bad{0};
  {
    thread_bunch b(kParties, [&](int) {
      for (int cycle = 1; cycle <= 2; ++cycle) {
        bar.wait(10s);
        if (static_cast<int>(results.size()) < cycle) ++bad;  // released before the action ran
      }
    });
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(results.size(), 2u);
}

TEST(TQ_13, exception_in_action_breaks_the_barrier) {
  // lock_tests.BarrierTests.test_abort_and_reset's sibling: the action throws.
  corio_test::watchdog guard(30s, "TQ-13 action throws");
  th::barrier bar(kParties, [] { throw std::runtime_error("action"); });
  std::atomic<int> broken{0}, action{0};
  {
    thread_bunch b(kParties, [&](int) {
      try {
        bar.wait(10s);
      } catch (const corio::broken_barrier_error&) {
        ++broken;
      } catch (const std::runtime_error&) {
        ++action;
      }
    });
  }
  EXPECT_EQ(action.load(), 1);
  EXPECT_EQ(broken.load(), kParties - 1);
  EXPECT_TRUE(bar.broken());
}

TEST(TQ_13, abort_breaks_the_barrier_for_everyone) {
  // lock_tests.BarrierTests.test_abort: one thread aborts instead of waiting.
  corio_test::watchdog guard(30s, "TQ-13 abort");
  th::barrier bar(kParties);
  std::atomic<int> broken{0}, passed{0};
  {
    thread_bunch b(kParties, [&](int i) {
      try {
        if (i == kParties / 2) {
          ASSERT_TRUE(eventually([&] { return bar.n_waiting() == kParties - 1; }));
          bar.abort();
          throw corio::broken_barrier_error("aborted here");
        }
        bar.wait(10s);
        ++passed;
      } catch (const corio::broken_barrier_error&) {
        ++broken;
      }
    });
  }
  EXPECT_EQ(passed.load(), 0);
  EXPECT_EQ(broken.load(), kParties);
  EXPECT_TRUE(bar.broken());
  EXPECT_THROW(bar.wait(1s), corio::broken_barrier_error);  // until reset
  bar.reset();
  EXPECT_FALSE(bar.broken());
}

TEST(TQ_13, reset_breaks_current_waiters_and_makes_the_barrier_usable) {
  // lock_tests.BarrierTests.test_reset
  corio_test::watchdog guard(30s, "TQ-13 reset");
  th::barrier bar(kParties);
  std::atomic<int> broken{0}, second_round{0};
  {
    thread_bunch b(kParties, [&](int i) {
      if (i == kParties / 2) {
        ASSERT_TRUE(eventually([&] { return bar.n_waiting() == kParties - 1; }));
        bar.reset();
      } else {
        try {
          bar.wait(10s);
        } catch (const corio::broken_barrier_error&) {
          ++broken;
        }
      }
      // Everyone meets again on the reset barrier (the resetter too).
      bar.wait(10s);
      ++second_round;
    });
  }
  EXPECT_EQ(broken.load(), kParties - 1);
  EXPECT_EQ(second_round.load(), kParties);
  EXPECT_FALSE(bar.broken());
}

TEST(TQ_13, wait_timeout_breaks_the_barrier) {
  // lock_tests.BarrierTests.test_timeout: one thread is late, the others
  // time out and the barrier breaks.
  corio_test::watchdog guard(30s, "TQ-13 timeout");
  th::barrier bar(kParties);
  std::atomic<int> broken{0};
  {
    thread_bunch b(kParties - 1, [&](int) {
      try {
        bar.wait(100ms);
      } catch (const corio::broken_barrier_error&) {
        ++broken;
      }
    });
  }
  EXPECT_EQ(broken.load(), kParties - 1);
  EXPECT_TRUE(bar.broken());
}

TEST(TQ_13, default_timeout_applies) {
  // lock_tests.BarrierTests.test_default_timeout
  corio_test::watchdog guard(30s, "TQ-13 default timeout");
  th::barrier bar(kParties, {}, 100ms);
  std::atomic<int> broken{0};
  const auto t0 = steady::now();
  {
    thread_bunch b(kParties - 1, [&](int) {
      try {
        bar.wait();
      } catch (const corio::broken_barrier_error&) {
        ++broken;
      }
    });
  }
  EXPECT_EQ(broken.load(), kParties - 1);
  EXPECT_GE(steady::now() - t0, 100ms);
  EXPECT_TRUE(bar.broken());
}

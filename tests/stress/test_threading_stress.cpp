// Stress: the threading primitives under contention. No wake-up is ever lost
// (every wait has a timeout of seconds that a lost wake-up would run into,
// turning a hang into a failure), no limit is ever exceeded, and timed waits
// end on time while other threads keep the cores busy. Meant to run under
// ThreadSanitizer too; sized to finish in seconds there.
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
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace th = corio::threading;
using corio_test::run_threads;
using corio_test::steady;

namespace {

// A wait this long only runs out if a wake-up was lost.
constexpr auto kLost = 5s;

}  // namespace

TEST(StressThreading, eight_threads_increment_a_lock_protected_counter) {
  corio_test::watchdog guard(60s, "lock counter");
  constexpr int kThreads = 8, kIters = 20000;
  th::lock lk;
  std::int64_t counter = 0;
  std::atomic<int> timeouts{0};
  run_threads(kThreads, [&](int t) {
    for (int i = 0; i < kIters; ++i) {
      if ((i + t) % 3 == 0) {
        auto g = lk.scoped();
        ++counter;
      } else if (lk.acquire(kLost)) {
        ++counter;
        lk.release();
      } else {
        ++timeouts;
      }
    }
  });
  EXPECT_EQ(timeouts.load(), 0);
  EXPECT_EQ(counter, std::int64_t{kThreads} * kIters);
  EXPECT_FALSE(lk.locked());
}

TEST(StressThreading, rlock_nested_acquires_from_many_threads_keep_the_count) {
  corio_test::watchdog guard(60s, "rlock counter");
  constexpr int kThreads = 4, kIters = 10000;
  th::rlock rl;
  std::int64_t counter = 0;
  std::atomic<int> bad{0};
  run_threads(kThreads, [&](int) {
    for (int i = 0; i < kIters; ++i) {
      if (!rl.acquire(kLost)) {
        ++bad;
        continue;
      }
      {
        auto inner = rl.scoped();
        ++counter;
        if (rl.recursion_count() != 2) ++bad;
      }
      rl.release();
    }
  });
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(counter, std::int64_t{kThreads} * kIters);
  EXPECT_FALSE(rl.locked());
}

TEST(StressThreading, bounded_buffer_with_notify_one_never_loses_a_wake_up) {
  corio_test::watchdog guard(60s, "producer/consumer");
  constexpr int kProducers = 3, kConsumers = 3, kPerProducer = 8000;
  constexpr std::size_t kCapacity = 2;  // small: both sides block often
  th::lock lk;
  th::condition not_full(lk), not_empty(lk);
  std::deque<int> buf;
  std::int64_t consumed_sum = 0;
  int consumed = 0, produced = 0;
  std::atomic<int> lost{0};
  std::vector<std::unique_ptr<th::thread>> ts;
  for (int p = 0; p < kProducers; ++p) {
    ts.push_back(std::make_unique<th::thread>([&] {
      for (int i = 1; i <= kPerProducer; ++i) {
        auto g = lk.scoped();
        if (!not_full.wait_for([&] { return buf.size() < kCapacity; }, kLost)) {
          ++lost;
          return;
        }
        buf.push_back(i);
        ++produced;
        not_empty.notify();  // exactly one consumer
      }
    }));
  }
  for (int c = 0; c < kConsumers; ++c) {
    ts.push_back(std::make_unique<th::thread>([&] {
      for (;;) {
        auto g = lk.scoped();
        const bool ready = not_empty.wait_for(
            [&] { return !buf.empty() || consumed == kProducers * kPerProducer; }, kLost);
        if (!ready) {
          ++lost;
          return;
        }
        if (buf.empty()) return;  // everything consumed
        consumed_sum += buf.front();
        buf.pop_front();
        if (++consumed == kProducers * kPerProducer) not_empty.notify_all();  // release the other consumers
        not_full.notify();
      }
    }));
  }
  for (auto& t : ts) t->start();
  for (auto& t : ts) t->join();
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(produced, kProducers * kPerProducer);
  EXPECT_EQ(consumed, kProducers * kPerProducer);
  EXPECT_EQ(consumed_sum, std::int64_t{kProducers} * kPerProducer * (kPerProducer + 1) / 2);
}

TEST(StressThreading, notify_n_with_timed_waiters_accounts_for_every_waiter) {
  corio_test::watchdog guard(60s, "notify(n) accounting");
  // Waiters with short timeouts race notify(n) calls; afterwards every waiter
  // has returned (none stuck) and the lock is free.
  constexpr int kWaiters = 6;
  th::condition c;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> notified{0}, timed_out{0};
  std::vector<std::unique_ptr<th::thread>> ts;
  for (int i = 0; i < kWaiters; ++i) {
    ts.push_back(std::make_unique<th::thread>([&, i] {
      while (!stop.load()) {
        auto g = c.scoped();
        if (c.wait(std::chrono::microseconds(20 + 30 * i))) {
          ++notified;
        } else {
          ++timed_out;
        }
      }
    }));
  }
  for (auto& t : ts) t->start();
  const auto end = steady::now() + 400ms;
  for (std::size_t n = 1; steady::now() < end; n = n % 3 + 1) {
    auto g = c.scoped();
    c.notify(n);
  }
  stop = true;
  for (auto& t : ts) EXPECT_TRUE(t->join(10s));
  EXPECT_GT(notified.load() + timed_out.load(), 0);
}

TEST(StressThreading, semaphore_capacity_is_never_exceeded) {
  corio_test::watchdog guard(60s, "semaphore capacity");
  constexpr int kThreads = 8, kIters = 5000, kCap = 3;
  th::bounded_semaphore sem(kCap);
  std::atomic<int> inside{0}, peak{0}, lost{0};
  run_threads(kThreads, [&](int t) {
    for (int i = 0; i < kIters; ++i) {
      const bool got = (i + t) % 2 ? sem.acquire(kLost) : sem.acquire();
      if (!got) {
        ++lost;
        continue;
      }
      const int now = ++inside;
      int p = peak.load();
      while (now > p && !peak.compare_exchange_weak(p, now)) {
      }
      if (i % 64 == 0) std::this_thread::yield();
      --inside;
      sem.release();
    }
  });
  EXPECT_EQ(lost.load(), 0);
  EXPECT_LE(peak.load(), kCap);
  EXPECT_GE(peak.load(), 1);
  EXPECT_EQ(sem.value(), kCap);
}

TEST(StressThreading, semaphore_release_n_lets_exactly_n_through_each_time) {
  corio_test::watchdog guard(60s, "semaphore release(n)");
  constexpr int kWaiters = 4, kRounds = 1000;
  th::semaphore sem(0);
  std::atomic<int> acquired{0}, lost{0};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<th::thread>> ts;
  for (int i = 0; i < kWaiters; ++i) {
    ts.push_back(std::make_unique<th::thread>([&] {
      while (!stop.load()) {
        if (sem.acquire(20ms)) ++acquired;
      }
    }));
  }
  for (auto& t : ts) t->start();
  int released = 0;
  for (int r = 0; r < kRounds; ++r) {
    const int n = r % 3 + 1;
    sem.release(static_cast<std::size_t>(n));
    released += n;
    const auto end = steady::now() + kLost;
    while (acquired.load() < released && steady::now() < end) std::this_thread::yield();
    if (acquired.load() != released) {
      ++lost;
      break;
    }
  }
  stop = true;
  for (auto& t : ts) t->join();
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(acquired.load(), released);  // never more than released
  EXPECT_EQ(sem.value(), 0);
}

TEST(StressThreading, barrier_cycles_run_the_action_once_each) {
  corio_test::watchdog guard(60s, "barrier cycles");
  constexpr int kParties = 4, kCycles = 2000;
  std::int64_t actions = 0;  // written by the action, under the barrier's lock
  th::barrier bar(kParties, [&] { ++actions; });
  std::vector<std::vector<std::size_t>> index_sums(kParties, std::vector<std::size_t>(kCycles));
  std::atomic<int> broken{0};
  run_threads(kParties, [&](int t) {
    for (int c = 0; c < kCycles; ++c) {
      try {
        index_sums[t][c] = bar.wait(kLost);
      } catch (const corio::broken_barrier_error&) {
        ++broken;
        return;
      }
    }
  });
  EXPECT_EQ(broken.load(), 0);
  EXPECT_EQ(actions, kCycles);
  for (int c = 0; c < kCycles; ++c) {
    std::vector<std::size_t> round;
    for (int t = 0; t < kParties; ++t) round.push_back(index_sums[t][c]);
    std::sort(round.begin(), round.end());
    ASSERT_EQ(round, (std::vector<std::size_t>{0, 1, 2, 3})) << "cycle " << c;
  }
}

TEST(StressThreading, event_ping_pong_and_set_clear_storm) {
  corio_test::watchdog guard(60s, "event races");
  constexpr int kRounds = 5000;
  th::event ping, pong;
  std::atomic<int> lost{0};
  th::thread other([&] {
    for (int i = 0; i < kRounds; ++i) {
      if (!ping.wait(kLost)) {
        ++lost;
        return;
      }
      ping.clear();
      pong.set();
    }
  });
  other.start();
  for (int i = 0; i < kRounds; ++i) {
    ping.set();
    if (!pong.wait(kLost)) {
      ++lost;
      break;
    }
    pong.clear();
  }
  other.join();
  EXPECT_EQ(lost.load(), 0);

  // Waiters loop while a setter toggles the flag; a final set() frees them all.
  th::event flag;
  std::atomic<bool> done{false};
  std::atomic<int> finished{0};
  std::vector<std::unique_ptr<th::thread>> ts;
  for (int i = 0; i < 4; ++i) {
    ts.push_back(std::make_unique<th::thread>([&] {
      while (!done.load()) (void)flag.wait(std::chrono::microseconds(100));
      EXPECT_TRUE(flag.wait(kLost));
      ++finished;
    }));
  }
  for (auto& t : ts) t->start();
  for (int i = 0; i < 3000; ++i) {
    flag.set();
    flag.clear();
  }
  done = true;
  flag.set();
  for (auto& t : ts) t->join();
  EXPECT_EQ(finished.load(), 4);
}

TEST(StressThreading, timed_waits_end_on_time_while_the_cores_are_busy) {
  corio_test::watchdog guard(60s, "timed waits under load");
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  for (int i = 0; i < 3; ++i) {
    spinners.emplace_back([&] {
      std::uint64_t x = 0;
      while (!stop.load(std::memory_order_relaxed)) x = x * 6364136223846793005u + 1;
      EXPECT_NE(x, 42u);  // keep the loop
    });
  }
  constexpr auto kT = 50ms;
  std::mutex mu;
  std::vector<std::string> late;
  const auto check = [&](const char* what, auto&& timed_wait) {
    const auto t0 = steady::now();
    timed_wait();
    const auto took = steady::now() - t0;
    if (took < kT || took >= kT + 2s) {
      std::lock_guard g(mu);
      late.push_back(std::string(what) + ": " +
                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()) + " ms");
    }
  };
  th::lock held;
  held.acquire();
  th::rlock rheld;
  th::event never;
  th::semaphore empty(0);
  th::event release_thread;
  th::thread sleeper([&] { release_thread.wait(); });
  sleeper.start();
  std::thread rholder([&] {
    rheld.acquire();
    release_thread.wait();
    rheld.release();
  });
  while (!rheld.locked()) std::this_thread::yield();
  run_threads(4, [&](int t) {
    for (int i = 0; i < 3; ++i) {
      switch ((t + i) % 6) {
        case 0: check("lock.acquire", [&] { EXPECT_FALSE(held.acquire(kT)); }); break;
        case 1: check("rlock.acquire", [&] { EXPECT_FALSE(rheld.acquire(kT)); }); break;
        case 2: check("event.wait", [&] { EXPECT_FALSE(never.wait(kT)); }); break;
        case 3: check("semaphore.acquire", [&] { EXPECT_FALSE(empty.acquire(kT)); }); break;
        case 4: {
          th::condition c;
          auto g = c.scoped();
          check("condition.wait", [&] { EXPECT_FALSE(c.wait(kT)); });
          break;
        }
        default: check("thread.join", [&] { EXPECT_FALSE(sleeper.join(kT)); }); break;
      }
    }
  });
  {
    th::barrier bar(2);
    check("barrier.wait", [&] { EXPECT_THROW(bar.wait(kT), corio::broken_barrier_error); });
  }
  release_thread.set();
  sleeper.join();
  rholder.join();
  held.release();
  stop = true;
  for (auto& s : spinners) s.join();
  EXPECT_TRUE(late.empty()) << late.front();
}

TEST(StressThreading, threads_start_and_end_while_others_enumerate) {
  corio_test::watchdog guard(60s, "thread churn");
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> seen{0};
  std::thread watcher([&] {
    while (!stop.load()) {
      const auto all = th::enumerate();
      for (const auto& h : all) {
        if (!h.name().empty() && h.ident()) ++seen;
      }
    }
  });
  std::atomic<int> ran{0};
  for (int round = 0; round < 40; ++round) {
    std::vector<std::unique_ptr<th::thread>> ts;
    for (int i = 0; i < 4; ++i) {
      // Every other one is a daemon, destroyed (detached) without a join.
      ts.push_back(std::make_unique<th::thread>(th::thread_options{"", i % 2 == 1}, [&] {
        ++ran;
        (void)th::current_thread().name();
      }));
    }
    for (auto& t : ts) t->start();
    for (auto& t : ts) {
      if (!t->daemon()) t->join();
    }
  }
  // The detached ones end on their own.
  const auto end = steady::now() + 10s;
  while (ran.load() < 160 && steady::now() < end) std::this_thread::sleep_for(1ms);
  stop = true;
  watcher.join();
  EXPECT_EQ(ran.load(), 160);
  EXPECT_GT(seen.load(), 0);
}

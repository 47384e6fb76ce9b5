// Unit tests for <corio/threading/barrier.hpp>: barrier (threading.Barrier).
#include <corio/threading/barrier.hpp>

#include <corio/exceptions.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::broken_barrier_error;
using corio::threading::barrier;

using corio_test::eventually;
using corio_test::on_time;
using corio_test::run_threads;
using corio_test::steady;

TEST(ThreadingBarrier, zero_parties_or_a_negative_timeout_throw) {
  EXPECT_THROW(barrier(0), std::invalid_argument);
  EXPECT_THROW(barrier(2, {}, -1ms), std::invalid_argument);
  barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
  EXPECT_THROW(b.wait(-1ms), std::invalid_argument);
}

TEST(ThreadingBarrier, one_party_passes_at_once_and_runs_the_action) {
  int actions = 0;
  barrier b(1, [&] { ++actions; });
  EXPECT_EQ(b.wait(), 0u);
  EXPECT_EQ(b.wait(1s), 0u);
  EXPECT_EQ(actions, 2);
}

TEST(ThreadingBarrier, every_round_hands_out_distinct_indices) {
  corio_test::watchdog guard(30s, "barrier rounds");
  constexpr int kParties = 4, kRounds = 5;
  barrier b(kParties);
  std::mutex mu;
  std::vector<std::vector<std::size_t>> got(kRounds);
  run_threads(kParties, [&](int) {
    for (int r = 0; r < kRounds; ++r) {
      const std::size_t i = b.wait(10s);
      std::lock_guard g(mu);
      got[r].push_back(i);
    }
  });
  for (auto& round : got) {
    std::sort(round.begin(), round.end());
    EXPECT_EQ(round, (std::vector<std::size_t>{0, 1, 2, 3}));
  }
  EXPECT_FALSE(b.broken());
}

TEST(ThreadingBarrier, action_runs_once_per_round_in_one_waiting_thread_before_release) {
  corio_test::watchdog guard(30s, "barrier action");
  constexpr int kParties = 3, kRounds = 4;
  std::atomic<int> actions{0};
  std::mutex mu;
  std::vector<std::thread::id> ran_on;
  barrier b(kParties, [&] {
    ++actions;
    std::lock_guard g(mu);
    ran_on.push_back(std::this_thread::get_id());
  });
  std::vector<std::thread::id> participants(kParties);
  run_threads(kParties, [&](int t) {
    participants[t] = std::this_thread::get_id();
    for (int r = 0; r < kRounds; ++r) {
      b.wait(10s);
      // Released only after the action of this round ran.
      EXPECT_GE(actions.load(), r + 1);
    }
  });
  EXPECT_EQ(actions.load(), kRounds);
  for (auto id : ran_on) EXPECT_NE(std::find(participants.begin(), participants.end(), id), participants.end());
}

TEST(ThreadingBarrier, a_throwing_action_breaks_the_barrier_and_reaches_its_thread) {
  corio_test::watchdog guard(30s, "barrier action throws");
  barrier b(3, [] { throw std::logic_error("action failed"); });
  std::atomic<int> action_errors{0}, broken_errors{0};
  run_threads(3, [&](int) {
    try {
      b.wait(10s);
    } catch (const broken_barrier_error&) {
      ++broken_errors;
    } catch (const std::logic_error& e) {
      EXPECT_EQ(std::string(e.what()), "action failed");
      ++action_errors;
    }
  });
  EXPECT_EQ(action_errors.load(), 1);
  EXPECT_EQ(broken_errors.load(), 2);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(), broken_barrier_error);  // and later waits
  b.reset();
  EXPECT_FALSE(b.broken());
}

TEST(ThreadingBarrier, a_wait_timeout_breaks_the_barrier) {
  barrier b(2);
  const auto t0 = steady::now();
  EXPECT_THROW(b.wait(50ms), broken_barrier_error);
  const auto took = steady::now() - t0;
  EXPECT_TRUE(on_time(took, 50ms));
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(1s), broken_barrier_error);
}

TEST(ThreadingBarrier, the_default_timeout_applies_to_wait_without_one) {
  barrier b(2, {}, 40ms);
  const auto t0 = steady::now();
  EXPECT_THROW(b.wait(), broken_barrier_error);
  EXPECT_GE(steady::now() - t0, 40ms);
  EXPECT_TRUE(b.broken());
}

TEST(ThreadingBarrier, abort_breaks_current_and_later_waits_until_reset) {
  corio_test::watchdog guard(30s, "barrier abort");
  barrier b(3);
  std::atomic<int> broken_errors{0};
  std::thread a([&] {
    try {
      b.wait(10s);
    } catch (const broken_barrier_error&) {
      ++broken_errors;
    }
  });
  EXPECT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
  b.abort();
  a.join();
  EXPECT_EQ(broken_errors.load(), 1);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_THROW(b.wait(1s), broken_barrier_error);
  b.reset();
  EXPECT_FALSE(b.broken());
  // Usable again.
  run_threads(3, [&](int) { b.wait(10s); });
}

TEST(ThreadingBarrier, reset_while_threads_wait_breaks_them_and_leaves_it_usable) {
  corio_test::watchdog guard(30s, "barrier reset");
  barrier b(3);
  std::atomic<int> broken_errors{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i) {
    ts.emplace_back([&] {
      try {
        b.wait(10s);
      } catch (const broken_barrier_error&) {
        ++broken_errors;
      }
    });
  }
  EXPECT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  b.reset();
  for (auto& t : ts) t.join();
  EXPECT_EQ(broken_errors.load(), 2);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0u);
  std::atomic<int> passed{0};
  run_threads(3, [&](int) {
    b.wait(10s);
    ++passed;
  });
  EXPECT_EQ(passed.load(), 3);
}

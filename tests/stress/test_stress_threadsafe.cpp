// Stress: call_soon_threadsafe from several threads at once. Every callback
// runs exactly once, in the order its thread posted it, and the loop never
// sleeps through a post.
#include <corio/events.hpp>

#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "unit/counted.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

constexpr int kThreads = 4;
constexpr int kPerThread = 50'000;

corio::loop_options steady() {
  corio::loop_options o;
  o.debug = false;
  return o;
}

}  // namespace

TEST(StressThreadsafe, four_threads_posting_fifty_thousand_callbacks_each_run_every_one_exactly_once_in_order) {
  corio_test::watchdog guard(60s, "the call_soon_threadsafe storm");
  counted::reset();
  corio::event_loop loop(steady());
  std::vector<std::vector<int>> runs(kThreads, std::vector<int>(kPerThread, 0));
  std::vector<int> next_expected(kThreads, 0);
  std::atomic<bool> in_order{true};
  int total = 0;
  std::atomic<bool> go{false};

  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kPerThread; ++i) {
        loop.call_soon_threadsafe([&, t, i, c = counted()] {
          ++runs[t][i];
          if (next_expected[t] != i) in_order = false;
          next_expected[t] = i + 1;
          if (++total == kThreads * kPerThread) loop.stop();
        });
        // Now and then pause, so that the loop runs dry and goes to sleep
        // with posts still to come: the wake-up path gets exercised too.
        if (rng() % 2048 == 0) std::this_thread::sleep_for(200us);
      }
    });
  }
  loop.call_soon([&] { go = true; });
  loop.run_forever();  // only the last callback stops it
  for (auto& p : producers) p.join();

  EXPECT_EQ(total, kThreads * kPerThread);
  EXPECT_TRUE(in_order) << "callbacks of one thread ran out of the order they were posted";
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(runs[t][i], 1) << "thread " << t << " callback " << i;
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(StressThreadsafe, posts_waking_an_idle_loop_one_at_a_time_are_never_slept_through) {
  // Ping-pong: each post is made only after the previous one ran, so the loop
  // is asleep with no timers every time a post arrives.
  corio_test::watchdog guard(60s, "the ping-pong of wake-ups");
  constexpr int kRounds = 2'000;
  corio::event_loop loop(steady());
  std::atomic<int> ran{0};
  std::thread poster([&] {
    for (int i = 0; i < kRounds; ++i) {
      loop.call_soon_threadsafe([&] {
        if (ran.fetch_add(1) + 1 == kRounds) loop.stop();
      });
      while (ran.load() <= i) std::this_thread::yield();
    }
  });
  loop.run_forever();
  poster.join();
  EXPECT_EQ(ran.load(), kRounds);
}

TEST(StressThreadsafe, posting_while_the_loop_closes_loses_nothing_silently) {
  // Each post either runs, or is discarded by close() with its callable
  // destroyed, or is refused with an exception; none is run twice and no
  // callable leaks.
  corio_test::watchdog guard(60s, "posting during close");
  counted::reset();
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> ran{0};
    std::atomic<int> refused{0};
    std::atomic<int> accepted{0};
    std::atomic<bool> stop_posting{false};
    {
      corio::event_loop loop(steady());
      std::vector<std::thread> producers;
      for (int t = 0; t < kThreads; ++t) {
        producers.emplace_back([&] {
          while (!stop_posting.load()) {
            try {
              loop.call_soon_threadsafe([&ran, c = counted()] { ran.fetch_add(1); });
              accepted.fetch_add(1);
            } catch (const std::runtime_error&) {
              refused.fetch_add(1);
              return;  // the loop is closed
            }
          }
        });
      }
      // Run until some posts were handled, then stop and close while the
      // producers keep posting.
      std::function<void()> check = [&] {
        if (ran.load() >= 1000)
          loop.stop();
        else
          loop.call_later(100us, check);
      };
      loop.call_soon(check);
      loop.run_forever();
      loop.close();
      stop_posting = true;
      for (auto& p : producers) p.join();
      EXPECT_LE(ran.load(), accepted.load());
    }
    EXPECT_EQ(counted::alive(), 0u) << "round " << round;
  }
}

// Stress tests for corio::futures (concurrent.futures): many threads submit,
// cancel, complete, add callbacks, wait and shut down at once. Each test
// checks invariants that must hold whatever the interleaving (every call runs
// at most once, every callback exactly once, no future is lost), and is
// sized to finish in a few seconds under ThreadSanitizer.
#include "sanitizers.hpp"

#include <corio/futures/thread_pool_executor.hpp>
#include <corio/futures/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <vector>

#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace cf = corio::futures;

namespace {

constexpr int scale = corio_test::under_tsan ? 1 : 10;

}  // namespace

TEST(FuturesStress, many_submitters_each_call_runs_once_with_its_result) {
  corio_test::watchdog dog(60s, "many_submitters_each_call_runs_once_with_its_result");
  constexpr int submitters = 4;
  const int per = 2000 * scale;
  cf::thread_pool_executor ex(3);
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(submitters * per));
  std::vector<std::vector<cf::future<int>>> futs(submitters);
  std::vector<std::thread> ts;
  for (int s = 0; s < submitters; ++s)
    ts.emplace_back([&, s] {
      for (int i = 0; i < per; ++i) {
        const int id = s * per + i;
        futs[static_cast<std::size_t>(s)].push_back(ex.submit([&runs, id] {
          runs[static_cast<std::size_t>(id)].fetch_add(1);
          return id;
        }));
      }
    });
  for (auto& t : ts) t.join();
  for (int s = 0; s < submitters; ++s) {
    auto r = cf::wait(futs[static_cast<std::size_t>(s)], 30s);
    ASSERT_TRUE(r.not_done.empty());
    for (int i = 0; i < per; ++i) EXPECT_EQ(futs[static_cast<std::size_t>(s)][static_cast<std::size_t>(i)].result(), s * per + i);
  }
  for (auto& r : runs) EXPECT_EQ(r.load(), 1);
}

TEST(FuturesStress, random_cancels_never_run_and_the_rest_complete) {
  corio_test::watchdog dog(60s, "random_cancels_never_run_and_the_rest_complete");
  const int n = 3000 * scale;
  cf::thread_pool_executor ex(2);
  std::vector<std::atomic<int>> runs(static_cast<std::size_t>(n));
  std::vector<cf::future<>> fs;
  std::vector<char> cancel_ok(static_cast<std::size_t>(n), 0);
  std::mt19937 rng(12345);
  for (int i = 0; i < n; ++i) {
    fs.push_back(ex.submit([&runs, i] { runs[static_cast<std::size_t>(i)].fetch_add(1); }));
    if (rng() % 3 == 0) cancel_ok[static_cast<std::size_t>(i)] = fs.back().cancel();
  }
  // A second thread cancels too, racing the workers.
  std::thread canceller([&] {
    std::mt19937 r2(999);
    for (int k = 0; k < n / 2; ++k) {
      const auto i = static_cast<std::size_t>(r2() % static_cast<unsigned>(n));
      if (fs[i].cancel()) {
        // Once cancel() said yes, the call never runs.
      }
    }
  });
  canceller.join();
  auto r = cf::wait(fs, 30s);
  ASSERT_TRUE(r.not_done.empty());
  ex.shutdown();
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    if (fs[k].cancelled()) {
      EXPECT_EQ(runs[k].load(), 0) << i;
    } else {
      EXPECT_EQ(runs[k].load(), 1) << i;
      EXPECT_FALSE(cancel_ok[k]) << i;
    }
  }
}

TEST(FuturesStress, callbacks_added_while_completing_run_exactly_once) {
  corio_test::watchdog dog(60s, "callbacks_added_while_completing_run_exactly_once");
  const int rounds = 300 * scale;
  constexpr int adders = 3;
  constexpr int per_adder = 20;
  for (int round = 0; round < rounds; ++round) {
    cf::future<int> f;
    std::atomic<int> calls{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    for (int a = 0; a < adders; ++a)
      ts.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < per_adder; ++i) f.add_done_callback([&calls](const cf::future<int>& g) {
          if (g.done() && g.result() == 7) ++calls;
        });
      });
    std::thread completer([&] {
      while (!go.load()) std::this_thread::yield();
      if (round % 2) std::this_thread::yield();
      f.set_result(7);
    });
    go = true;
    for (auto& t : ts) t.join();
    completer.join();
    ASSERT_EQ(calls.load(), adders * per_adder) << "round " << round;
  }
}

TEST(FuturesStress, cancel_races_start_and_completion_consistently) {
  corio_test::watchdog dog(60s, "cancel_races_start_and_completion_consistently");
  const int rounds = 2000 * scale;
  for (int round = 0; round < rounds; ++round) {
    cf::future<int> f;
    std::atomic<int> callbacks{0};
    f.add_done_callback([&](const cf::future<int>&) { ++callbacks; });
    bool started = false, cancelled = false;
    std::thread worker([&] {
      started = f.set_running_or_notify_cancel();
      if (started) f.set_result(1);
    });
    std::thread canceller([&] { cancelled = f.cancel(); });
    worker.join();
    canceller.join();
    ASSERT_NE(started, cancelled) << "exactly one of start and cancel wins";
    ASSERT_TRUE(f.done());
    ASSERT_EQ(f.cancelled(), cancelled);
    ASSERT_EQ(callbacks.load(), 1);
  }
}

TEST(FuturesStress, waits_with_timeouts_while_futures_complete) {
  corio_test::watchdog dog(60s, "waits_with_timeouts_while_futures_complete");
  const int n = 400 * scale;
  std::vector<cf::future<int>> fs(static_cast<std::size_t>(n));
  std::atomic<bool> stop{false};
  std::thread completer([&] {
    std::mt19937 rng(7);
    std::vector<std::size_t> order(fs.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t k = 0; k < order.size(); ++k) {
      cf::future<int>& f = fs[order[k]];
      switch (rng() % 3) {
        case 0:
          f.set_result(1);
          break;
        case 1:
          f.set_exception(std::runtime_error("x"));
          break;
        default:
          f.cancel();
      }
      if (k % 16 == 0) std::this_thread::sleep_for(100us);
    }
    stop = true;
  });
  std::vector<std::thread> waiters;
  for (int w = 0; w < 3; ++w)
    waiters.emplace_back([&, w] {
      const cf::return_when modes[] = {cf::first_completed, cf::first_exception, cf::all_completed};
      while (!stop.load()) {
        std::vector<cf::future<int>> dup = fs;
        dup.insert(dup.end(), fs.begin(), fs.begin() + 10);  // duplicates count once
        auto r = cf::wait(dup, 1ms, modes[w]);
        ASSERT_EQ(r.done.size() + r.not_done.size(), fs.size());
        for (auto& f : r.done) ASSERT_TRUE(f.done());
      }
    });
  // as_completed with short timeouts until everything was yielded once.
  std::unordered_set<const void*> yielded;
  while (yielded.size() < fs.size()) {
    std::vector<cf::future<int>> rest;
    for (auto& f : fs)
      if (!yielded.count(f.id())) rest.push_back(f);
    try {
      for (auto& f : cf::as_completed(rest, 2ms)) {
        ASSERT_TRUE(f.done());
        ASSERT_TRUE(yielded.insert(f.id()).second);
      }
    } catch (const corio::timeout_error&) {
    }
  }
  completer.join();
  for (auto& t : waiters) t.join();
}

TEST(FuturesStress, as_completed_ranges_dropped_midway_while_completing) {
  corio_test::watchdog dog(60s, "as_completed_ranges_dropped_midway_while_completing");
  const int rounds = 200 * scale;
  for (int round = 0; round < rounds; ++round) {
    std::vector<cf::future<int>> fs(16);
    std::thread completer([fs]() mutable {
      for (auto& f : fs) f.set_result(1);
    });
    {
      auto range = cf::as_completed(fs);
      int k = 0;
      for (auto& f : range) {
        ASSERT_TRUE(f.done());
        if (++k == 3) break;  // drop it while the others complete
      }
    }
    completer.join();
  }
}

TEST(FuturesStress, blocked_result_calls_with_timeouts_all_return) {
  corio_test::watchdog dog(60s, "blocked_result_calls_with_timeouts_all_return");
  const int rounds = 100 * scale;
  for (int round = 0; round < rounds; ++round) {
    cf::future<int> f;
    std::atomic<int> got{0}, timed_out{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
      ts.emplace_back([&, i] {
        try {
          if (f.result(std::chrono::microseconds(50 * i + 1)) == 3) ++got;
        } catch (const corio::timeout_error&) {
          ++timed_out;
          if (f.result(20s) == 3) ++got;
        }
      });
    std::this_thread::sleep_for(std::chrono::microseconds(round % 100));
    f.set_result(3);
    for (auto& t : ts) t.join();
    ASSERT_EQ(got.load(), 4);
  }
}

TEST(FuturesStress, shutdown_with_cancel_futures_races_submissions) {
  corio_test::watchdog dog(60s, "shutdown_with_cancel_futures_races_submissions");
  const int rounds = 20 * scale;
  for (int round = 0; round < rounds; ++round) {
    cf::thread_pool_executor ex(2);
    std::atomic<int> ran{0};
    std::atomic<int> refused{0};
    std::mutex mu;
    std::vector<cf::future<>> fs;
    std::atomic<bool> go{false};
    std::vector<std::thread> submitters;
    for (int s = 0; s < 3; ++s)
      submitters.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        for (int i = 0; i < 300; ++i) {
          try {
            auto f = ex.submit([&] { ++ran; });
            std::lock_guard lk(mu);
            fs.push_back(std::move(f));
          } catch (const std::runtime_error&) {
            ++refused;
            return;
          }
        }
      });
    go = true;
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 5)));
    ex.shutdown(true, true);
    for (auto& t : submitters) t.join();
    // Every future the submitters got is done: it ran or was cancelled.
    int finished = 0;
    for (auto& f : fs) {
      ASSERT_TRUE(f.done());
      if (!f.cancelled()) ++finished;
    }
    EXPECT_EQ(finished, ran.load());
  }
}

TEST(FuturesStress, shutdown_races_submissions_and_accepted_calls_all_run) {
  corio_test::watchdog dog(60s, "shutdown_races_submissions_and_accepted_calls_all_run");
  const int rounds = 20 * scale;
  for (int round = 0; round < rounds; ++round) {
    std::atomic<int> ran{0};
    std::mutex mu;
    std::vector<cf::future<>> accepted;
    std::atomic<int> refused{0};
    {
      cf::thread_pool_executor ex(2);
      std::atomic<bool> go{false};
      std::vector<std::thread> submitters;
      for (int s = 0; s < 3; ++s)
        submitters.emplace_back([&] {
          while (!go.load()) std::this_thread::yield();
          for (int i = 0; i < 300; ++i) {
            try {
              auto f = ex.submit([&] { ++ran; });
              std::lock_guard lk(mu);
              accepted.push_back(std::move(f));
            } catch (const std::runtime_error& e) {
              EXPECT_STREQ(e.what(), "cannot schedule new futures after shutdown");
              ++refused;
            }
          }
        });
      go = true;
      std::this_thread::sleep_for(std::chrono::microseconds(100 * (round % 7)));
      ex.shutdown(round % 2 == 0);  // with and without waiting
      for (auto& t : submitters) t.join();
    }  // the destructor waits for whatever was accepted
    // Nothing accepted is lost or cancelled; nothing refused ran.
    for (auto& f : accepted) {
      ASSERT_TRUE(f.done());
      ASSERT_FALSE(f.cancelled());
    }
    EXPECT_EQ(static_cast<int>(accepted.size()), ran.load());
    EXPECT_EQ(static_cast<int>(accepted.size()) + refused.load(), 900);
  }
}

TEST(FuturesStress, many_submitters_and_a_full_wait_over_many_futures) {
  corio_test::watchdog dog(60s, "many_submitters_and_a_full_wait_over_many_futures");
  const int n = 20000 * scale;
  cf::thread_pool_executor ex(2);
  std::vector<cf::future<>> fs;
  fs.reserve(static_cast<std::size_t>(n));
  std::atomic<int> ran{0};
  for (int i = 0; i < n; ++i) fs.push_back(ex.submit([&ran] { ran.fetch_add(1, std::memory_order_relaxed); }));
  auto r = cf::wait(fs);
  EXPECT_EQ(r.done.size(), fs.size());
  EXPECT_TRUE(r.not_done.empty());
  EXPECT_EQ(ran.load(), n);
}

TEST(FuturesStress, nested_submissions_from_workers) {
  corio_test::watchdog dog(60s, "nested_submissions_from_workers");
  // Four outer calls hold four of the eight workers while they wait for the
  // calls they submitted, which the other workers run.
  cf::thread_pool_executor ex(8);
  std::atomic<int> leaves{0};
  for (int round = 0; round < 10 * scale; ++round) {
    std::vector<cf::future<int>> outer;
    for (int i = 0; i < 4; ++i)
      outer.push_back(ex.submit([&] {
        std::vector<cf::future<int>> inner;
        for (int k = 0; k < 3; ++k) inner.push_back(ex.submit([&] {
          ++leaves;
          return 1;
        }));
        int sum = 0;
        for (auto& f : cf::as_completed(inner, 20s)) sum += f.result();
        return sum;
      }));
    for (auto& f : outer) ASSERT_EQ(f.result(30s), 3);
  }
  EXPECT_EQ(leaves.load(), 10 * scale * 12);
}

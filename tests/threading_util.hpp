// Helpers shared by the tests of the threading and futures layers and of the
// loop bridges: starting threads, waiting for what another thread does,
// watching threads through /proc and checking timed waits; with
// error_util.hpp, capturing what a call throws.
#pragma once

#include <corio/threading/thread.hpp>

#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "error_util.hpp"

namespace corio_test {

using steady = std::chrono::steady_clock;

// -- threads ---------------------------------------------------------------------------

/// Starts `n` corio threads running body(0) ... body(n - 1); joins them in
/// join() or when it goes (Python's lock_tests.Bunch). An exception that escapes a body fails the test.
class thread_bunch {
 public:
  thread_bunch(int n, const std::function<void(int)>& body) {
    const auto run = [body](int i) {
      try {
        body(i);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "thread " << i << " ended with an exception: " << e.what();
      } catch (...) {
        ADD_FAILURE() << "thread " << i << " ended with an exception";
      }
    };
    for (int i = 0; i < n; ++i) threads_.push_back(std::make_unique<corio::threading::thread>(run, i));
    for (auto& t : threads_) t->start();
  }
  thread_bunch(const thread_bunch&) = delete;
  thread_bunch& operator=(const thread_bunch&) = delete;
  ~thread_bunch() { join(); }
  void join() {
    for (auto& t : threads_) t->join();
  }

 private:
  std::vector<std::unique_ptr<corio::threading::thread>> threads_;
};

/// Runs body(0) ... body(n - 1) on `n` threads at once and waits for all.
inline void run_threads(int n, const std::function<void(int)>& body) { thread_bunch(n, body).join(); }

/// Runs `f` on a thread of its own 20 ms from now; joins it when it goes.
/// For "this call blocks until another thread does that".
class later {
 public:
  explicit later(std::function<void()> f)
      : t_([f = std::move(f)] {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          f();
        }) {}
  later(const later&) = delete;
  later& operator=(const later&) = delete;
  ~later() { t_.join(); }

 private:
  std::thread t_;
};

/// Blocks threads in wait() until open() (for ever after).
class gate {
 public:
  void open() {
    {
      std::lock_guard lk(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  /// False if the gate is still shut after `limit`.
  bool wait(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, limit, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// Polls `pred` every millisecond until it holds; false if `limit` passes
/// first.
template <class Pred>
bool eventually(Pred pred, steady::duration limit = std::chrono::seconds(10)) {
  const auto end = steady::now() + limit;
  while (!pred()) {
    if (steady::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// -- threads seen by the OS --------------------------------------------------------------

/// The calling thread's name as the OS has it (at most 15 bytes).
inline std::string this_thread_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

/// The names of this process's threads that start with `prefix`, sorted.
inline std::vector<std::string> threads_named(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(e.path() / "comm");
    std::string name;
    std::getline(in, name);
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Linux scheduler state of thread `tid` of this process ('S': asleep).
inline char task_state(std::uint64_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

/// True once every thread in `tids` has been seen asleep in two scans in a
/// row: a thread that registered as a waiter and then sleeps is blocked in
/// the wait itself (nothing else it does can block for long).
inline bool all_asleep(const std::vector<std::atomic<std::uint64_t>>& tids,
                       steady::duration limit = std::chrono::seconds(10)) {
  const auto end = steady::now() + limit;
  int clean_scans = 0;
  while (clean_scans < 2) {
    if (steady::now() > end) return false;
    bool all = true;
    for (const auto& t : tids) all = all && t.load() != 0 && task_state(t.load()) == 'S';
    clean_scans = all ? clean_scans + 1 : 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// -- timed waits -----------------------------------------------------------------------

/// How long `f()` takes.
template <class F>
steady::duration time_of(F&& f) {
  const auto start = steady::now();
  f();
  return steady::now() - start;
}

/// A timed wait that took `took` returned no earlier than `asked`, and
/// within a generous margin (the machine may be loaded):
/// EXPECT_TRUE(on_time(took, 50ms)).
inline ::testing::AssertionResult on_time(steady::duration took, steady::duration asked) {
  constexpr auto margin = std::chrono::seconds(2);
  if (took >= asked && took < asked + margin) return ::testing::AssertionSuccess();
  using ms = std::chrono::duration<double, std::milli>;
  return ::testing::AssertionFailure() << "took " << ms(took).count() << " ms for a wait of " << ms(asked).count()
                                       << " ms (allowed: up to " << ms(asked + margin).count() << " ms)";
}

}  // namespace corio_test

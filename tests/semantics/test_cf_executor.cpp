// Semantic tests for docs/semantics.md section 11, concurrent.futures:
// executors (CF-10..CF-15), on thread_pool_executor. Scenarios follow CPython's
// Lib/test/test_concurrent_futures.py (ExecutorTest, ExecutorShutdownTest,
// ThreadPoolShutdownTest, FailingInitializerMixin); where Python sleeps to keep
// a call running, these tests block the call on a gate.
//
// Parts of rules with nothing to test in C++:
//   CF-10  submit(fn, **kwargs) (test_submit_keyword): C++ has no keyword
//          arguments; a lambda binds them.
//   CF-13  Python reads executor._threads; these tests read the threads'
//          names from /proc/self/task instead, and Linux cuts a thread name
//          to 15 bytes.
//   CF-15  Python checks with weakref; these tests watch a std::weak_ptr or a
//          counted payload.
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/futures/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <numeric>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "threading_util.hpp"
#include "unit/counted.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace cf = corio::futures;
using corio_test::counted;
using corio_test::eventually;
using corio_test::gate;
using corio_test::on_time;
using corio_test::threads_named;
using corio_test::what_of;

namespace {

// Python: range(first, last).
std::vector<int> range(int first, int last) {
  std::vector<int> v;
  for (int i = first; i < last; ++i) v.push_back(i);
  return v;
}

long ipow(long b, long e) {
  long r = 1;
  while (e-- > 0) r *= b;
  return r;
}

}  // namespace

// == CF-10 ===========================================================================

TEST(CF_10, submit_returns_a_future_of_the_call) {
  // Python: ExecutorTest::test_submit.
  cf::thread_pool_executor ex(2);
  cf::future<long> future = ex.submit(ipow, 2L, 8L);
  EXPECT_EQ(future.result(10s), 256);
}

TEST(CF_10, submit_after_shutdown_raises_runtime_error) {
  // Python: ExecutorShutdownTest::test_run_after_shutdown.
  cf::thread_pool_executor ex(2);
  ex.shutdown();
  EXPECT_EQ(what_of<std::runtime_error>([&] { ex.submit(ipow, 2L, 5L); }),
            "cannot schedule new futures after shutdown");
}

// == CF-11 ===========================================================================

TEST(CF_11, map_yields_the_results_in_input_order) {
  // Python: ExecutorTest::test_map.
  cf::thread_pool_executor ex(4);
  std::vector<long> xs(10);
  std::iota(xs.begin(), xs.end(), 0L);
  std::vector<long> got;
  for (long v : ex.map(ipow, xs, xs)) got.push_back(v);
  std::vector<long> want;
  for (long x : xs) want.push_back(ipow(x, x));
  EXPECT_EQ(got, want);
}

TEST(CF_11, an_exception_is_raised_when_its_position_is_reached) {
  // Python: ExecutorTest::test_map_exception.
  cf::thread_pool_executor ex(2);
  auto divmod = [](int a, int b) {
    if (b == 0) throw std::domain_error("integer division or modulo by zero");
    return std::pair(a / b, a % b);
  };
  auto results = ex.map(divmod, std::vector<int>{1, 1, 1, 1}, std::vector<int>{2, 2, 0, 2});
  auto it = results.begin();
  EXPECT_EQ(*it, std::pair(0, 1));
  ++it;
  EXPECT_EQ(*it, std::pair(0, 1));
  ++it;
  EXPECT_THROW(*it, std::domain_error);
  EXPECT_TRUE(it == results.end());  // the generator has finished
}

TEST(CF_11, the_timeout_counts_from_the_map_call_and_hits_the_first_late_result) {
  // Python: ExecutorTest::test_map_timeout.
  corio_test::watchdog dog(30s, "CF_11 the_timeout_counts_from_the_map_call_and_hits_the_first_late_result");
  cf::thread_pool_executor ex(3);
  gate g;
  std::vector<int> results;
  const auto t0 = std::chrono::steady_clock::now();
  auto walk = [&] {
    for (int v : ex.map([&](int x) { return x == 2 && !g.wait() ? -1 : x; }, std::vector<int>{0, 1, 2}, 200ms))
      results.push_back(v);
  };
  EXPECT_THROW(walk(), corio::timeout_error);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(on_time(elapsed, 200ms));
  EXPECT_EQ(results, (std::vector<int>{0, 1}));
  g.open();
}

TEST(CF_11, every_call_is_submitted_even_if_the_results_are_never_read) {
  // Python: ThreadPoolExecutorTest::test_map_submits_without_iteration.
  std::mutex mu;
  std::vector<int> finished;
  cf::thread_pool_executor ex(3);
  ex.map(
      [&](int x) {
        std::lock_guard lk(mu);
        finished.push_back(x);
      },
      range(0, 10));
  ex.shutdown(true);
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// == CF-12 ===========================================================================

TEST(CF_12, cancel_futures_cancels_the_calls_not_started) {
  // Python: ExecutorShutdownTest::test_cancel_futures, made deterministic: two
  // workers are held at a gate while 48 more calls wait in the queue.
  corio_test::watchdog dog(30s, "CF_12 cancel_futures_cancels_the_calls_not_started");
  cf::thread_pool_executor ex(2);
  gate g;
  std::atomic<int> started{0};
  std::vector<cf::future<>> fs;
  for (int i = 0; i < 50; ++i)
    fs.push_back(ex.submit([&] {
      ++started;
      g.wait();
    }));
  ASSERT_TRUE(eventually([&] { return started.load() == 2; }));
  fs.back().add_done_callback([&](const cf::future<>&) { g.open(); });  // runs when shutdown cancels it
  ex.shutdown(true, true);
  std::size_t cancelled = 0;
  for (auto& f : fs) {
    if (f.cancelled()) {
      ++cancelled;
    } else {
      EXPECT_TRUE(f.done());
      EXPECT_EQ(f.exception(), nullptr);
    }
  }
  EXPECT_EQ(cancelled, 48u);
}

TEST(CF_12, shutdown_waits_for_every_pending_call) {
  // Python: ExecutorShutdownTest::test_hang_issue12364.
  corio_test::watchdog dog(30s, "CF_12 shutdown_waits_for_every_pending_call");
  cf::thread_pool_executor ex(3);
  std::vector<cf::future<>> fs;
  for (int i = 0; i < 50; ++i) fs.push_back(ex.submit([] { std::this_thread::sleep_for(1ms); }));
  ex.shutdown();
  for (auto& f : fs) {
    EXPECT_TRUE(f.done());
    f.result(0s);
  }
}

TEST(CF_12, leaving_the_scope_is_shutdown_with_wait) {
  // Python: ThreadPoolShutdownTest::test_context_manager_shutdown.
  corio_test::watchdog dog(30s, "CF_12 leaving_the_scope_is_shutdown_with_wait");
  std::vector<int> got;
  {
    cf::thread_pool_executor e(5, "ctxpool");
    for (int v : e.map([](int x) { return std::abs(x); }, range(-5, 5))) got.push_back(v);
  }
  EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
  // All joined (the kernel may list an exiting thread a moment longer).
  EXPECT_TRUE(eventually([] { return threads_named("ctxpool_").empty(); }));
}

TEST(CF_12, shutdown_without_wait_still_lets_the_calls_finish) {
  // Python: ThreadPoolShutdownTest::test_shutdown_no_wait.
  corio_test::watchdog dog(30s, "CF_12 shutdown_without_wait_still_lets_the_calls_finish");
  auto ex = std::make_unique<cf::thread_pool_executor>(5, "nowait");
  auto res = ex->map([](int x) { return std::abs(x); }, range(-5, 5));
  ex->shutdown(false);
  std::vector<int> got;
  for (int v : res) got.push_back(v);
  EXPECT_EQ(got, (std::vector<int>{5, 4, 3, 2, 1, 0, 1, 2, 3, 4}));
  ex.reset();
  EXPECT_TRUE(eventually([] { return threads_named("nowait_").empty(); }));
}

TEST(CF_12, shutdown_without_wait_returns_while_a_call_runs) {
  corio_test::watchdog dog(30s, "CF_12 shutdown_without_wait_returns_while_a_call_runs");
  cf::thread_pool_executor ex(1);
  gate g;
  auto f = ex.submit([&] { return g.wait(); });
  ex.shutdown(false);
  EXPECT_FALSE(f.done());
  g.open();
  EXPECT_TRUE(f.result(10s));
}

TEST(CF_12, running_calls_complete_when_futures_are_cancelled) {
  corio_test::watchdog dog(30s, "CF_12 running_calls_complete_when_futures_are_cancelled");
  cf::thread_pool_executor ex(1);
  gate started, g;
  auto running = ex.submit([&] {
    started.open();
    return g.wait();
  });
  auto queued = ex.submit([] { return true; });
  ASSERT_TRUE(started.wait());
  queued.add_done_callback([&](const cf::future<bool>&) { g.open(); });
  ex.shutdown(true, true);
  EXPECT_TRUE(queued.cancelled());
  EXPECT_TRUE(running.result(0s));
}

// == CF-13 ===========================================================================

TEST(CF_13, max_workers_of_zero_or_less_is_a_value_error) {
  // Python: ExecutorTest::test_max_workers_negative.
  for (int number : {0, -1})
    EXPECT_THROW(cf::thread_pool_executor{number}, std::invalid_argument) << number;
}

TEST(CF_13, the_default_max_workers_is_cpus_plus_four_at_most_32) {
  // Python: ThreadPoolExecutorTest::test_default_workers.
  cf::thread_pool_executor ex;
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(ex.max_workers(), std::min<std::size_t>(32, cpus + 4));
}

TEST(CF_13, threads_are_named_prefix_underscore_index) {
  // Python: ThreadPoolShutdownTest::test_thread_names_assigned.
  corio_test::watchdog dog(30s, "CF_13 threads_are_named_prefix_underscore_index");
  std::vector<std::string> names;
  {
    cf::thread_pool_executor ex(5, "SpecialPool");
    gate g;
    std::atomic<int> started{0};
    std::vector<cf::future<bool>> fs;
    for (int i = 0; i < 5; ++i) fs.push_back(ex.submit([&] {
      ++started;
      return g.wait();
    }));
    ASSERT_TRUE(eventually([&] { return started.load() == 5; }));
    names = threads_named("SpecialPool");
    g.open();
  }
  ASSERT_EQ(names.size(), 5u);
  const std::regex pattern("^SpecialPool_[0-4]$");
  for (const auto& n : names) EXPECT_TRUE(std::regex_match(n, pattern)) << n;
}

TEST(CF_13, threads_start_on_demand_and_are_reused_when_idle) {
  // Python: ThreadPoolExecutorTest::test_idle_thread_reuse.
  cf::thread_pool_executor ex(4, "ondemand");
  EXPECT_TRUE(threads_named("ondemand_").empty());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(ex.submit([] { return 42; }).result(10s), 42);
  EXPECT_EQ(threads_named("ondemand_"), (std::vector<std::string>{"ondemand_0"}));
}

TEST(CF_13, no_more_threads_than_max_workers_run_at_once) {
  corio_test::watchdog dog(30s, "CF_13 no_more_threads_than_max_workers_run_at_once");
  cf::thread_pool_executor ex(2);
  std::atomic<int> now{0}, peak{0};
  std::vector<cf::future<>> fs;
  for (int i = 0; i < 20; ++i)
    fs.push_back(ex.submit([&] {
      const int n = ++now;
      int p = peak.load();
      while (n > p && !peak.compare_exchange_weak(p, n)) {
      }
      std::this_thread::sleep_for(1ms);
      --now;
    }));
  cf::wait(fs);
  EXPECT_LE(peak.load(), 2);
}

// == CF-14 ===========================================================================

TEST(CF_14, a_failing_initializer_breaks_the_pool) {
  // Python: FailingInitializerMixin::test_initializer.
  corio_test::watchdog dog(30s, "CF_14 a_failing_initializer_breaks_the_pool");
  testing::internal::CaptureStderr();
  cf::thread_pool_executor ex(2, "", [] { throw std::invalid_argument("error in initializer"); });
  std::vector<cf::future<int>> fs;
  try {
    for (int i = 0; i < 5; ++i) fs.push_back(ex.submit([] { return 1; }));
  } catch (const cf::broken_executor&) {
    // Perhaps the executor is already broken.
  }
  for (auto& f : fs) EXPECT_THROW(f.result(10s), cf::broken_thread_pool);
  // From then on submit() fails.
  bool refused = eventually([&] {
    try {
      ex.submit([] { return 1; }).cancel();
      return false;
    } catch (const cf::broken_thread_pool&) {
      return true;
    }
  });
  EXPECT_TRUE(refused);
  ex.shutdown();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("error in initializer"), std::string::npos) << err;
}

TEST(CF_14, broken_thread_pool_is_a_broken_executor_and_a_runtime_error) {
  static_assert(std::is_base_of_v<cf::broken_executor, cf::broken_thread_pool>);
  static_assert(std::is_base_of_v<std::runtime_error, cf::broken_executor>);
  SUCCEED();
}

namespace {
// At namespace scope, so that each worker thread constructs its own copy on
// first use (a block-scope thread_local is constructed only by the threads
// that pass its declaration).
thread_local std::string init_status;
}  // namespace

TEST(CF_14, a_working_initializer_runs_before_the_calls) {
  // Python: InitializerMixin::test_initializer.
  cf::thread_pool_executor ex(2, "", [] { init_status = "initialized"; });
  std::vector<cf::future<std::string>> fs;
  for (int i = 0; i < 4; ++i) fs.push_back(ex.submit([] { return init_status; }));
  for (auto& f : fs) EXPECT_EQ(f.result(10s), "initialized");
}

// == CF-15 ===========================================================================

TEST(CF_15, a_discarded_future_leaves_nothing_of_the_call_behind) {
  // Python: ExecutorTest::test_no_stale_references.
  corio_test::watchdog dog(30s, "CF_15 a_discarded_future_leaves_nothing_of_the_call_behind");
  cf::thread_pool_executor ex(2);
  auto my_object = std::make_shared<int>(1);
  std::weak_ptr<int> collected = my_object;
  ex.submit([obj = std::move(my_object)] { return *obj; });  // the future is discarded
  EXPECT_TRUE(eventually([&] { return collected.expired(); })) << "stale reference not collected";
}

TEST(CF_15, the_call_is_freed_before_its_result_is_seen) {
  counted::reset();
  cf::thread_pool_executor ex(1);
  auto f = ex.submit([c = counted(7)](counted arg) { return c.id + arg.id; }, counted(1));
  EXPECT_EQ(f.result(10s), 8);
  EXPECT_EQ(counted::alive(), 0u);  // callable and arguments are gone
}

TEST(CF_15, a_result_is_freed_once_the_user_drops_the_future) {
  corio_test::watchdog dog(30s, "CF_15 a_result_is_freed_once_the_user_drops_the_future");
  cf::thread_pool_executor ex(1);
  std::weak_ptr<int> w;
  {
    auto f = ex.submit([] { return std::make_shared<int>(3); });
    w = f.result(10s);
  }
  // The worker drops its reference right after completing the future.
  EXPECT_TRUE(eventually([&] { return w.expired(); }));
}

TEST(CF_15, map_keeps_no_reference_to_results_it_yielded) {
  // Python: ExecutorTest::test_free_reference.
  cf::thread_pool_executor ex(2);
  for (auto obj : ex.map([](int i) { return std::make_shared<int>(i); }, range(0, 10))) {
    std::weak_ptr<int> wr = obj;
    obj.reset();
    EXPECT_TRUE(wr.expired());
  }
}

TEST(CF_15, cancelled_calls_are_freed_at_shutdown) {
  corio_test::watchdog dog(30s, "CF_15 cancelled_calls_are_freed_at_shutdown");
  counted::reset();
  cf::thread_pool_executor ex(1);
  gate started, g;
  auto blocker = ex.submit([&] {
    started.open();
    return g.wait();
  });
  ASSERT_TRUE(started.wait());
  std::vector<cf::future<int>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(ex.submit([c = counted(i)] { return c.id; }));
  EXPECT_EQ(counted::alive(), 3u);
  queued.back().add_done_callback([&](const cf::future<int>&) { g.open(); });
  ex.shutdown(true, true);
  EXPECT_EQ(counted::alive(), 0u);  // dropped with their cancellation, futures still held
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
}

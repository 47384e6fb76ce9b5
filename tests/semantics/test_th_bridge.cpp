// docs/semantics.md section 10: the threads bridge (TH-01..TH-10).
#include <corio/corio.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/threads.hpp>

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "error_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio_test::error_of;
using corio_test::holds;
using corio_test::watchdog;

namespace {

corio::task<int> add_later(int a, int b, std::chrono::milliseconds d) {
  co_await corio::sleep(d);
  co_return a + b;
}

corio::task<int> fail_later() {
  co_await corio::sleep(1ms);
  throw std::logic_error("boom in the loop");
}

// A loop running forever on its own thread, for tests that drive it from
// the test's thread.
class loop_thread {
 public:
  loop_thread() {
    std::latch ready(1);
    th_ = std::thread([this, &ready] {
      loop_.call_soon([&ready] { ready.count_down(); });
      loop_.run_forever();
    });
    ready.wait();
  }
  ~loop_thread() {
    loop_.call_soon_threadsafe([this] { loop_.stop(); });
    th_.join();
  }
  corio::event_loop& loop() { return loop_; }

 private:
  corio::event_loop loop_;
  std::thread th_;
};

}  // namespace

// -- TH-01 ------------------------------------------------------------------------

TEST(TH_01, call_soon_threadsafe_wakes_a_loop_blocked_waiting) {
  watchdog dog(30s, "TH-01 wake-up");
  corio::event_loop loop;
  std::thread poster;
  loop.call_soon([&] {
    // The loop has nothing else to do: it blocks in its backend until woken.
    poster = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      loop.call_soon_threadsafe([&] { loop.stop(); });
    });
  });
  const auto t0 = std::chrono::steady_clock::now();
  loop.run_forever();
  poster.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
}

TEST(TH_01, call_soon_threadsafe_works_from_the_loops_own_thread_too) {
  corio::event_loop loop;
  int ran = 0;
  loop.call_soon_threadsafe([&] {
    ++ran;
    loop.stop();
  });
  loop.run_forever();
  EXPECT_EQ(ran, 1);
}

TEST(TH_01, call_soon_threadsafe_on_a_closed_loop_raises) {
  corio::event_loop loop;
  loop.close();
  std::exception_ptr e;
  std::thread([&] { e = error_of([&] { loop.call_soon_threadsafe([] {}); }); }).join();
  EXPECT_TRUE(holds<std::runtime_error>(e));
}

// -- TH-02, TH-03 ---------------------------------------------------------------

TEST(TH_02, run_coroutine_threadsafe_returns_the_tasks_result) {
  watchdog dog(30s, "TH-02");
  loop_thread lt;
  corio::futures::future<int> f = corio::run_coroutine_threadsafe(add_later(1, 2, 1ms), lt.loop());
  EXPECT_EQ(f.result(10s), 3);
}

TEST(TH_02, run_coroutine_threadsafe_carries_the_tasks_exception) {
  watchdog dog(30s, "TH-02");
  loop_thread lt;
  auto f = corio::run_coroutine_threadsafe(fail_later(), lt.loop());
  std::exception_ptr e = f.exception(10s);
  ASSERT_TRUE(e);
  EXPECT_TRUE(holds<std::logic_error>(e));
  EXPECT_THROW(f.result(), std::logic_error);
}

TEST(TH_03, a_result_timeout_does_not_cancel_but_cancel_does) {
  watchdog dog(30s, "TH-03");
  loop_thread lt;
  auto f = corio::run_coroutine_threadsafe(add_later(1, 2, std::chrono::milliseconds(1h)), lt.loop());
  EXPECT_THROW(f.result(10ms), corio::timeout_error);
  EXPECT_FALSE(f.done());  // the timeout cancelled nothing
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), corio::cancelled_error);
  // The task on the loop is cancelled too: the loop has no task left.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  std::size_t left = 1;
  while (left != 0 && std::chrono::steady_clock::now() < deadline) {
    auto probe = corio::run_coroutine_threadsafe(
        []() -> corio::task<std::size_t> { co_return corio::all_tasks().size() - 1; }(), lt.loop());
    left = probe.result(10s);
    if (left) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(left, 0u);
}

TEST(TH_03, a_task_that_ends_cancelled_makes_result_raise_cancelled_error) {
  watchdog dog(30s, "TH-03");
  loop_thread lt;
  auto f = corio::run_coroutine_threadsafe(
      []() -> corio::task<int> {
        corio::current_task().cancel();
        co_await corio::sleep(0s);
        co_return 1;
      }(),
      lt.loop());
  EXPECT_THROW(f.result(10s), corio::cancelled_error);
  EXPECT_TRUE(f.cancelled());
}

// -- TH-04 ----------------------------------------------------------------------

TEST(TH_04, a_failing_task_factory_reaches_the_future_and_the_handler_once) {
  watchdog dog(30s, "TH-04");
  loop_thread lt;
  std::atomic<int> reported{0};
  std::latch configured(1);
  lt.loop().call_soon_threadsafe([&] {
    lt.loop().set_task_factory([](corio::event_loop&, corio::any_task&, corio::task_options&) {
      throw std::runtime_error("factory says no");
    });
    lt.loop().set_exception_handler([&](corio::event_loop&, const corio::exception_context&) { ++reported; });
    configured.count_down();
  });
  configured.wait();
  auto f = corio::run_coroutine_threadsafe(add_later(1, 2, 1ms), lt.loop());
  std::exception_ptr e = f.exception(10s);
  ASSERT_TRUE(e);
  EXPECT_TRUE(holds<std::runtime_error>(e));
  // The handler ran on the loop before the future was set.
  EXPECT_EQ(reported.load(), 1);
  std::latch restored(1);
  lt.loop().call_soon_threadsafe([&] {
    lt.loop().set_task_factory({});
    restored.count_down();
  });
  restored.wait();
}

// -- TH-05, TH-06 -----------------------------------------------------------------

TEST(TH_05, run_in_executor_uses_the_default_pool_made_on_first_use) {
  std::thread::id loop_thread_id, job_thread_id;
  const int r = corio::run([&]() -> corio::task<int> {
    loop_thread_id = std::this_thread::get_id();
    corio::event_loop& loop = corio::get_running_loop();
    co_return co_await loop.run_in_executor(nullptr, [&](int x) {
      job_thread_id = std::this_thread::get_id();
      return x * 2;
    }, 21);
  }());
  EXPECT_EQ(r, 42);
  EXPECT_NE(job_thread_id, loop_thread_id);
}

TEST(TH_05, run_in_executor_uses_the_executor_it_is_given) {
  corio::futures::thread_pool_executor pool(1, "given");
  std::string name;
  corio::run([&]() -> corio::task<> {
    co_await corio::get_running_loop().run_in_executor(&pool, [&] {
      char buf[32] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      name = buf;
    });
  }());
  EXPECT_EQ(name.rfind("given", 0), 0u) << name;
}

TEST(TH_06, set_default_executor_takes_a_thread_pool_and_run_in_executor_uses_it) {
  auto pool = std::make_shared<corio::futures::thread_pool_executor>(1, "mine");
  std::string name;
  corio::run([&]() -> corio::task<> {
    corio::event_loop& loop = corio::get_running_loop();
    EXPECT_THROW(loop.set_default_executor(nullptr), std::invalid_argument);
    loop.set_default_executor(pool);
    co_await loop.run_in_executor(nullptr, [&] {
      char buf[32] = {};
      pthread_getname_np(pthread_self(), buf, sizeof buf);
      name = buf;
    });
  }());
  EXPECT_EQ(name.rfind("mine", 0), 0u) << name;
}

// -- TH-07 ----------------------------------------------------------------------

TEST(TH_07, cancelling_the_loop_future_cancels_a_job_not_yet_started) {
  watchdog dog(30s, "TH-07");
  corio::futures::thread_pool_executor pool(1);
  std::atomic<bool> second_ran{false};
  std::latch release(1);
  corio::run([&]() -> corio::task<> {
    corio::event_loop& loop = corio::get_running_loop();
    auto first = loop.run_in_executor(&pool, [&] { release.wait(); });  // occupies the only worker
    auto second = loop.run_in_executor(&pool, [&] { second_ran = true; });
    second.cancel();
    co_await corio::sleep(1ms);  // the cancel reaches the concurrent future
    release.count_down();
    co_await first;
    EXPECT_TRUE(second.cancelled());
  }());
  pool.shutdown(true);
  EXPECT_FALSE(second_ran.load());
}

TEST(TH_07, a_running_job_finishes_after_its_loop_is_gone_without_touching_it) {
  watchdog dog(30s, "TH-07");
  corio::futures::thread_pool_executor pool(1);
  std::latch started(1), release(1);
  std::atomic<bool> finished{false};
  {
    corio::event_loop loop;
    loop.run_until_complete([&]() -> corio::task<> {
      auto f = corio::get_running_loop().run_in_executor(&pool, [&] {
        started.count_down();
        release.wait();
        finished = true;
        return std::string("late result nobody takes");
      });
      started.wait();
      f.cancel();  // the job runs on regardless
      co_return;
    }());
    loop.close();
  }  // the loop is destroyed while the job still runs
  release.count_down();
  pool.shutdown(true);
  EXPECT_TRUE(finished.load());
}

// -- TH-08, TH-09 -------------------------------------------------------------------

TEST(TH_08, to_thread_runs_fn_once_with_its_arguments_and_returns_its_value) {
  std::atomic<int> calls{0};
  const std::string r = corio::run([&]() -> corio::task<std::string> {
    co_return co_await corio::to_thread([&](std::string a, int n) {
      ++calls;
      return a + std::to_string(n);
    }, std::string("x"), 7);
  }());
  EXPECT_EQ(r, "x7");
  EXPECT_EQ(calls.load(), 1);
}

TEST(TH_08, to_thread_propagates_the_exception) {
  EXPECT_THROW(corio::run([]() -> corio::task<> {
                 co_await corio::to_thread([] { throw std::domain_error("in the thread"); });
               }()),
               std::domain_error);
}

TEST(TH_08, to_thread_sees_a_copy_of_the_callers_context) {
  static corio::context_var<int> var("var", 0);
  int seen = -1;
  corio::run([&]() -> corio::task<> {
    var.set(5);
    co_await corio::to_thread([&] {
      seen = var.get();
      var.set(99);  // only the copy changes
    });
    EXPECT_EQ(var.get(), 5);
  }());
  EXPECT_EQ(seen, 5);
}

TEST(TH_08, to_thread_calls_run_concurrently_in_separate_threads) {
  watchdog dog(30s, "TH-08 concurrency");
  std::latch both(2);
  corio::run([&]() -> corio::task<> {
    // Each call waits for the other: this finishes only if they overlap.
    auto meet = [&] { both.arrive_and_wait(); return std::this_thread::get_id(); };
    auto a = corio::to_thread(meet);
    auto b = corio::to_thread(meet);
    const std::thread::id ta = co_await a;
    const std::thread::id tb = co_await b;
    EXPECT_NE(ta, tb);
  }());
}

TEST(TH_09, cancelling_to_thread_cancels_the_waiting_side_and_requests_the_stop_token) {
  watchdog dog(30s, "TH-09");
  std::atomic<bool> saw_stop{false};
  std::latch started(1);
  corio::run([&]() -> corio::task<> {
    auto f = corio::to_thread([&](std::stop_token tok) {
      started.count_down();
      while (!tok.stop_requested()) std::this_thread::sleep_for(1ms);
      saw_stop = true;
    });
    co_await corio::to_thread([&] { started.wait(); });
    f.cancel();
    bool cancelled = false;
    try {
      co_await f;
    } catch (const corio::cancelled_error&) {
      cancelled = true;
    }
    EXPECT_TRUE(cancelled);
  }());  // run() waits for the default executor: the job saw its stop request
  EXPECT_TRUE(saw_stop.load());
}

// -- TH-10 ----------------------------------------------------------------------

TEST(TH_10, after_shutdown_default_executor_run_in_executor_raises) {
  corio::run([]() -> corio::task<> {
    corio::event_loop& loop = corio::get_running_loop();
    co_await loop.run_in_executor(nullptr, [] {});
    co_await loop.shutdown_default_executor();
    EXPECT_THROW(loop.run_in_executor(nullptr, [] {}), std::runtime_error);
  }());
}

TEST(TH_10, run_waits_for_the_default_executors_threads) {
  std::atomic<bool> done{false};
  corio::run([&]() -> corio::task<> {
    // Not awaited: run() still waits for the job's thread before returning.
    (void)corio::get_running_loop().run_in_executor(nullptr, [&] {
      std::this_thread::sleep_for(50ms);
      done = true;
    });
    co_return;
  }());
  EXPECT_TRUE(done.load());
}

// Unit tests for <corio/futures/thread_pool_executor.hpp> and the executor
// interface of <corio/futures/executor.hpp>: submit, map, shutdown, worker
// threads (lazy start, reuse, names), initializer, a broken pool, and a
// custom executor built on the schedule() hook.
#include <corio/futures/thread_pool_executor.hpp>

#include <corio/futures/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/counted.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace cf = corio::futures;
using corio_test::counted;
using corio_test::eventually;
using corio_test::gate;
using corio_test::this_thread_name;
using corio_test::threads_named;
using corio_test::what_of;

namespace {

// Runs each item at once in the submitting thread: the smallest executor the
// schedule() hook allows.
class inline_executor final : public cf::executor {
 public:
  void shutdown(bool, bool) override { shut_ = true; }
  int scheduled = 0;

 protected:
  void schedule(cf::detail::work_ref item) override {
    if (shut_) throw std::runtime_error("cannot schedule new futures after shutdown");
    ++scheduled;
    item.run();
  }

 private:
  bool shut_ = false;
};

}  // namespace

// -- submit ------------------------------------------------------------------------

TEST(ThreadPoolExecutor, submit_runs_the_call_with_its_arguments) {
  cf::thread_pool_executor ex(2);
  auto f = ex.submit([](int a, const std::string& b) { return b + std::to_string(a); }, 4, std::string("x"));
  EXPECT_EQ(f.result(10s), "x4");
}

TEST(ThreadPoolExecutor, submit_runs_the_call_on_a_worker_thread) {
  cf::thread_pool_executor ex(1);
  auto f = ex.submit([] { return std::this_thread::get_id(); });
  EXPECT_NE(f.result(10s), std::this_thread::get_id());
}

TEST(ThreadPoolExecutor, arguments_are_copied_and_passed_as_rvalues) {
  cf::thread_pool_executor ex(1);
  std::vector<int> v{1, 2, 3};
  auto f = ex.submit([](std::vector<int>&& x) { return x.size(); }, v);  // an lvalue is copied in
  EXPECT_EQ(f.result(10s), 3u);
  EXPECT_EQ(v.size(), 3u);
}

TEST(ThreadPoolExecutor, move_only_callables_arguments_and_results_work) {
  cf::thread_pool_executor ex(1);
  auto p = std::make_unique<int>(5);
  auto f = ex.submit([q = std::make_unique<int>(2)](std::unique_ptr<int> r) { return std::make_unique<int>(*q * *r); },
                     std::move(p));
  std::unique_ptr<int> r = f.take_result(10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 10);
}

TEST(ThreadPoolExecutor, a_returned_reference_is_stored_as_a_copy) {
  cf::thread_pool_executor ex(1);
  static std::string source = "kept";
  auto f = ex.submit([]() -> const std::string& { return source; });
  static_assert(std::is_same_v<decltype(f), cf::future<std::string>>);
  EXPECT_EQ(f.result(10s), "kept");
  EXPECT_NE(&f.result(), &source);
}

TEST(ThreadPoolExecutor, void_calls_give_a_void_future) {
  cf::thread_pool_executor ex(1);
  std::atomic<int> n{0};
  cf::future<> f = ex.submit([&] { ++n; });
  f.result(10s);
  EXPECT_EQ(n.load(), 1);
}

TEST(ThreadPoolExecutor, an_exception_reaches_the_future_and_the_worker_survives) {
  cf::thread_pool_executor ex(1, "survive");
  auto bad = ex.submit([]() -> int { throw std::domain_error("nope"); });
  EXPECT_THROW(bad.result(10s), std::domain_error);
  auto bad_void = ex.submit([] { throw 42; });
  EXPECT_THROW(bad_void.result(10s), int);
  auto ok = ex.submit([] { return this_thread_name(); });
  EXPECT_EQ(ok.result(10s), "survive_0");  // the same, only worker
}

TEST(ThreadPoolExecutor, a_throwing_done_callback_does_not_hurt_the_worker) {
  cf::thread_pool_executor ex(1);
  gate g;
  auto first = ex.submit([&] { return g.wait(); });
  first.add_done_callback([](const cf::future<bool>&) { throw std::runtime_error("from callback"); });
  testing::internal::CaptureStderr();
  g.open();
  EXPECT_TRUE(first.result(10s));
  auto second = ex.submit([] { return 2; });
  EXPECT_EQ(second.result(10s), 2);
  ex.shutdown();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("from callback"), std::string::npos) << err;
}

TEST(ThreadPoolExecutor, done_callbacks_run_on_the_worker) {
  cf::thread_pool_executor ex(1, "cbthread");
  gate g;
  auto f = ex.submit([&] { g.wait(); });
  cf::future<std::string> where;
  f.add_done_callback([where](const cf::future<>&) mutable { where.set_result(this_thread_name()); });
  g.open();
  EXPECT_EQ(where.result(10s), "cbthread_0");
}

TEST(ThreadPoolExecutor, a_cancelled_pending_call_never_runs) {
  cf::thread_pool_executor ex(1);
  gate g;
  auto blocker = ex.submit([&] { g.wait(); });
  std::atomic<bool> ran{false};
  auto victim = ex.submit([&] { ran = true; });
  EXPECT_TRUE(victim.cancel());
  g.open();
  ex.shutdown();
  EXPECT_FALSE(ran.load());
  EXPECT_TRUE(victim.cancelled());
}

// -- map -----------------------------------------------------------------------------

static_assert(std::input_iterator<cf::map_results<int>::iterator>);
static_assert(std::input_iterator<cf::map_results<std::unique_ptr<int>>::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, cf::map_results<int>::iterator>);

TEST(ThreadPoolExecutor, map_yields_results_in_input_order) {
  cf::thread_pool_executor ex(3);
  std::vector<int> xs{5, 1, 4, 2, 3};
  std::vector<int> out;
  for (int v : ex.map([](int x) {
         std::this_thread::sleep_for(std::chrono::milliseconds(x));
         return x * 10;
       }, xs))
    out.push_back(v);
  EXPECT_EQ(out, (std::vector<int>{50, 10, 40, 20, 30}));
}

TEST(ThreadPoolExecutor, map_zips_several_ranges_up_to_the_shortest) {
  cf::thread_pool_executor ex(2);
  std::vector<int> a{1, 2, 3, 4};
  const std::vector<std::string> b{"a", "b"};
  std::vector<std::string> out;
  for (auto s : ex.map([](int n, const std::string& t) { return t + std::to_string(n); }, a, b)) out.push_back(s);
  EXPECT_EQ(out, (std::vector<std::string>{"a1", "b2"}));
}

TEST(ThreadPoolExecutor, map_takes_arrays_lists_and_a_trailing_timeout) {
  cf::thread_pool_executor ex(2);
  int sum = 0;
  const int arr[] = {1, 2, 3, 4};
  for (int v : ex.map([](int x) { return x; }, arr, 10s)) sum += v;
  EXPECT_EQ(sum, 10);
  sum = 0;
  for (int v : ex.map([](int x, double y) { return x + static_cast<int>(y); }, std::list<int>{1, 2}, std::vector<double>{3, 4}))
    sum += v;
  EXPECT_EQ(sum, 10);
  sum = 0;
  const std::optional<std::chrono::milliseconds> none;
  for (int v : ex.map([](int x) { return 2 * x; }, std::vector<int>{1, 2}, none)) sum += v;
  EXPECT_EQ(sum, 6);
}

TEST(ThreadPoolExecutor, map_of_a_void_call_is_walked_with_an_iterator) {
  cf::thread_pool_executor ex(2);
  std::atomic<int> n{0};
  auto results = ex.map([&](int x) { n += x; }, std::vector<int>{1, 2, 3});
  EXPECT_EQ(results.size(), 3u);
  for (auto it = results.begin(); it != results.end(); ++it) *it;
  EXPECT_EQ(n.load(), 6);
}

TEST(ThreadPoolExecutor, map_results_moves_move_only_values_out) {
  cf::thread_pool_executor ex(2);
  std::vector<std::unique_ptr<int>> got;
  for (auto p : ex.map([](int x) { return std::make_unique<int>(x); }, std::vector<int>{7, 8})) got.push_back(std::move(p));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(*got[1], 8);
}

TEST(ThreadPoolExecutor, dropping_map_results_after_starting_cancels_the_rest) {
  cf::thread_pool_executor ex(1);
  gate g, first_started;
  std::atomic<int> ran{0};
  {
    auto results = ex.map([&](int x) {
      if (x == 0) {
        first_started.open();
        g.wait();
      }
      ++ran;
      return x;
    }, std::vector<int>{0, 1, 2, 3});
    results.begin();  // iteration began
    ASSERT_TRUE(first_started.wait());
  }
  g.open();
  ex.shutdown();
  EXPECT_EQ(ran.load(), 1);
}

TEST(ThreadPoolExecutor, map_copies_the_callable_into_each_call) {
  cf::thread_pool_executor ex(2);
  counted::reset();
  {
    counted c(1);
    auto results = ex.map([c](int x) { return x + c.id; }, std::vector<int>{1, 2, 3});
    int sum = 0;
    for (int v : results) sum += v;
    EXPECT_EQ(sum, 9);
  }
  ex.shutdown();
  EXPECT_EQ(counted::alive(), 0u);
}

// -- shutdown ------------------------------------------------------------------------

TEST(ThreadPoolExecutor, submit_after_shutdown_throws_runtime_error) {
  cf::thread_pool_executor ex(1);
  ex.shutdown();
  EXPECT_EQ(what_of<std::runtime_error>([&] { ex.submit([] {}); }), "cannot schedule new futures after shutdown");
  ex.shutdown();  // again: harmless
}

TEST(ThreadPoolExecutor, shutdown_without_wait_returns_while_calls_run_and_they_still_finish) {
  corio_test::watchdog dog(30s, "shutdown_without_wait_returns_while_calls_run_and_they_still_finish");
  auto g = std::make_shared<gate>();
  cf::future<int> running, queued;
  {
    cf::thread_pool_executor ex(1);
    running = ex.submit([g] { return g->wait() ? 1 : 0; });
    queued = ex.submit([] { return 2; });
    ex.shutdown(false);
    EXPECT_FALSE(queued.done());
    g->open();
  }  // the destructor waits
  EXPECT_EQ(running.result(0s), 1);
  EXPECT_EQ(queued.result(0s), 2);
}

TEST(ThreadPoolExecutor, shutdown_with_cancel_futures_cancels_what_has_not_started) {
  cf::thread_pool_executor ex(1);
  gate started, release;
  auto running = ex.submit([&] {
    started.open();
    return release.wait();
  });
  ASSERT_TRUE(started.wait());
  std::vector<cf::future<int>> queued;
  for (int i = 0; i < 5; ++i) queued.push_back(ex.submit([i] { return i; }));
  // The running call may end once the last queued one is cancelled (its
  // callback runs in shutdown's thread, at the cancellation).
  queued.back().add_done_callback([&](const cf::future<int>&) { release.open(); });
  ex.shutdown(true, true);
  EXPECT_TRUE(running.result(0s));
  for (auto& f : queued) EXPECT_TRUE(f.cancelled());
}

TEST(ThreadPoolExecutor, a_call_may_shut_its_own_executor_down) {
  corio_test::watchdog dog(30s, "a_call_may_shut_its_own_executor_down");
  cf::thread_pool_executor ex(2);
  auto f = ex.submit([&ex] {
    ex.shutdown(true);  // does not wait for itself
    return 1;
  });
  EXPECT_EQ(f.result(10s), 1);
}

TEST(ThreadPoolExecutor, a_call_may_destroy_its_own_executor) {
  corio_test::watchdog dog(30s, "a_call_may_destroy_its_own_executor");
  auto ex = std::make_shared<cf::thread_pool_executor>(1);
  gate submitted;  // the executor must not die while submit() still runs on it
  cf::future<int> f = ex->submit([&ex, &submitted] {
    submitted.wait();
    ex.reset();
    return 1;
  });
  submitted.open();
  EXPECT_EQ(f.result(10s), 1);
  EXPECT_FALSE(ex);
}

// -- workers -------------------------------------------------------------------------

TEST(ThreadPoolExecutor, max_workers_defaults_to_cpus_plus_four_capped_at_32) {
  cf::thread_pool_executor ex;
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(ex.max_workers(), std::min<std::size_t>(32, cpus + 4));
  EXPECT_EQ(cf::thread_pool_executor(std::size_t{0}).max_workers(), ex.max_workers());
  EXPECT_EQ(cf::thread_pool_executor(3).max_workers(), 3u);
}

TEST(ThreadPoolExecutor, a_signed_max_workers_below_one_is_refused) {
  EXPECT_THROW(cf::thread_pool_executor(0), std::invalid_argument);
  EXPECT_THROW(cf::thread_pool_executor(-1), std::invalid_argument);
  EXPECT_THROW(cf::thread_pool_executor(static_cast<long>(-5)), std::invalid_argument);
}

TEST(ThreadPoolExecutor, workers_start_on_demand_and_never_exceed_max_workers) {
  corio_test::watchdog dog(30s, "workers_start_on_demand_and_never_exceed_max_workers");
  cf::thread_pool_executor ex(3, "lazyp");
  EXPECT_TRUE(threads_named("lazyp_").empty());  // none before the first submit
  gate g;
  std::atomic<int> started{0};
  std::vector<cf::future<bool>> fs;
  for (int i = 0; i < 8; ++i) fs.push_back(ex.submit([&] {
    ++started;
    return g.wait();
  }));
  // Each worker names itself when it starts; wait until three calls run.
  for (int i = 0; i < 2000 && started.load() < 3; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(started.load(), 3);
  EXPECT_EQ(threads_named("lazyp_"), (std::vector<std::string>{"lazyp_0", "lazyp_1", "lazyp_2"}));
  g.open();
  for (auto& f : fs) EXPECT_TRUE(f.result(10s));
  ex.shutdown();
  // Joined; the kernel may list an exiting thread a moment longer.
  EXPECT_TRUE(eventually([] { return threads_named("lazyp_").empty(); }));
}

TEST(ThreadPoolExecutor, an_idle_worker_is_reused_instead_of_starting_another) {
  // Python: test_idle_thread_reuse.
  cf::thread_pool_executor ex(4, "reuse");
  EXPECT_EQ(ex.submit([] { return 21 * 2; }).result(10s), 42);
  EXPECT_EQ(ex.submit([] { return 6 * 7; }).result(10s), 42);
  EXPECT_EQ(ex.submit([] { return 3 * 14; }).result(10s), 42);
  EXPECT_EQ(threads_named("reuse_").size(), 1u);
}

TEST(ThreadPoolExecutor, the_default_thread_prefix_names_the_executor) {
  cf::thread_pool_executor ex(1);
  const std::string name = ex.submit(this_thread_name).result(10s);
  // "ThreadPoolExecutor-<n>_0", cut to Linux's 15 bytes with the index kept.
  EXPECT_EQ(name.rfind("ThreadPoolE", 0), 0u) << name;
  EXPECT_EQ(name.substr(name.size() - 2), "_0") << name;
  EXPECT_LE(name.size(), 15u);
}

TEST(ThreadPoolExecutor, the_initializer_runs_once_in_each_worker_before_its_calls) {
  std::atomic<int> inits{0};
  thread_local bool initialized = false;
  cf::thread_pool_executor ex(2, "", [&] {
    ++inits;
    initialized = true;
  });
  gate g;
  auto a = ex.submit([&] { return g.wait() && initialized; });
  auto b = ex.submit([&] { return g.wait() && initialized; });
  g.open();
  EXPECT_TRUE(a.result(10s));
  EXPECT_TRUE(b.result(10s));
  ex.shutdown();
  EXPECT_EQ(inits.load(), 2);
}

TEST(ThreadPoolExecutor, a_failing_initializer_breaks_the_pool) {
  corio_test::watchdog dog(30s, "a_failing_initializer_breaks_the_pool");
  testing::internal::CaptureStderr();
  cf::thread_pool_executor ex(1, "", [] { throw std::runtime_error("init failed"); });
  auto f = ex.submit([] { return 1; });
  EXPECT_THROW(f.result(10s), cf::broken_thread_pool);
  try {
    ex.submit([] { return 2; });
    FAIL() << "a broken pool must refuse work";
  } catch (const cf::broken_executor& e) {
    EXPECT_NE(std::string(e.what()).find("initializer failed"), std::string::npos);
  }
  ex.shutdown();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("init failed"), std::string::npos) << err;
}

// -- the executor interface ----------------------------------------------------------

TEST(Executor, submit_and_map_work_through_the_schedule_hook) {
  inline_executor ex;
  cf::executor& base = ex;
  auto f = base.submit([](int a) { return a + 1; }, 1);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 2);
  int sum = 0;
  for (int v : base.map([](int a, int b) { return a * b; }, std::vector<int>{1, 2}, std::vector<int>{3, 4})) sum += v;
  EXPECT_EQ(sum, 11);
  EXPECT_EQ(ex.scheduled, 3);
  base.shutdown(true, false);
  EXPECT_THROW(base.submit([] {}), std::runtime_error);
}

TEST(Executor, a_refused_item_frees_its_call) {
  inline_executor ex;
  ex.shutdown(true, false);
  counted::reset();
  EXPECT_THROW(ex.submit([c = counted(1)] { return c.id; }), std::runtime_error);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Executor, a_thread_pool_is_usable_through_a_base_pointer) {
  std::unique_ptr<cf::executor> ex = std::make_unique<cf::thread_pool_executor>(2);
  auto f = ex->submit([] { return 5; });
  EXPECT_EQ(f.result(10s), 5);
  ex.reset();  // destruction through the base shuts down
}

// Semantic tests for docs/semantics.md section 11, concurrent.futures: wait()
// and as_completed() (CF-08, CF-09). Scenarios follow CPython's
// Lib/test/test_concurrent_futures.py (WaitTests, AsCompletedTests); where
// Python sleeps to keep a future pending, these tests block the call on a gate
// instead, so nothing depends on speed.
//
// Differences kept on purpose (see docs/python-mapping.md):
//   CF-08/09  Python's wait() and as_completed() count a CANCELLED future as
//             done only once an executor has called set_running_or_notify_
//             cancel() on it (CANCELLED_AND_NOTIFIED); corio counts it done as
//             soon as cancel() returns. The CANCELLED_FUTURE of Python's
//             tests therefore lands in `done` here.
//   CF-09     Python yields the already-done futures in set order; corio
//             yields them in input order.
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/futures/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace cf = corio::futures;
using corio_test::gate;
using corio_test::on_time;
using corio_test::what_of;

namespace {

cf::future<int> pending_future() { return cf::future<int>(); }
cf::future<int> running_future() {
  cf::future<int> f;
  f.set_running_or_notify_cancel();
  return f;
}
cf::future<int> cancelled_future() {
  cf::future<int> f;
  f.cancel();
  return f;
}
cf::future<int> cancelled_and_notified_future() {
  cf::future<int> f = cancelled_future();
  f.set_running_or_notify_cancel();
  return f;
}
cf::future<int> exception_future() {
  cf::future<int> f;
  f.set_exception(std::runtime_error("OSError"));
  return f;
}
cf::future<int> successful_future() {
  cf::future<int> f;
  f.set_result(42);
  return f;
}

bool contains(const std::vector<cf::future<int>>& v, const cf::future<int>& f) {
  return std::find(v.begin(), v.end(), f) != v.end();
}

}  // namespace

// == CF-08 ===========================================================================

TEST(CF_08, first_completed_returns_the_finished_call) {
  // Python: WaitTests::test_first_completed.
  corio_test::watchdog dog(30s, "CF_08 first_completed_returns_the_finished_call");
  cf::thread_pool_executor ex(4);
  gate g;
  auto future1 = ex.submit([] { return 21 * 2; });
  auto future2 = ex.submit([&] { return g.wait() ? 1 : 0; });
  future1.result(10s);
  const auto cancelled = cancelled_future();
  auto r = cf::wait(std::vector<cf::future<int>>{cancelled, future1, future2}, std::nullopt, cf::first_completed);
  EXPECT_TRUE(contains(r.done, future1));
  EXPECT_TRUE(contains(r.done, cancelled));  // done at once here (see the header)
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{future2}));
  g.open();
}

TEST(CF_08, first_completed_waits_for_the_first_to_finish) {
  corio_test::watchdog dog(30s, "CF_08 first_completed_waits_for_the_first_to_finish");
  cf::thread_pool_executor ex(2);
  gate g1, g2;
  auto f1 = ex.submit([&] { return g1.wait() ? 1 : 0; });
  auto f2 = ex.submit([&] { return g2.wait() ? 2 : 0; });
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    g2.open();
  });
  auto r = cf::wait(std::vector<cf::future<int>>{f1, f2}, std::nullopt, cf::first_completed);
  opener.join();
  EXPECT_EQ(r.done, (std::vector<cf::future<int>>{f2}));
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{f1}));
  g1.open();
}

TEST(CF_08, first_completed_with_some_already_completed_returns_at_once) {
  // Python: WaitTests::test_first_completed_some_already_completed.
  cf::thread_pool_executor ex(1);
  gate g;
  auto future1 = ex.submit([&] { return g.wait() ? 1 : 0; });
  const auto cn = cancelled_and_notified_future(), ok = successful_future();
  auto r = cf::wait(std::vector<cf::future<int>>{cn, ok, future1}, std::nullopt, cf::first_completed);
  EXPECT_EQ(r.done, (std::vector<cf::future<int>>{cn, ok}));
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{future1}));
  g.open();
}

TEST(CF_08, first_exception_returns_at_the_first_exception) {
  // Python: WaitTests::test_first_exception.
  corio_test::watchdog dog(30s, "CF_08 first_exception_returns_at_the_first_exception");
  cf::thread_pool_executor ex(3);
  gate g;
  auto future1 = ex.submit([] { return 2 * 21; });
  auto future2 = ex.submit([future1]() -> int {
    future1.result(10s);  // Python sleeps 1.5 s here
    throw std::runtime_error("sleep_and_raise");
  });
  auto future3 = ex.submit([&] { return g.wait() ? 3 : 0; });
  auto r = cf::wait(std::vector<cf::future<int>>{future1, future2, future3}, std::nullopt, cf::first_exception);
  EXPECT_EQ(r.done, (std::vector<cf::future<int>>{future1, future2}));
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{future3}));
  g.open();
}

TEST(CF_08, first_exception_with_some_already_complete) {
  // Python: WaitTests::test_first_exception_some_already_complete.
  corio_test::watchdog dog(30s, "CF_08 first_exception_with_some_already_complete");
  cf::thread_pool_executor ex(2);
  gate g;
  auto future1 = ex.submit([]() -> int { throw std::domain_error("divmod(21, 0)"); });
  auto future2 = ex.submit([&] { return g.wait() ? 2 : 0; });
  const auto ok = successful_future(), c = cancelled_future(), cn = cancelled_and_notified_future();
  auto r = cf::wait(std::vector<cf::future<int>>{ok, c, cn, future1, future2}, std::nullopt, cf::first_exception);
  EXPECT_EQ(r.done, (std::vector<cf::future<int>>{ok, c, cn, future1}));
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{future2}));
  g.open();
}

TEST(CF_08, first_exception_with_one_already_failed_returns_at_once) {
  // Python: WaitTests::test_first_exception_one_already_failed.
  cf::thread_pool_executor ex(1);
  gate g;
  auto future1 = ex.submit([&] { return g.wait() ? 1 : 0; });
  const auto failed = exception_future();
  auto r = cf::wait(std::vector<cf::future<int>>{failed, future1}, std::nullopt, cf::first_exception);
  EXPECT_EQ(r.done, (std::vector<cf::future<int>>{failed}));
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{future1}));
  g.open();
}

TEST(CF_08, all_completed_waits_for_all) {
  // Python: WaitTests::test_all_completed.
  corio_test::watchdog dog(30s, "CF_08 all_completed_waits_for_all");
  cf::thread_pool_executor ex(2);
  auto future1 = ex.submit([]() -> int { throw std::domain_error("divmod(2, 0)"); });
  auto future2 = ex.submit([] { return 2 * 6; });
  const std::vector<cf::future<int>> fs{successful_future(), cancelled_and_notified_future(), exception_future(), future1,
                                        future2};
  auto r = cf::wait(fs, std::nullopt, cf::all_completed);
  EXPECT_EQ(r.done, fs);
  EXPECT_TRUE(r.not_done.empty());
}

TEST(CF_08, a_timeout_returns_the_partial_sets_without_raising_or_cancelling) {
  // Python: WaitTests::test_timeout.
  cf::thread_pool_executor ex(1);
  gate g;
  auto future = ex.submit([&] { return g.wait() ? 1 : 0; });
  const std::vector<cf::future<int>> fs{cancelled_and_notified_future(), exception_future(), successful_future(), future};
  const auto t0 = std::chrono::steady_clock::now();
  auto r = cf::wait(fs, 100ms, cf::all_completed);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(on_time(elapsed, 100ms));
  EXPECT_EQ(r.done, (std::vector<cf::future<int>>{fs[0], fs[1], fs[2]}));
  EXPECT_EQ(r.not_done, (std::vector<cf::future<int>>{future}));
  EXPECT_FALSE(future.cancelled());
  g.open();
  EXPECT_EQ(future.result(10s), 1);
}

TEST(CF_08, pending_and_running_futures_are_not_done) {
  const std::vector<cf::future<int>> fs{pending_future(), running_future()};
  auto r = cf::wait(fs, 0s, cf::first_completed);
  EXPECT_TRUE(r.done.empty());
  EXPECT_EQ(r.not_done, fs);
}

// == CF-09 ===========================================================================

TEST(CF_09, yields_every_future_without_a_timeout) {
  // Python: AsCompletedTests::test_no_timeout.
  corio_test::watchdog dog(30s, "CF_09 yields_every_future_without_a_timeout");
  cf::thread_pool_executor ex(2);
  auto future1 = ex.submit([] { return 2 * 21; });
  auto future2 = ex.submit([] { return 7 * 6; });
  const std::vector<cf::future<int>> fs{cancelled_and_notified_future(), exception_future(), successful_future(), future1,
                                        future2};
  std::vector<cf::future<int>> completed;
  for (auto& f : cf::as_completed(fs)) completed.push_back(f);
  ASSERT_EQ(completed.size(), fs.size());
  for (const auto& f : fs) EXPECT_TRUE(contains(completed, f));
}

TEST(CF_09, a_zero_timeout_yields_the_done_ones_then_raises) {
  // Python: AsCompletedTests::test_zero_timeout.
  cf::thread_pool_executor ex(1);
  gate g;
  auto future1 = ex.submit([&] { return g.wait() ? 1 : 0; });
  const auto cn = cancelled_and_notified_future(), exc = exception_future(), ok = successful_future();
  std::vector<cf::future<int>> completed;
  const std::vector<cf::future<int>> fs{cn, exc, ok, future1};
  auto collect = [&] {
    for (auto& f : cf::as_completed(fs, 0s)) completed.push_back(f);
  };
  EXPECT_THROW(collect(), corio::timeout_error);
  EXPECT_EQ(completed, (std::vector<cf::future<int>>{cn, exc, ok}));  // already done first, in input order
  g.open();
}

TEST(CF_09, others_are_yielded_in_the_order_they_finish) {
  corio_test::watchdog dog(30s, "CF_09 others_are_yielded_in_the_order_they_finish");
  cf::future<int> a, b, c;
  auto range = cf::as_completed(std::vector<cf::future<int>>{a, b, c}, 20s);
  std::thread t([=]() mutable {
    for (cf::future<int>* f : {&c, &a, &b}) {
      std::this_thread::sleep_for(5ms);
      f->set_result(0);
    }
  });
  std::vector<cf::future<int>> order;
  for (auto& f : range) order.push_back(f);
  t.join();
  EXPECT_EQ(order, (std::vector<cf::future<int>>{c, a, b}));
}

TEST(CF_09, a_duplicated_future_is_yielded_once) {
  // Python: AsCompletedTests::test_duplicate_futures.
  cf::thread_pool_executor ex(1);
  auto future1 = ex.submit([] { return 1; });
  int n = 0;
  for (auto& f : cf::as_completed(std::vector<cf::future<int>>{future1, future1, future1})) n += f == future1;
  EXPECT_EQ(n, 1);
}

TEST(CF_09, the_timeout_message_counts_unfinished_of_total) {
  // Python: AsCompletedTests::test_correct_timeout_exception_msg.
  const std::vector<cf::future<int>> fs{cancelled_and_notified_future(), pending_future(), running_future(),
                                        successful_future()};
  EXPECT_EQ(what_of<corio::timeout_error>([&] {
              for (auto& f : cf::as_completed(fs, 0s)) (void)f;
            }),
            "2 (of 4) futures unfinished");
}

TEST(CF_09, yielded_futures_are_not_kept_alive) {
  // Python: AsCompletedTests::test_free_reference_yielded_future. The test
  // drops its own handle of each yielded future and checks that the value is
  // freed once the iterator has moved on.
  corio_test::watchdog dog(30s, "CF_09 yielded_futures_are_not_kept_alive");
  using F = cf::future<std::shared_ptr<int>>;
  std::vector<F> futures_list;
  for (int i = 0; i < 8; ++i) futures_list.emplace_back();
  F cancelled;
  cancelled.cancel();
  futures_list.push_back(cancelled);
  cancelled = F();
  F done;
  done.set_result(std::make_shared<int>(42));
  futures_list.push_back(done);
  done = F();

  auto remove = [&](const F& f) { futures_list.erase(std::find(futures_list.begin(), futures_list.end(), f)); };
  std::weak_ptr<int> previous;
  auto first_pass = [&] {
    for (auto& f : cf::as_completed(futures_list, 0s)) {
      remove(f);
      EXPECT_TRUE(previous.expired());
      previous = f.cancelled() ? std::weak_ptr<int>() : f.result();
    }
  };
  EXPECT_THROW(first_pass(), corio::timeout_error);
  EXPECT_TRUE(previous.expired());
  EXPECT_EQ(futures_list.size(), 8u);

  futures_list[0].set_result(std::make_shared<int>(0));
  for (auto& f : cf::as_completed(futures_list, 20s)) {
    remove(f);
    EXPECT_TRUE(previous.expired());
    previous = f.result();
    if (!futures_list.empty()) futures_list[0].set_result(std::make_shared<int>(0));
  }
  EXPECT_TRUE(previous.expired());
  EXPECT_TRUE(futures_list.empty());
}

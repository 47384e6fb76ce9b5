// Unit tests for <corio/futures/wait.hpp>: corio::futures::wait and
// corio::futures::as_completed over thread-safe futures completed by other
// threads.
#include <corio/futures/wait.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <iterator>
#include <list>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace cf = corio::futures;
using corio_test::on_time;
using corio_test::steady;

namespace {

cf::future<int> finished(int v) {
  cf::future<int> f;
  f.set_result(v);
  return f;
}
cf::future<int> failed() {
  cf::future<int> f;
  f.set_exception(std::runtime_error("failed"));
  return f;
}
cf::future<int> cancelled() {
  cf::future<int> f;
  f.cancel();
  return f;
}

// Sets each future after its delay, from one thread.
class completer {
 public:
  completer(std::vector<std::pair<cf::future<int>, std::chrono::milliseconds>> plan)
      : t_([plan = std::move(plan)]() mutable {
          for (auto& [f, d] : plan) {
            std::this_thread::sleep_for(d);
            f.set_result(1);
          }
        }) {}
  ~completer() { t_.join(); }

 private:
  std::thread t_;
};

}  // namespace

// -- wait --------------------------------------------------------------------------

TEST(FuturesWait, an_empty_list_returns_at_once) {
  const std::vector<cf::future<int>> none;
  auto r = cf::wait(none);
  EXPECT_TRUE(r.done.empty());
  EXPECT_TRUE(r.not_done.empty());
  r = cf::wait(none, std::nullopt, cf::first_completed);
  EXPECT_TRUE(r.done.empty());
}

TEST(FuturesWait, all_completed_keeps_input_order_and_drops_duplicates) {
  auto a = finished(1), b = finished(2), c = cancelled();
  const std::vector<cf::future<int>> fs{b, a, b, c, a};
  auto r = cf::wait(fs);
  ASSERT_EQ(r.done.size(), 3u);
  EXPECT_TRUE(r.done[0] == b);
  EXPECT_TRUE(r.done[1] == a);
  EXPECT_TRUE(r.done[2] == c);
  EXPECT_TRUE(r.not_done.empty());
  // The marks used to drop duplicates are cleared: a second wait sees them all again.
  EXPECT_EQ(cf::wait(fs).done.size(), 3u);
}

TEST(FuturesWait, all_completed_blocks_until_every_future_is_done) {
  corio_test::watchdog dog(20s, "all_completed_blocks_until_every_future_is_done");
  cf::future<int> a, b, c;
  completer done_later({{c, 5ms}, {a, 5ms}, {b, 5ms}});
  auto r = cf::wait(std::vector<cf::future<int>>{a, b, c});
  EXPECT_EQ(r.done.size(), 3u);
  EXPECT_TRUE(r.not_done.empty());
}

TEST(FuturesWait, a_timeout_returns_partial_sets_within_bounds) {
  cf::future<int> pending;
  auto ok = finished(1);
  const auto t0 = steady::now();
  auto r = cf::wait(std::vector<cf::future<int>>{pending, ok}, 50ms);
  const auto elapsed = steady::now() - t0;
  EXPECT_TRUE(on_time(elapsed, 50ms));
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.done[0] == ok);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_TRUE(r.not_done[0] == pending);
  EXPECT_FALSE(pending.cancelled());
}

TEST(FuturesWait, huge_timeouts_do_not_overflow) {
  const std::vector<cf::future<int>> fs{finished(1)};
  EXPECT_EQ(cf::wait(fs, std::chrono::hours::max()).done.size(), 1u);
  EXPECT_EQ(cf::wait(fs, std::chrono::nanoseconds::max(), cf::first_completed).done.size(), 1u);
  int n = 0;
  for (auto& f : cf::as_completed(fs, std::chrono::hours::max())) n += f.result();
  EXPECT_EQ(n, 1);
}

TEST(FuturesWait, fractional_durations_are_accepted) {
  cf::future<int> pending;
  auto r = cf::wait(std::vector<cf::future<int>>{pending}, std::chrono::duration<double>(0.01), cf::first_completed);
  EXPECT_EQ(r.not_done.size(), 1u);
}

TEST(FuturesWait, first_completed_returns_when_one_finishes) {
  corio_test::watchdog dog(20s, "first_completed_returns_when_one_finishes");
  cf::future<int> a, b;
  std::thread t([b]() mutable {
    std::this_thread::sleep_for(10ms);
    b.set_result(1);
  });
  auto r = cf::wait(std::vector<cf::future<int>>{a, b, a}, std::nullopt, cf::first_completed);
  t.join();
  ASSERT_EQ(r.done.size(), 1u);
  EXPECT_TRUE(r.done[0] == b);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_TRUE(r.not_done[0] == a);
}

TEST(FuturesWait, first_completed_with_one_done_does_not_block) {
  cf::future<int> a;
  auto b = finished(0);
  auto r = cf::wait(std::vector<cf::future<int>>{a, b}, 10s, cf::first_completed);
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.not_done.size(), 1u);
}

TEST(FuturesWait, first_exception_ignores_results_and_cancellations_until_an_exception) {
  corio_test::watchdog dog(20s, "first_exception_ignores_results_and_cancellations_until_an_exception");
  cf::future<int> a, b, c, d;
  std::thread t([=]() mutable {
    a.set_result(1);
    std::this_thread::sleep_for(5ms);
    b.cancel();
    std::this_thread::sleep_for(5ms);
    c.set_exception(std::runtime_error("c"));
  });
  auto r = cf::wait(std::vector<cf::future<int>>{a, b, c, d}, std::nullopt, cf::first_exception);
  t.join();
  EXPECT_EQ(r.done.size(), 3u);
  ASSERT_EQ(r.not_done.size(), 1u);
  EXPECT_TRUE(r.not_done[0] == d);
}

TEST(FuturesWait, first_exception_returns_when_all_are_done_without_one) {
  corio_test::watchdog dog(20s, "first_exception_returns_when_all_are_done_without_one");
  cf::future<int> a, b;
  std::thread t([=]() mutable {
    std::this_thread::sleep_for(5ms);
    a.set_result(1);
    std::this_thread::sleep_for(5ms);
    b.cancel();
  });
  auto r = cf::wait(std::vector<cf::future<int>>{a, b}, std::nullopt, cf::first_exception);
  t.join();
  EXPECT_EQ(r.done.size(), 2u);
  EXPECT_TRUE(r.not_done.empty());
}

TEST(FuturesWait, first_exception_with_an_exception_already_there_does_not_block) {
  cf::future<int> a;
  auto r = cf::wait(std::vector<cf::future<int>>{a, failed()}, 10s, cf::first_exception);
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.not_done.size(), 1u);
}

TEST(FuturesWait, first_modes_time_out_with_partial_sets) {
  cf::future<int> a, b;
  const auto t0 = steady::now();
  auto r = cf::wait(std::vector<cf::future<int>>{a, b}, 30ms, cf::first_completed);
  EXPECT_GE(steady::now() - t0, 30ms);
  EXPECT_EQ(r.not_done.size(), 2u);
  r = cf::wait(std::vector<cf::future<int>>{a, finished(1)}, 30ms, cf::first_exception);
  EXPECT_EQ(r.done.size(), 1u);
  EXPECT_EQ(r.not_done.size(), 1u);
  // The registrations were removed: completing the futures later is harmless.
  a.set_result(1);
  b.set_result(2);
}

TEST(FuturesWait, any_range_of_futures_is_accepted) {
  std::list<cf::future<int>> l{finished(1), finished(2)};
  EXPECT_EQ(cf::wait(l).done.size(), 2u);
  const std::deque<cf::future<int>> d{finished(3), finished(4)};
  EXPECT_EQ(cf::wait(d, 1s, cf::first_completed).done.size(), 2u);
}

TEST(FuturesWait, an_empty_handle_is_refused) {
  cf::future<int> a;
  cf::future<int> b = std::move(a);
  EXPECT_THROW(cf::wait(std::vector<cf::future<int>>{b, a}), std::invalid_argument);  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(cf::as_completed(std::vector<cf::future<int>>{a}), std::invalid_argument);
}

// -- as_completed ------------------------------------------------------------------

static_assert(std::input_iterator<cf::as_completed_range<int>::iterator>);
static_assert(std::sentinel_for<std::default_sentinel_t, cf::as_completed_range<void>::iterator>);

TEST(FuturesAsCompleted, yields_done_futures_first_in_input_order_then_as_they_finish) {
  corio_test::watchdog dog(20s, "yields_done_futures_first_in_input_order_then_as_they_finish");
  cf::future<int> p1, p2;
  auto d1 = finished(1), d2 = failed(), d3 = cancelled();
  std::vector<cf::future<int>> seen;
  {
    auto range = cf::as_completed(std::vector<cf::future<int>>{p1, d1, p2, d2, d3});
    completer later({{p2, 5ms}, {p1, 5ms}});  // only once the range is registered
    for (auto& f : range) seen.push_back(f);
  }
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_TRUE(seen[0] == d1);
  EXPECT_TRUE(seen[1] == d2);
  EXPECT_TRUE(seen[2] == d3);
  EXPECT_TRUE(seen[3] == p2);
  EXPECT_TRUE(seen[4] == p1);
}

TEST(FuturesAsCompleted, an_empty_list_yields_nothing) {
  int n = 0;
  for (auto& f : cf::as_completed(std::vector<cf::future<int>>{})) n += f.done();
  EXPECT_EQ(n, 0);
}

TEST(FuturesAsCompleted, duplicates_are_yielded_once) {
  auto a = finished(1);
  cf::future<int> b;
  b.set_result(2);
  int n = 0;
  for (auto& f : cf::as_completed(std::vector<cf::future<int>>{a, b, a, b, a})) n += f.done() ? 1 : 100;
  EXPECT_EQ(n, 2);
}

TEST(FuturesAsCompleted, the_timeout_message_counts_the_unfinished) {
  cf::future<int> p1, p2;
  std::vector<cf::future<int>> fs{cancelled(), p1, p2, finished(1), p1};
  std::string msg;
  int yielded = 0;
  try {
    for (auto& f : cf::as_completed(fs, 20ms)) yielded += f.done();
  } catch (const corio::timeout_error& e) {
    msg = e.what();
  }
  EXPECT_EQ(yielded, 2);
  EXPECT_EQ(msg, "2 (of 4) futures unfinished");
}

TEST(FuturesAsCompleted, the_timeout_counts_from_the_call) {
  cf::future<int> p;
  auto range = cf::as_completed(std::vector<cf::future<int>>{p}, 30ms);
  std::this_thread::sleep_for(40ms);
  const auto t0 = steady::now();
  EXPECT_THROW(range.begin(), corio::timeout_error);
  EXPECT_LT(steady::now() - t0, 2s);  // the deadline had already passed
}

TEST(FuturesAsCompleted, a_range_that_timed_out_has_ended) {
  cf::future<int> p;
  auto range = cf::as_completed(std::vector<cf::future<int>>{p}, 0ms);
  EXPECT_THROW(range.begin(), corio::timeout_error);
  p.set_result(1);
  EXPECT_TRUE(range.begin() == range.end());
}

TEST(FuturesAsCompleted, yields_through_the_any_range_overload) {
  std::set<int> values;
  std::list<cf::future<int>> l{finished(4), finished(5)};
  for (auto& f : cf::as_completed(l, 1s)) values.insert(f.result());
  EXPECT_EQ(values, (std::set<int>{4, 5}));
}

TEST(FuturesAsCompleted, a_range_dropped_early_unregisters_from_pending_futures) {
  cf::future<int> p;
  {
    auto range = cf::as_completed(std::vector<cf::future<int>>{finished(1), p});
    auto it = range.begin();
    EXPECT_TRUE(it->done());
  }
  p.set_result(2);  // no registration left to fire
  EXPECT_EQ(p.result(), 2);
}

TEST(FuturesAsCompleted, yielded_futures_are_released_as_the_iterator_moves_on) {
  // Python: test_free_reference_yielded_future.
  std::weak_ptr<int> w1, w2;
  cf::future<std::shared_ptr<int>> a, b;
  a.set_result(std::make_shared<int>(1));
  b.set_result(std::make_shared<int>(2));
  w1 = a.result();
  w2 = b.result();
  std::vector<cf::future<std::shared_ptr<int>>> fs{std::move(a), std::move(b)};
  auto range = cf::as_completed(std::move(fs));
  auto it = range.begin();
  EXPECT_FALSE(w1.expired());
  ++it;  // moves past the first: only the range held it
  EXPECT_TRUE(w1.expired());
  EXPECT_FALSE(w2.expired());
  ++it;
  EXPECT_TRUE(it == range.end());
  EXPECT_TRUE(w2.expired());
}

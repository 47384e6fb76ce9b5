// Unit tests for <corio/threading/queue.hpp>: queue, lifo_queue,
// priority_queue (Python's queue.Queue, LifoQueue, PriorityQueue).
//
// Every blocking call made by a test has a bound of several seconds, so a
// lost wake-up fails the test instead of hanging it; checks never depend on
// how fast a thread gets to run.
#include <corio/threading/queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "threading_util.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
namespace th = corio::threading;
using corio_test::counted;
using corio_test::later;
using corio_test::on_time;
using corio_test::time_of;
using corio_test::what_of;

namespace {

constexpr auto bound = 10s;  // how long a test waits for what must happen

template <class Q>
concept get_takes_a_number = requires(Q q) { q.get(5); };
template <class Q>
concept put_takes_a_number = requires(Q q) { q.put(1, 5); };

}  // namespace

// -- observers -----------------------------------------------------------------

TEST(ThreadingQueue, a_new_queue_is_empty_unbounded_and_open) {
  th::queue<int> q;
  EXPECT_EQ(q.maxsize(), 0u);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_FALSE(q.is_shut_down());
}

TEST(ThreadingQueue, a_negative_maxsize_means_unbounded) {
  th::queue<int> q(-5);
  EXPECT_EQ(q.maxsize(), 0u);
  for (int i = 0; i < 1000; ++i) q.put_nowait(i);
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 1000u);
}

TEST(ThreadingQueue, a_bounded_queue_is_full_at_maxsize) {
  th::queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  q.put(1);
  EXPECT_FALSE(q.full());
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get(), 1);
  EXPECT_FALSE(q.full());
}

TEST(ThreadingQueue, unfinished_tasks_counts_puts_minus_task_done) {
  th::queue<int> q;
  q.put(1);
  q.put(2);
  EXPECT_EQ(q.unfinished_tasks(), 2u);
  q.get();
  EXPECT_EQ(q.unfinished_tasks(), 2u);  // get() alone does not finish a task
  q.task_done();
  EXPECT_EQ(q.unfinished_tasks(), 1u);
}

// -- order ---------------------------------------------------------------------

TEST(ThreadingQueue, queue_is_first_in_first_out) {
  th::queue<int> q;
  for (int i : {111, 333, 222}) q.put(i);
  EXPECT_EQ(q.get(), 111);
  EXPECT_EQ(q.get(), 333);
  EXPECT_EQ(q.get(), 222);
}

TEST(ThreadingQueue, lifo_queue_returns_the_most_recent_first) {
  th::lifo_queue<int> q;
  for (int i : {111, 333, 222}) q.put(i);
  EXPECT_EQ(q.get(), 222);
  EXPECT_EQ(q.get(), 333);
  EXPECT_EQ(q.get(), 111);
}

TEST(ThreadingQueue, priority_queue_returns_the_smallest_first) {
  th::priority_queue<int> q;
  for (int i : {111, 333, 222}) q.put(i);
  EXPECT_EQ(q.get(), 111);
  EXPECT_EQ(q.get(), 222);
  EXPECT_EQ(q.get(), 333);
}

TEST(ThreadingQueue, priority_queue_orders_by_its_comparator) {
  th::priority_queue<int, std::greater<int>> q;
  for (int i : {1, 3, 2}) q.put(i);
  EXPECT_EQ(q.get(), 3);
  EXPECT_EQ(q.get(), 2);
  EXPECT_EQ(q.get(), 1);
}

TEST(ThreadingQueue, priority_queue_matches_a_sort_on_random_interleavings) {
  std::mt19937 rng(7);
  th::priority_queue<int> q;
  std::vector<int> model;
  for (int step = 0; step < 5000; ++step) {
    if (model.empty() || rng() % 3 != 0) {
      const int v = static_cast<int>(rng() % 100);
      q.put(v);
      model.push_back(v);
    } else {
      const auto it = std::min_element(model.begin(), model.end());
      EXPECT_EQ(q.get(), *it);
      model.erase(it);
    }
    ASSERT_EQ(q.qsize(), model.size());
  }
}

TEST(ThreadingQueue, fifo_order_holds_while_the_ring_wraps_and_grows) {
  th::queue<int> q;
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round + 3; ++i) q.put(next_in++);
    for (int i = 0; i < round + 1; ++i) ASSERT_EQ(q.get(), next_out++);
  }
  while (next_out < next_in) ASSERT_EQ(q.get(), next_out++);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingQueue, fifo_order_holds_for_a_type_whose_move_may_throw) {
  struct item {
    int v;
    explicit item(int x) : v(x) {}
    item(item&& o) noexcept(false) : v(o.v) {}
  };
  th::queue<item> q;
  for (int i = 0; i < 100; ++i) q.put(i);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(q.get().v, i);
}

// -- put constructs in place; move-only items ------------------------------------

TEST(ThreadingQueue, put_constructs_the_item_in_place_from_its_argument) {
  counted::reset();
  {
    th::queue<counted> q;
    q.put(7);
    EXPECT_EQ(counted::constructions, 1u);
    EXPECT_EQ(counted::copies, 0u);
    EXPECT_EQ(counted::moves, 0u);
    EXPECT_EQ(q.get().id, 7);
    EXPECT_EQ(counted::copies, 0u);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(ThreadingQueue, put_accepts_a_braced_initializer) {
  th::queue<std::pair<int, std::string>> q;
  q.put({1, "x"});
  q.put({2, "y"}, 1s);
  q.put_nowait({3, "z"});
  EXPECT_EQ(q.get(), std::make_pair(1, std::string("x")));
  EXPECT_EQ(q.get().second, "y");
  EXPECT_EQ(q.get().first, 3);
}

TEST(ThreadingQueue, move_only_items_go_through) {
  th::lifo_queue<std::unique_ptr<int>> q(1);
  q.put(std::make_unique<int>(5));
  std::unique_ptr<int> p = q.get();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 5);
}

TEST(ThreadingQueue, items_left_in_a_queue_are_destroyed_with_it) {
  counted::reset();
  {
    th::queue<counted> a;
    th::lifo_queue<counted> b;
    th::priority_queue<int> c;
    for (int i = 0; i < 40; ++i) {
      a.put(i);
      b.put(i);
      c.put(i);
    }
    a.get();
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(ThreadingQueue, a_plain_number_is_not_taken_for_a_timeout) {
  static_assert(!get_takes_a_number<th::queue<int>>);
  static_assert(!put_takes_a_number<th::queue<int>>);
  th::queue<int> q;
  q.put(1, true);
  EXPECT_EQ(q.get(true), 1);
}

// -- nowait --------------------------------------------------------------------

TEST(ThreadingQueue, get_nowait_on_an_empty_queue_throws_queue_empty) {
  th::queue<int> q;
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
  EXPECT_THROW(q.get(false), corio::queue_empty);
}

TEST(ThreadingQueue, put_nowait_on_a_full_queue_throws_queue_full_and_adds_nothing) {
  th::queue<int> q(1);
  q.put_nowait(1);
  EXPECT_THROW(q.put_nowait(2), corio::queue_full);
  EXPECT_THROW(q.put(3, false), corio::queue_full);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_EQ(q.get(), 1);
}

// -- timeouts ------------------------------------------------------------------

TEST(ThreadingQueue, get_with_a_timeout_on_an_empty_queue_throws_queue_empty_on_time) {
  th::queue<int> q;
  const auto took = time_of([&] { EXPECT_THROW(q.get(50ms), corio::queue_empty); });
  EXPECT_TRUE(on_time(took, 50ms));
}

TEST(ThreadingQueue, put_with_a_timeout_on_a_full_queue_throws_queue_full_on_time) {
  th::queue<int> q(1);
  q.put(1);
  const auto took = time_of([&] { EXPECT_THROW(q.put(2, 50ms), corio::queue_full); });
  EXPECT_TRUE(on_time(took, 50ms));
  EXPECT_EQ(q.qsize(), 1u);
}

TEST(ThreadingQueue, a_fractional_seconds_timeout_works) {
  th::queue<int> q;
  const auto took = time_of([&] { EXPECT_THROW(q.get(std::chrono::duration<double>(0.03)), corio::queue_empty); });
  EXPECT_TRUE(on_time(took, 30ms));
}

TEST(ThreadingQueue, a_zero_timeout_fails_at_once_when_it_would_wait) {
  th::queue<int> q(1);
  EXPECT_THROW(q.get(0s), corio::queue_empty);
  q.put(1, 0s);
  EXPECT_THROW(q.put(2, 0s), corio::queue_full);
  EXPECT_EQ(q.get(0s), 1);
}

TEST(ThreadingQueue, a_huge_timeout_means_wait_as_long_as_needed) {
  th::queue<int> q;
  later producer([&] { q.put(9); });
  EXPECT_EQ(q.get(std::chrono::hours::max()), 9);
  q.put(10, std::chrono::duration<double>(1e300));
  EXPECT_EQ(q.get(std::chrono::nanoseconds::max()), 10);
}

TEST(ThreadingQueue, a_negative_timeout_throws_invalid_argument_even_when_no_wait_is_needed) {
  th::queue<int> q;
  EXPECT_THROW(q.put(1, -1s), std::invalid_argument);
  EXPECT_EQ(q.qsize(), 0u);
  q.put(1);
  EXPECT_THROW(q.get(-1ms), std::invalid_argument);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_THROW(q.join(-1s), std::invalid_argument);
  EXPECT_THROW(q.get(std::chrono::duration<double>(std::nan(""))), std::invalid_argument);
  try {
    q.get(-1s);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("queue.get()"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("timeout"), std::string::npos) << e.what();
  }
}

// -- blocking ------------------------------------------------------------------

TEST(ThreadingQueue, get_blocks_until_an_item_is_put) {
  th::queue<int> q;
  std::atomic<bool> put_done{false};
  later producer([&] {
    put_done = true;
    q.put(42);
  });
  EXPECT_EQ(q.get(bound), 42);
  EXPECT_TRUE(put_done);
}

TEST(ThreadingQueue, put_blocks_until_a_get_makes_room) {
  th::queue<int> q(1);
  q.put(1);
  std::atomic<bool> got{false};
  later consumer([&] {
    got = true;
    EXPECT_EQ(q.get(), 1);
  });
  q.put(2, bound);
  EXPECT_TRUE(got);
  EXPECT_EQ(q.get(), 2);
}

TEST(ThreadingQueue, many_blocked_getters_each_get_one_item) {
  th::queue<int> q;
  std::atomic<int> sum{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 4; ++i) getters.emplace_back([&] { sum += q.get(bound); });
  std::this_thread::sleep_for(20ms);
  for (int i = 1; i <= 4; ++i) q.put(i);
  for (auto& t : getters) t.join();
  EXPECT_EQ(sum, 10);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingQueue, many_blocked_putters_each_put_one_item) {
  th::queue<int> q(1);
  q.put(0);
  std::vector<std::thread> putters;
  for (int i = 1; i <= 4; ++i) putters.emplace_back([&q, i] { q.put(i, bound); });
  int sum = 0;
  for (int i = 0; i < 5; ++i) sum += q.get(bound);
  for (auto& t : putters) t.join();
  EXPECT_EQ(sum, 10);
  EXPECT_TRUE(q.empty());
}

// -- task_done / join ------------------------------------------------------------

TEST(ThreadingQueue, task_done_more_times_than_items_throws_invalid_argument) {
  th::queue<int> q;
  EXPECT_EQ(what_of<std::invalid_argument>([&] { q.task_done(); }), "task_done() called too many times");
  q.put(1);
  q.get();
  q.task_done();
  EXPECT_THROW(q.task_done(), std::invalid_argument);
  EXPECT_EQ(q.unfinished_tasks(), 0u);
}

TEST(ThreadingQueue, join_returns_at_once_when_no_task_is_unfinished) {
  th::queue<int> q;
  q.join();
  EXPECT_TRUE(q.join(0s));
}

TEST(ThreadingQueue, join_with_a_timeout_returns_false_on_time_while_tasks_are_unfinished) {
  th::queue<int> q;
  q.put(1);
  const auto took = time_of([&] { EXPECT_FALSE(q.join(50ms)); });
  EXPECT_TRUE(on_time(took, 50ms));
}

TEST(ThreadingQueue, join_blocks_until_every_item_got_its_task_done) {
  th::queue<int> q;
  for (int i = 0; i < 3; ++i) q.put(i);
  std::atomic<int> done{0};
  later worker([&] {
    for (int i = 0; i < 3; ++i) {
      q.get();
      ++done;
      q.task_done();
    }
  });
  EXPECT_TRUE(q.join(bound));
  EXPECT_EQ(done, 3);
}

TEST(ThreadingQueue, every_joiner_is_released) {
  th::queue<int> q;
  q.put(1);
  std::atomic<int> released{0};
  std::vector<std::thread> joiners;
  for (int i = 0; i < 3; ++i) joiners.emplace_back([&] { released += q.join(bound) ? 1 : 0; });
  std::this_thread::sleep_for(20ms);
  q.get();
  q.task_done();
  for (auto& t : joiners) t.join();
  EXPECT_EQ(released, 3);
}

// -- shutdown ------------------------------------------------------------------

TEST(ThreadingQueue, after_shutdown_puts_throw_and_gets_drain_then_throw) {
  th::queue<int> q;
  q.put(1);
  q.shutdown();
  EXPECT_TRUE(q.is_shut_down());
  EXPECT_THROW(q.put(2), corio::queue_shut_down);
  EXPECT_THROW(q.put_nowait(2), corio::queue_shut_down);
  EXPECT_THROW(q.put(2, 1s), corio::queue_shut_down);
  EXPECT_EQ(q.get(), 1);
  EXPECT_THROW(q.get(), corio::queue_shut_down);
  EXPECT_THROW(q.get_nowait(), corio::queue_shut_down);
  EXPECT_THROW(q.get(1s), corio::queue_shut_down);
}

TEST(ThreadingQueue, shutdown_immediate_drops_the_items_and_counts_them_done) {
  counted::reset();
  th::queue<counted> q;
  for (int i = 0; i < 3; ++i) q.put(i);
  q.get();  // taken, not done: join still waits for it
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_THROW(q.get(), corio::queue_shut_down);
  EXPECT_FALSE(q.join(0s));
  q.task_done();
  EXPECT_TRUE(q.join(0s));
}

TEST(ThreadingQueue, shutdown_can_be_repeated_and_made_immediate_later) {
  th::queue<int> q;
  q.put(1);
  q.shutdown();
  q.shutdown();
  EXPECT_EQ(q.qsize(), 1u);
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  q.shutdown(false);
  EXPECT_TRUE(q.is_shut_down());
}

TEST(ThreadingQueue, shutdown_wakes_a_blocked_getter_with_queue_shut_down) {
  th::queue<int> q;
  later closer([&] { q.shutdown(); });
  EXPECT_THROW(q.get(bound), corio::queue_shut_down);
}

TEST(ThreadingQueue, shutdown_wakes_a_blocked_putter_with_queue_shut_down) {
  th::queue<int> q(1);
  q.put(1);
  later closer([&] { q.shutdown(); });
  EXPECT_THROW(q.put(2, bound), corio::queue_shut_down);
  EXPECT_EQ(q.get(), 1);  // what was in stays gettable
}

TEST(ThreadingQueue, shutdown_immediate_releases_joiners_when_all_is_drained) {
  th::queue<int> q;
  q.put(1);
  q.put(2);
  later closer([&] { q.shutdown(true); });
  EXPECT_TRUE(q.join(bound));
}

TEST(ThreadingQueue, drained_items_are_destroyed_outside_the_queue_lock) {
  // The item's destructor calls back into the queue: under the lock it
  // would deadlock (the mutex is not recursive).
  struct probe {
    th::queue<probe>* q = nullptr;
    bool* saw_shut_down = nullptr;
    probe(th::queue<probe>* qu, bool* flag) : q(qu), saw_shut_down(flag) {}
    probe(probe&& o) noexcept : q(std::exchange(o.q, nullptr)), saw_shut_down(o.saw_shut_down) {}
    ~probe() {
      if (q != nullptr) *saw_shut_down = q->is_shut_down();
    }
  };
  bool saw = false;
  th::queue<probe> q;
  q.put(probe(&q, &saw));
  q.shutdown(true);
  EXPECT_TRUE(saw);
}

// -- failures leave the queue consistent -----------------------------------------

namespace {
struct boom {
  operator int() const { throw std::runtime_error("boom"); }  // NOLINT: converts on purpose
};
struct failing_less {
  static inline bool fail = false;
  bool operator()(int a, int b) const {
    if (fail) throw std::runtime_error("compare");
    return a < b;
  }
};
}  // namespace

TEST(ThreadingQueue, a_put_whose_construction_throws_adds_nothing) {
  th::queue<int> q(2);
  q.put(1);
  EXPECT_THROW(q.put(boom{}), std::runtime_error);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get(), 2);
}

TEST(ThreadingQueue, a_woken_putter_whose_construction_throws_passes_the_room_on) {
  // Whichever putter is served first, the other one's item gets in.
  th::queue<int> q(1);
  q.put(0);
  std::atomic<bool> failed{false};
  std::thread bad([&] {
    try {
      q.put(boom{}, bound);
    } catch (const std::runtime_error&) {
      failed = true;
    }
  });
  std::thread good([&] { q.put(2, bound); });
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(q.get(), 0);
  EXPECT_EQ(q.get(bound), 2);
  bad.join();
  good.join();
  EXPECT_TRUE(failed);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingQueue, a_priority_put_whose_comparison_throws_leaves_the_heap_intact) {
  using cmp = failing_less;
  th::priority_queue<int, cmp> q;
  for (int i : {5, 1, 4, 2, 3}) q.put(i);
  cmp::fail = true;
  EXPECT_THROW(q.put(0), std::runtime_error);
  EXPECT_THROW(q.get(), std::runtime_error);
  cmp::fail = false;
  EXPECT_EQ(q.qsize(), 5u);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(q.get(), i);
}

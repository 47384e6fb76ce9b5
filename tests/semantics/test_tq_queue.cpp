// Semantic tests for docs/semantics.md section 12, the queue module
// (TQ-01..TQ-07): corio::threading::queue, lifo_queue, priority_queue,
// simple_queue. Scenarios follow CPython's Lib/test/test_queue.py (3.13, with
// shutdown); Python's do_blocking_test (a trigger run by another thread after a
// pause, while this thread blocks) is `blocking_test` below.
//
// Parts of rules with nothing to test in C++:
//   TQ-02  A float or None timeout: a timeout is a std::chrono duration, and
//          the overload without one waits forever.
//   TQ-04  FailingQueue overrides the private _put/_get; here the item's
//          constructor or move fails, which is where C++ code can fail.
//   TQ-05  A signal handler calling put(): put() is lock-free and re-entrant
//          but allocates, so it is not async-signal-safe; the destructor and
//          constructor cases are tested.
//   TQ-06  test_references relies on the garbage collector; a weak_ptr
//          observes the same thing.
//
// Departures asserted here (see queue.hpp): a negative timeout is rejected
// even where Python would not look at it (an unbounded put); join() returns
// once the count has reached zero since it was called.
#include <corio/threading/queue.hpp>
#include <corio/threading/simple_queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "threading_util.hpp"

using namespace std::chrono_literals;
namespace th = corio::threading;
using corio_test::later;
using corio_test::on_time;

namespace {

constexpr int queue_size = 5;
constexpr auto bound = 10s;

// Python's _TriggerThread + do_blocking_test: `trigger` runs on another
// thread after a pause; `block` must not return before the trigger started.
template <class Block>
void blocking_test(Block&& block, std::function<void()> trigger) {
  std::atomic<bool> started{false};
  {
    later t([&] {
      started = true;
      trigger();
    });
    block();
  }
  EXPECT_TRUE(started) << "blocking call returned before its trigger ran";
}

template <class Q>
void basic_queue_test(Q& q, const std::vector<int>& expected_order) {
  // Python: BaseQueueTestMixin.simple_queue_test.
  ASSERT_EQ(q.qsize(), 0u);
  for (int i : {111, 333, 222}) q.put(i);
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) got.push_back(q.get());
  EXPECT_EQ(got, expected_order);
  // Fill up to full (bounded queues only).
  for (int i = 0; i < queue_size - 1; ++i) {
    q.put(i);
    EXPECT_GT(q.qsize(), 0u);
  }
  EXPECT_FALSE(q.full());
  q.put(queue_size - 1);  // last fills it
  if (q.maxsize() != 0) {
    EXPECT_TRUE(q.full());
    EXPECT_THROW(q.put(888, false), corio::queue_full);
    EXPECT_THROW(q.put(888, 10ms), corio::queue_full);
    // put blocks until a get makes room
    blocking_test([&] { q.put(999, bound); }, [&] { q.get(); });
    // empty it
    for (int i = 0; i < queue_size; ++i) q.get();
  } else {
    for (int i = 0; i < queue_size; ++i) q.get();
  }
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get(false), corio::queue_empty);
  EXPECT_THROW(q.get(10ms), corio::queue_empty);
  // get blocks until a put gives it an item
  blocking_test([&] { EXPECT_EQ(q.get(bound), 7); }, [&] { q.put(7); });
}

// A type whose construction from a string, or whose move, can be made to
// fail once: Python's FailingQueue with its fail_next_put / fail_next_get.
struct fallible {
  static inline std::atomic<bool> fail_next_put{false};
  static inline std::atomic<bool> fail_next_get{false};
  std::string v;
  fallible(const char* s) : v(s) {  // NOLINT: implicit, as a Python str
    if (fail_next_put.exchange(false)) throw std::runtime_error("You Lose");
  }
  fallible(int i) : v(std::to_string(i)) {}  // NOLINT
  fallible(fallible&& o) {  // fails before it touches the source
    if (fail_next_get.exchange(false)) throw std::runtime_error("You Lose");
    v = std::move(o.v);
  }
};

}  // namespace

// == TQ-01 ==========================================================================

TEST(TQ_01, maxsize_zero_or_negative_is_unbounded) {
  for (std::ptrdiff_t m : {0, -1}) {
    th::queue<int> q(m);
    for (int i = 0; i < 1000; ++i) q.put_nowait(i);
    EXPECT_FALSE(q.full());
    EXPECT_EQ(q.maxsize(), 0u);
  }
}

TEST(TQ_01, queue_basic_behaviour_is_fifo_bounded_and_unbounded) {
  th::queue<int> bounded(queue_size);
  basic_queue_test(bounded, {111, 333, 222});
  th::queue<int> unbounded;
  basic_queue_test(unbounded, {111, 333, 222});
}

TEST(TQ_01, lifo_queue_returns_the_most_recent_first) {
  th::lifo_queue<int> q(queue_size);
  basic_queue_test(q, {222, 333, 111});
}

TEST(TQ_01, priority_queue_returns_the_smallest_first) {
  th::priority_queue<int> q(queue_size);
  basic_queue_test(q, {111, 222, 333});
}

// == TQ-02 ==========================================================================

TEST(TQ_02, nowait_and_block_false_throw_full_and_empty_at_once) {
  th::queue<int> q(queue_size);
  for (int i = 0; i < queue_size; ++i) q.put_nowait(i);
  EXPECT_THROW(q.put_nowait(queue_size), corio::queue_full);
  EXPECT_THROW(q.put(queue_size, false), corio::queue_full);
  for (int i = 0; i < queue_size; ++i) q.get_nowait();
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
  EXPECT_THROW(q.get(false), corio::queue_empty);
}

TEST(TQ_02, a_timeout_expiring_throws_full_or_empty_within_a_bounded_margin) {
  th::queue<int> q(1);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get(100ms), corio::queue_empty);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(on_time(took, 100ms));
  q.put(1);
  start = std::chrono::steady_clock::now();
  EXPECT_THROW(q.put(2, 100ms), corio::queue_full);
  took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(on_time(took, 100ms));
}

TEST(TQ_02, negative_timeout_raises_invalid_argument) {
  // Python: test_negative_timeout_raises_exception.
  th::queue<int> q(queue_size);
  EXPECT_THROW(q.put(1, -1s), std::invalid_argument);
  EXPECT_THROW(q.get(-1s), std::invalid_argument);
  th::queue<int> unbounded;  // Python skips the check here; corio does not
  EXPECT_THROW(unbounded.put(1, -1s), std::invalid_argument);
}

// == TQ-03 ==========================================================================

TEST(TQ_03, task_done_more_times_than_items_raises_invalid_argument) {
  // Python: test_queue_task_done.
  th::queue<int> q;
  EXPECT_THROW(q.task_done(), std::invalid_argument);
}

TEST(TQ_03, join_blocks_until_every_item_got_its_task_done_and_can_be_repeated) {
  // Python: test_queue_join (two workers, join twice).
  th::queue<int> q;
  std::atomic<long> cum{0};
  auto worker = [&] {
    for (;;) {
      const int x = q.get(bound);
      if (x < 0) {
        q.task_done();
        return;
      }
      cum += x;
      q.task_done();
    }
  };
  std::thread a(worker);
  std::thread b(worker);
  for (int i = 0; i < 100; ++i) q.put(i);
  EXPECT_TRUE(q.join(bound));
  EXPECT_EQ(cum, 4950) << "join() did not block until all items were done";
  q.put(-1);
  q.put(-1);
  EXPECT_TRUE(q.join(bound));  // joining twice works
  a.join();
  b.join();
}

// == TQ-04 ==========================================================================

TEST(TQ_04, a_failing_put_or_get_leaves_the_queue_consistent_and_usable) {
  // Python: FailingQueueTest.failing_queue_test.
  th::queue<fallible> q(queue_size);
  for (int i = 0; i < queue_size - 1; ++i) q.put(i);
  // A failing non-blocking put, and one with a timeout.
  fallible::fail_next_put = true;
  EXPECT_THROW(q.put("oops", false), std::runtime_error);
  fallible::fail_next_put = true;
  EXPECT_THROW(q.put("oops", 100ms), std::runtime_error);
  EXPECT_EQ(q.qsize(), static_cast<std::size_t>(queue_size - 1));
  q.put("last");
  EXPECT_TRUE(q.full());
  // A failing blocking put: it waits for room, gets it, then fails.
  fallible::fail_next_put = true;
  EXPECT_THROW(blocking_test([&] { q.put("full", bound); }, [&] { q.get(); }), std::runtime_error);
  // The put failed but the get succeeded: one slot is free.
  EXPECT_FALSE(q.full());
  q.put("last");
  EXPECT_TRUE(q.full());
  q.get();
  EXPECT_FALSE(q.full());
  q.put("last");
  EXPECT_TRUE(q.full());
  // A blocking put still works.
  blocking_test([&] { q.put("full", bound); }, [&] { q.get(); });
  for (int i = 0; i < queue_size; ++i) q.get();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);

  q.put("first");
  fallible::fail_next_get = true;
  EXPECT_THROW(q.get(), std::runtime_error);
  EXPECT_EQ(q.qsize(), 1u) << "a failed get lost the item";
  fallible::fail_next_get = true;
  EXPECT_THROW(q.get(100ms), std::runtime_error);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get().v, "first");
  EXPECT_TRUE(q.empty());
  // A failing blocking get: it waits for an item, gets it, then fails.
  fallible::fail_next_get = true;
  EXPECT_THROW(blocking_test([&] { q.get(bound); }, [&] { q.put("empty"); }), std::runtime_error);
  EXPECT_EQ(q.qsize(), 1u);  // the put succeeded, the get failed
  EXPECT_EQ(q.get().v, "empty");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.unfinished_tasks(), static_cast<std::size_t>(2 * queue_size));  // the puts that succeeded
}

TEST(TQ_04, a_getter_whose_move_fails_hands_the_item_to_the_next_getter) {
  // Two getters wait; the one served first fails to take the item, and the
  // other must then get it (no lost wake-up).
  th::queue<fallible> q;
  std::atomic<int> failed{0};
  std::atomic<int> got{0};
  auto getter = [&] {
    try {
      if (q.get(bound).v == "x") ++got;
    } catch (const corio::queue_empty&) {
    } catch (const std::runtime_error&) {
      ++failed;
    }
  };
  std::thread a(getter);
  std::thread b(getter);
  std::this_thread::sleep_for(20ms);
  fallible::fail_next_get = true;
  q.put("x");
  a.join();
  b.join();
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(got, 1);
  EXPECT_TRUE(q.empty());
}

// == TQ-05 ==========================================================================

TEST(TQ_05, simple_queue_is_an_unbounded_fifo_whose_put_never_blocks) {
  // Python: BaseSimpleQueueTest.test_basic and test_order.
  th::simple_queue<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
  for (int i = 0; i < 10000; ++i) q.put(i);
  q.put_nowait(10000);
  EXPECT_EQ(q.qsize(), 10001u);
  for (int i = 0; i <= 10000; ++i) ASSERT_EQ(q.get(), i);
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get(false), corio::queue_empty);
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(q.get(50ms), corio::queue_empty);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(on_time(took, 50ms));
}

TEST(TQ_05, simple_queue_negative_timeout_raises_invalid_argument) {
  th::simple_queue<int> q;
  q.put(1);
  EXPECT_THROW(q.get(-1s), std::invalid_argument);
}

namespace {
// Python: CSimpleQueueTest.test_reentrancy puts from __del__ while put()
// runs. Here the shell an item leaves behind when it is moved out puts from
// its destructor, which runs inside get().
struct reentrant;
struct reentrant_args {
  th::simple_queue<reentrant>* q;
  int v;
};
struct reentrant {
  th::simple_queue<reentrant>* q = nullptr;
  int v = 0;
  bool shell = false;
  explicit reentrant(reentrant_args a) : q(a.q), v(a.v) {}
  explicit reentrant(int x) : v(x) {}
  reentrant(reentrant&& o) noexcept : q(o.q), v(o.v) { o.shell = true; }
  ~reentrant() {
    if (shell && q != nullptr) q->put(v - 1);
  }
};
}  // namespace

TEST(TQ_05, simple_queue_put_is_reentrant) {
  th::simple_queue<reentrant> q;
  q.put(reentrant_args{&q, 3});
  EXPECT_EQ(q.get().v, 3);  // the shell left in the queue put 2 from inside get()
  EXPECT_EQ(q.get_nowait().v, 2);
  EXPECT_TRUE(q.empty());
  // A destructor puts while another thread is blocked in get().
  std::thread getter([&] { EXPECT_EQ(q.get(bound).v, 5); });
  std::this_thread::sleep_for(20ms);
  {
    reentrant r(reentrant_args{&q, 6});
    reentrant moved(std::move(r));
  }  // r, a shell now, puts 5
  getter.join();
  EXPECT_TRUE(q.empty());
}

// == TQ-06 ==========================================================================

TEST(TQ_06, simple_queue_drops_its_reference_to_a_returned_item) {
  // Python: BaseSimpleQueueTest.test_references.
  th::simple_queue<std::shared_ptr<int>> q;
  auto a = std::make_shared<int>(1);
  std::weak_ptr<int> w = a;
  q.put(std::move(a));
  q.put(std::make_shared<int>(2));
  EXPECT_FALSE(w.expired());
  q.get();  // the returned pointer is dropped at once
  EXPECT_TRUE(w.expired());
}

// == TQ-07 ==========================================================================

TEST(TQ_07, shutdown_empty_refuses_put_and_get) {
  th::queue<std::string> q;
  q.shutdown();
  EXPECT_THROW(q.put("data"), corio::queue_shut_down);
  EXPECT_THROW(q.get(), corio::queue_shut_down);
}

TEST(TQ_07, shutdown_nonempty_lets_get_drain_then_raises) {
  th::queue<std::string> q;
  q.put("data");
  q.shutdown();
  EXPECT_EQ(q.get(), "data");
  EXPECT_THROW(q.get(), corio::queue_shut_down);
}

TEST(TQ_07, shutdown_immediate_drains_at_once) {
  th::queue<std::string> q;
  q.put("data");
  q.shutdown(true);
  EXPECT_THROW(q.get(), corio::queue_shut_down);
}

TEST(TQ_07, shutdown_allowed_transitions) {
  th::queue<int> q;
  EXPECT_FALSE(q.is_shut_down());
  q.shutdown();
  EXPECT_TRUE(q.is_shut_down());
  q.shutdown(true);
  EXPECT_TRUE(q.is_shut_down());
  q.shutdown(false);
  EXPECT_TRUE(q.is_shut_down());
}

TEST(TQ_07, shutdown_all_methods_in_one_thread) {
  for (bool immediate : {false, true}) {
    th::queue<std::string> q(2);
    q.put("L");
    q.put_nowait("O");
    q.shutdown(immediate);
    EXPECT_THROW(q.put("E"), corio::queue_shut_down);
    EXPECT_THROW(q.put_nowait("W"), corio::queue_shut_down);
    if (immediate) {
      EXPECT_THROW(q.get(), corio::queue_shut_down);
      EXPECT_THROW(q.get_nowait(), corio::queue_shut_down);
      EXPECT_THROW(q.task_done(), std::invalid_argument);
      EXPECT_TRUE(q.join(bound));
    } else {
      EXPECT_EQ(q.get(), "L");
      q.task_done();
      EXPECT_EQ(q.get(), "O");
      q.task_done();
      EXPECT_TRUE(q.join(bound));
      EXPECT_THROW(q.get(), corio::queue_shut_down);
      EXPECT_THROW(q.get_nowait(), corio::queue_shut_down);
      EXPECT_THROW(q.get(1s), corio::queue_shut_down);
    }
  }
}

TEST(TQ_07, shutdown_pending_get_is_woken_with_shut_down) {
  th::queue<int> q;
  std::exception_ptr result;
  std::thread getter([&] {
    try {
      q.get(bound);
    } catch (...) {
      result = std::current_exception();
    }
  });
  std::this_thread::sleep_for(20ms);
  q.shutdown(false);
  getter.join();
  ASSERT_TRUE(result);
  EXPECT_THROW(std::rethrow_exception(result), corio::queue_shut_down);
}

TEST(TQ_07, shutdown_wakes_blocked_putters_with_shut_down) {
  for (bool immediate : {false, true}) {
    th::queue<int> q(1);
    q.put(0);
    std::atomic<int> shut{0};
    std::vector<std::thread> putters;
    for (int i = 0; i < 3; ++i) {
      putters.emplace_back([&] {
        try {
          q.put(1, bound);
        } catch (const corio::queue_shut_down&) {
          ++shut;
        }
      });
    }
    std::this_thread::sleep_for(20ms);
    q.shutdown(immediate);
    for (auto& t : putters) t.join();
    EXPECT_EQ(shut, 3);
  }
}

TEST(TQ_07, shutdown_put_join) {
  // Python: _shutdown_put_join: a blocked put and a join, then shutdown.
  for (bool immediate : {false, true}) {
    th::queue<std::string> q(2);
    q.put("Y");
    std::atomic<int> ok{0};
    std::thread putter([&] {
      try {
        q.put("E");
        q.put("E", bound);  // full now: blocks until the shutdown
      } catch (const corio::queue_shut_down&) {
        ++ok;
      }
    });
    std::thread joiner([&] {
      if (q.join(bound)) ++ok;
    });
    std::this_thread::sleep_for(20ms);
    q.shutdown(immediate);
    if (immediate) {
      EXPECT_THROW(q.get_nowait(), corio::queue_shut_down);
    } else {
      // Drain what got in ("Y", and "E" if the putter got that far).
      for (;;) {
        try {
          q.get_nowait();
          q.task_done();
        } catch (const corio::queue_shut_down&) {
          break;
        }
      }
    }
    putter.join();
    joiner.join();
    EXPECT_EQ(ok, 2);
  }
}

TEST(TQ_07, shutdown_immediate_with_unfinished_tasks_keeps_join_waiting) {
  th::queue<int> q;
  q.put(1);
  q.put(2);
  q.get();  // taken, not yet done
  q.shutdown(true);
  EXPECT_EQ(q.unfinished_tasks(), 1u);
  EXPECT_FALSE(q.join(20ms));
  q.task_done();
  EXPECT_TRUE(q.join(bound));
}

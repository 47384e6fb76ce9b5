// Unit tests for <corio/queues.hpp>: queue, lifo_queue, priority_queue and
// their errors.
#include <corio/queues.hpp>

#include <corio/gather.hpp>
#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "loop_util.hpp"
#include "counted.hpp"
#include "error_util.hpp"

using namespace std::chrono_literals;
using corio_test::counted;
using corio_test::holds;

using corio_test::bounded;
using corio_test::outcome;
using corio_test::yield_once;

namespace {

template <class Q>
corio::task<typename Q::value_type> get_one(Q& q) {
  co_return co_await q.get();
}

template <class Q>
corio::task<> put_one(Q& q, typename Q::value_type v) {
  co_await q.put(std::move(v));
}

std::int64_t now_ms(const corio::event_loop& loop) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(loop.time().time_since_epoch()).count();
}

using counted_ptr = std::unique_ptr<counted>;

}  // namespace

// -- basics -----------------------------------------------------------------------

TEST(Queue, accessors_report_size_bounds_and_state) {
  corio::queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_FALSE(q.is_shut_down());
  q.put_nowait(1);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.full());
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), corio::queue_full);
  q.shutdown();
  EXPECT_TRUE(q.is_shut_down());
}

TEST(Queue, the_errors_are_std_exceptions_with_messages) {
  // They derive from the Exception-like root, never from cancelled_error.
  static_assert(std::is_base_of_v<std::exception, corio::queue_empty>);
  static_assert(std::is_base_of_v<std::exception, corio::queue_full>);
  static_assert(std::is_base_of_v<std::exception, corio::queue_shut_down>);
  EXPECT_STRNE(corio::queue_empty().what(), "");
  EXPECT_STRNE(corio::queue_full().what(), "");
  EXPECT_STRNE(corio::queue_shut_down().what(), "");
}

TEST(Queue, zero_or_negative_maxsize_is_unbounded) {
  for (std::ptrdiff_t m : {0, -1, -100}) {
    corio::queue<int> q(m);
    EXPECT_EQ(q.maxsize(), 0u);
    for (int i = 0; i < 500; ++i) q.put_nowait(i);
    EXPECT_FALSE(q.full());
    EXPECT_EQ(q.qsize(), 500u);
  }
}

TEST(Queue, fifo_order_survives_growth_with_a_wrapped_ring) {
  corio::queue<int> q;
  int next_in = 0, next_out = 0;
  // Interleave so that the ring wraps before it grows, several times.
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 10 + round * 7; ++i) q.put_nowait(next_in++);
    for (int i = 0; i < 5 + round * 3; ++i) EXPECT_EQ(q.get_nowait(), next_out++);
  }
  while (!q.empty()) EXPECT_EQ(q.get_nowait(), next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST(LifoQueue, returns_the_most_recent_item_and_blocks_when_empty) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lifo_queue<int> q(3);
  auto main = [&]() -> corio::task<> {
    for (int i : {1, 2, 3}) co_await q.put(i);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.get_nowait(), 3);
    co_await q.put(4);
    std::vector<int> out;
    for (int i = 0; i < 3; ++i) out.push_back(co_await q.get());
    EXPECT_EQ(out, (std::vector<int>{4, 2, 1}));
    auto g = corio::create_task(get_one(q));
    co_await yield_once();
    EXPECT_FALSE(g.done());
    q.put_nowait(9);
    const int v = co_await g;
    EXPECT_EQ(v, 9);
  };
  loop.run_until_complete(bounded(main()));
}

// -- priority_queue ------------------------------------------------------------------

namespace {

struct job {
  int priority;
  std::string name;
};
struct by_priority {
  bool operator()(const job& a, const job& b) const { return a.priority < b.priority; }
};
struct by_pointee {
  bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const { return *a < *b; }
};

}  // namespace

TEST(PriorityQueue, smallest_first_by_default) {
  corio::priority_queue<int> q;
  for (int i : {5, 1, 4, 2, 3, 1}) q.put_nowait(i);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get_nowait());
  EXPECT_EQ(out, (std::vector<int>{1, 1, 2, 3, 4, 5}));
}

TEST(PriorityQueue, a_custom_comparator_decides_what_is_smallest) {
  corio::priority_queue<int, std::greater<int>> largest_first;
  for (int i : {5, 1, 4, 2, 3}) largest_first.put_nowait(i);
  std::vector<int> out;
  while (!largest_first.empty()) out.push_back(largest_first.get_nowait());
  EXPECT_EQ(out, (std::vector<int>{5, 4, 3, 2, 1}));

  corio::priority_queue<job, by_priority> jobs;
  jobs.put_nowait({3, "low"});
  jobs.put_nowait({1, "urgent"});
  jobs.put_nowait({2, "normal"});
  EXPECT_EQ(jobs.get_nowait().name, "urgent");
  EXPECT_EQ(jobs.get_nowait().name, "normal");
  EXPECT_EQ(jobs.get_nowait().name, "low");
}

TEST(PriorityQueue, move_only_items_with_a_comparator_on_the_pointee) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::priority_queue<std::unique_ptr<int>, by_pointee> q(2);
  auto main = [&]() -> corio::task<> {
    co_await q.put(std::make_unique<int>(7));
    co_await q.put(std::make_unique<int>(3));
    auto p = corio::create_task(put_one(q, std::make_unique<int>(5)));  // blocks: full
    co_await yield_once();
    EXPECT_FALSE(p.done());
    std::unique_ptr<int> a = co_await q.get();
    EXPECT_EQ(*a, 3);
    co_await p;
    std::unique_ptr<int> b = co_await q.get();
    std::unique_ptr<int> c = co_await q.get();
    EXPECT_EQ(*b, 5);
    EXPECT_EQ(*c, 7);
  };
  loop.run_until_complete(bounded(main()));
}

// -- move-only and counted items ---------------------------------------------------

TEST(Queue, move_only_items_go_through_every_path) {
  counted::reset();
  {
    corio::event_loop loop(corio::testing::virtual_time());
    corio::queue<counted_ptr> q(1);
    auto main = [&]() -> corio::task<> {
      q.put_nowait(std::make_unique<counted>(1));
      auto p = corio::create_task(put_one(q, std::make_unique<counted>(2)));  // waits for room
      auto first = q.get_nowait();
      EXPECT_EQ(first->id, 1);
      co_await p;
      auto second = co_await q.get();
      EXPECT_EQ(second->id, 2);
      auto g = corio::create_task(get_one(q));  // waits for an item
      co_await yield_once();
      co_await q.put(std::make_unique<counted>(3));
      auto third = co_await std::move(g);  // an rvalue await moves the value out
      EXPECT_EQ(third->id, 3);
    };
    loop.run_until_complete(bounded(main()));
  }
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(counted::constructions, 3u);  // never copied
}

TEST(Queue, put_builds_the_item_in_place_from_what_it_is_given) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<std::optional<std::int64_t>> opt(4);
  corio::queue<std::string> str(4);
  corio::queue<std::pair<int, std::string>> pairs(4);
  auto main = [&]() -> corio::task<> {
    co_await opt.put(std::int64_t{7});  // converted where it is stored
    co_await opt.put(std::nullopt);
    opt.put_nowait(8);
    EXPECT_EQ(opt.get_nowait(), std::optional<std::int64_t>(7));
    EXPECT_EQ(opt.get_nowait(), std::nullopt);
    EXPECT_EQ(opt.get_nowait(), std::optional<std::int64_t>(8));

    co_await str.put("literal");  // a const char* becomes a std::string in the queue
    co_await pairs.put({1, "braced"});  // a braced list builds the value_type
    pairs.put_nowait({2, "too"});
    EXPECT_EQ(str.get_nowait(), "literal");
    EXPECT_EQ(pairs.get_nowait().second, "braced");
    EXPECT_EQ(pairs.get_nowait().first, 2);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Queue, put_keeps_a_copy_of_an_lvalue_taken_when_it_was_called) {
  // As Python's put() coroutine holds its argument: changing the variable
  // before the put goes in does not change what is put.
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<std::string> q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait("first");
    std::string s = "second";
    auto op = q.put(s);  // the queue is full: this put will wait
    s = "changed";
    auto p = corio::create_task([](auto o) -> corio::task<> { co_await std::move(o); }(std::move(op)));
    co_await yield_once();
    EXPECT_EQ(q.get_nowait(), "first");
    co_await p;
    EXPECT_EQ(q.get_nowait(), "second");
    EXPECT_EQ(s, "changed");
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Queue, a_cancelled_put_destroys_its_item_once_and_never_inserts_it) {
  counted::reset();
  {
    corio::event_loop loop(corio::testing::virtual_time());
    corio::queue<counted> q(1);
    auto main = [&]() -> corio::task<> {
      q.put_nowait(counted(1));
      auto p = corio::create_task(put_one(q, counted(2)));
      co_await yield_once();
      p.cancel();
      auto e = co_await outcome(p);
      EXPECT_TRUE(holds<corio::cancelled_error>(e));
      EXPECT_EQ(q.qsize(), 1u);
      EXPECT_EQ(q.get_nowait().id, 1);
      EXPECT_TRUE(q.empty());
    };
    loop.run_until_complete(bounded(main()));
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Queue, items_left_in_a_queue_are_destroyed_with_it_and_by_an_immediate_shutdown) {
  counted::reset();
  {
    corio::queue<counted> q;
    for (int i = 0; i < 40; ++i) q.put_nowait(counted(i));  // grows the ring
    for (int i = 0; i < 5; ++i) q.get_nowait();
    EXPECT_EQ(counted::alive(), 35u);
  }
  EXPECT_EQ(counted::alive(), 0u);

  corio::lifo_queue<counted> l;
  for (int i = 0; i < 10; ++i) l.put_nowait(counted(i));
  l.shutdown(true);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(l.qsize(), 0u);
}

// -- task_done / join ---------------------------------------------------------------

TEST(Queue, join_wakes_every_joiner_once_all_items_are_done_and_blocks_again_after_a_put) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q;
  int joined = 0;
  auto joiner = [&]() -> corio::task<> {
    co_await q.join();
    ++joined;
  };
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    q.put_nowait(2);
    auto j1 = corio::create_task(joiner());
    auto j2 = corio::create_task(joiner());
    co_await yield_once();
    q.get_nowait();
    q.task_done();
    co_await yield_once();
    EXPECT_EQ(joined, 0);
    q.get_nowait();
    q.task_done();
    co_await corio::gather(j1, j2);
    EXPECT_EQ(joined, 2);

    q.put_nowait(3);
    auto j3 = corio::create_task(joiner());
    co_await yield_once();
    EXPECT_FALSE(j3.done());
    q.get_nowait();
    q.task_done();
    co_await j3;
    EXPECT_THROW(q.task_done(), std::invalid_argument);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Queue, join_under_wait_for_times_out_and_leaves_the_counter_alone) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    auto e = co_await outcome(corio::wait_for([](corio::queue<int>& qu) -> corio::task<> { co_await qu.join(); }(q), 5ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    q.get_nowait();
    q.task_done();
    co_await q.join();
  };
  loop.run_until_complete(bounded(main()));
}

// -- shutdown -----------------------------------------------------------------------

TEST(Queue, an_immediate_shutdown_releases_join_and_wakes_every_waiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q(2);
  corio::queue<int> empty;
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    q.put_nowait(2);
    auto joiner = corio::create_task([](corio::queue<int>& qu) -> corio::task<> { co_await qu.join(); }(q));
    std::vector<corio::task<>> putters;
    for (int i = 0; i < 3; ++i) putters.push_back(corio::create_task(put_one(q, 10 + i)));
    std::vector<corio::task<int>> getters;
    for (int i = 0; i < 3; ++i) getters.push_back(corio::create_task(get_one(empty)));
    co_await yield_once();
    EXPECT_FALSE(joiner.done());

    q.shutdown(true);
    empty.shutdown(true);
    co_await joiner;  // both items drained count as done
    auto pr = co_await corio::gather_settled(std::move(putters));
    for (auto& r : pr) EXPECT_TRUE(holds<corio::queue_shut_down>(r.exception()));
    auto gr = co_await corio::gather_settled(std::move(getters));
    for (auto& r : gr) EXPECT_TRUE(holds<corio::queue_shut_down>(r.exception()));
    EXPECT_EQ(q.qsize(), 0u);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Queue, a_plain_shutdown_does_not_release_join_while_items_remain) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    auto joiner = corio::create_task([](corio::queue<int>& qu) -> corio::task<> { co_await qu.join(); }(q));
    q.shutdown();
    co_await yield_once();
    co_await yield_once();
    EXPECT_FALSE(joiner.done());
    const int v = co_await q.get();  // still drains
    EXPECT_EQ(v, 1);
    q.task_done();
    co_await joiner;
  };
  loop.run_until_complete(bounded(main()));
}

// -- waits under timeouts ---------------------------------------------------------

TEST(Queue, a_get_under_a_timeout_scope_that_expires_takes_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    auto later = corio::create_task([](corio::queue<int>& qu) -> corio::task<> {
      co_await corio::sleep(50ms);
      qu.put_nowait(5);
    }(q));
    int got = -1;
    auto e = co_await outcome(corio::timeout(20ms, [&]() -> corio::task<> { got = co_await q.get(); }));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_EQ(got, -1);
    co_await later;
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.get_nowait(), 5);
    EXPECT_EQ(now_ms(corio::get_running_loop()), 50);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Queue, a_put_timed_out_by_wait_for_inserts_nothing) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<std::string> q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait("a");
    auto e = co_await outcome(corio::wait_for(put_one(q, std::string("b")), 10ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), "a");
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.full());
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Queue, a_get_that_completes_before_the_deadline_returns_the_item) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    corio::get_running_loop().call_later(5ms, [&q] { q.put_nowait(8); });
    const int v = co_await corio::wait_for(get_one(q), 10ms);
    EXPECT_EQ(v, 8);
    EXPECT_EQ(now_ms(corio::get_running_loop()), 5);
  };
  loop.run_until_complete(bounded(main()));
}

// -- loops ------------------------------------------------------------------------

TEST(Queue, a_queue_bound_to_one_loop_refuses_a_blocking_wait_from_another) {
  corio::queue<int> q;
  corio::event_loop first(corio::testing::virtual_time());
  corio::event_loop second(corio::testing::virtual_time());
  auto g = first.create_task(get_one(q));
  corio::testing::run_briefly(first);  // a getter waits: bound to `first`
  auto u = second.create_task(get_one(q));
  EXPECT_THROW(second.run_until_complete(u), std::runtime_error);
  // Non-blocking use involves no loop.
  q.put_nowait(1);
  corio::testing::run_briefly(first);
  EXPECT_TRUE(g.done());
  EXPECT_EQ(g.result(), 1);
}

TEST(Queue, a_waiter_destroyed_with_its_loop_leaves_the_queue_consistent) {
  corio::queue<int> q(1);
  {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.set_exception_handler([](corio::event_loop&, const corio::exception_context&) {});
    q.put_nowait(1);
    loop.create_task(put_one(q, 2));  // waits for room; dropped with the loop
    corio::testing::run_briefly(loop);
  }
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_FALSE(q.full());
  q.put_nowait(3);
  EXPECT_EQ(q.get_nowait(), 3);
}

// Semantic tests for docs/semantics.md section 7: asyncio queues
// (QU-01..QU-12). Scenarios follow CPython's
// Lib/test/test_asyncio/test_queues.py (3.13, with shutdown); each `co_await
// syt::yield_once()` stands for the test's `await asyncio.sleep(0)`.
//
// Parts of rules with nothing to test in C++:
//   QU-01  Non-integer maxsize (test_float_maxsize): maxsize is an integer.
//   QU-05  test_get_with_putters plants a bare future in the private
//          `_putters`; the same rule (a get wakes the oldest putter) is
//          tested with real putters.
//
// Deliberate departure from CPython (asserted here, see queues.hpp): queues
// are FIFO-fair. A getter woken by put() has that item reserved, and a
// putter woken by get() has that slot reserved, so a task calling get(),
// get_nowait(), put() or put_nowait() in between cannot take them (CPython
// lets the newcomer barge and sends the woken task back to wait). Hence
// empty() means "no item a newcomer could take" and full() counts the slots
// promised to woken putters.
#include "sync_util.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using corio::testing::run_briefly;
using corio::testing::virtual_time;
using syt::yield_once;

namespace {

template <class Q>
corio::task<typename Q::value_type> get_one(Q& q) {
  co_return co_await q.get();
}

template <class Q>
corio::task<> put_one(Q& q, typename Q::value_type v) {
  co_await q.put(std::move(v));
}

template <class Q>
corio::task<> join_q(Q& q) {
  co_await q.join();
}

bool shut_down(const std::exception_ptr& e) { return syt::holds<corio::queue_shut_down>(e); }

}  // namespace

// == QU-01 ==========================================================================

TEST(QU, QU_01_maxsize_zero_or_negative_means_unbounded) {
  corio::queue<int> q;
  EXPECT_EQ(q.maxsize(), 0u);
  corio::queue<int> neg(-3);
  EXPECT_EQ(neg.maxsize(), 0u);
  for (int i = 0; i < 1000; ++i) {
    q.put_nowait(i);
    neg.put_nowait(i);
  }
  EXPECT_FALSE(q.full());
  EXPECT_FALSE(neg.full());
  EXPECT_EQ(q.qsize(), 1000u);
}

TEST(QU, QU_01_empty_and_full_follow_qsize_and_maxsize) {
  // Python: QueueBasicTests::test_empty and test_full.
  corio::event_loop loop(virtual_time());
  auto main = [&]() -> corio::task<> {
    corio::queue<int> q;
    EXPECT_TRUE(q.empty());
    co_await q.put(1);
    EXPECT_FALSE(q.empty());
    const int v = co_await q.get();
    EXPECT_EQ(v, 1);
    EXPECT_TRUE(q.empty());

    corio::queue<int> unbounded;
    EXPECT_FALSE(unbounded.full());
    corio::queue<int> one(1);
    co_await one.put(1);
    EXPECT_TRUE(one.full());
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_01_a_putter_blocks_once_maxsize_items_are_in) {
  // Python: QueueBasicTests::test_maxsize.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(2);
  EXPECT_EQ(q.maxsize(), 2u);
  std::vector<int> have_been_put;
  auto putter = [&]() -> corio::task<bool> {
    for (int i = 0; i < 3; ++i) {
      co_await q.put(i);
      have_been_put.push_back(i);
    }
    co_return true;
  };
  auto main = [&]() -> corio::task<> {
    auto t = corio::create_task(putter());
    for (int i = 0; i < 2; ++i) co_await yield_once();
    // The putter is blocked after putting two items.
    EXPECT_EQ(have_been_put, (std::vector<int>{0, 1}));
    const int a = co_await q.get();
    EXPECT_EQ(a, 0);
    // Let the putter resume and put the last item.
    co_await yield_once();
    EXPECT_EQ(have_been_put, (std::vector<int>{0, 1, 2}));
    const int b = co_await q.get();
    const int c = co_await q.get();
    EXPECT_EQ(b, 1);
    EXPECT_EQ(c, 2);
    EXPECT_TRUE(t.done());
    if (t.done()) {
      EXPECT_TRUE(t.result());
    }
  };
  syt::run_bounded(loop, main());
}

// == QU-02 ==========================================================================

TEST(QU, QU_02_a_queue_is_fifo) {
  // Python: QueueBasicTests::test_order.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<std::vector<int>> {
    for (int i : {1, 3, 2}) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    co_return items;
  };
  EXPECT_EQ(syt::run_bounded(loop, main()), (std::vector<int>{1, 3, 2}));
}

TEST(QU, QU_02_a_lifo_queue_returns_the_most_recent_item_first) {
  // Python: LifoQueueTests::test_order.
  corio::event_loop loop(virtual_time());
  corio::lifo_queue<int> q;
  auto main = [&]() -> corio::task<std::vector<int>> {
    for (int i : {1, 3, 2}) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    co_return items;
  };
  EXPECT_EQ(syt::run_bounded(loop, main()), (std::vector<int>{2, 3, 1}));
}

TEST(QU, QU_02_a_priority_queue_returns_the_smallest_item_first) {
  // Python: PriorityQueueTests::test_order.
  corio::event_loop loop(virtual_time());
  corio::priority_queue<int> q;
  auto main = [&]() -> corio::task<std::vector<int>> {
    for (int i : {1, 3, 2}) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    co_return items;
  };
  EXPECT_EQ(syt::run_bounded(loop, main()), (std::vector<int>{1, 2, 3}));
}

// == QU-03 ==========================================================================

TEST(QU, QU_03_put_nowait_on_a_full_queue_throws_queue_full) {
  // Python: QueuePutTests::test_nonblocking_put_exception.
  corio::queue<int> q(1);
  q.put_nowait(1);
  EXPECT_THROW(q.put_nowait(2), corio::queue_full);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 1);
}

TEST(QU, QU_03_get_nowait_on_an_empty_queue_throws_queue_empty) {
  // Python: QueueGetTests::test_nonblocking_get_exception, test_nonblocking_get.
  corio::queue<int> q;
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
  q.put_nowait(1);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
}

// == QU-04 ==========================================================================

TEST(QU, QU_04_get_and_put_complete_without_suspending_when_they_can) {
  // Python: QueueGetTests::test_blocking_get, QueuePutTests::test_blocking_put.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  q.put_nowait(1);
  int steps = 0;
  auto t = loop.create_task([](corio::queue<int>& qu, int& s) -> corio::task<int> {
    const int a = co_await qu.get();
    co_await qu.put(a + 1);  // unbounded: no wait
    const int b = co_await qu.get();
    ++s;
    co_return b;
  }(q, steps));
  run_briefly(loop);  // a single step
  EXPECT_TRUE(t.done());
  EXPECT_EQ(steps, 1);
  if (t.done()) {
    EXPECT_EQ(t.result(), 2);
  }
}

TEST(QU, QU_04_get_blocks_until_an_item_is_put) {
  // Python: QueueGetTests::test_blocking_get_wait.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  corio::event started;
  bool finished = false;
  auto queue_get = [&]() -> corio::task<int> {
    started.set();
    const int res = co_await q.get();
    finished = true;
    co_return res;
  };
  auto main = [&]() -> corio::task<> {
    auto t = corio::create_task(queue_get());
    co_await started.wait();
    EXPECT_FALSE(finished);
    corio::get_running_loop().call_later(10ms, [&q] { q.put_nowait(1); });
    const int res = co_await t;
    EXPECT_TRUE(finished);
    EXPECT_EQ(res, 1);
    EXPECT_EQ(cbt::now_ms(), 10);
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_04_put_blocks_while_the_queue_is_full) {
  // Python: QueuePutTests::test_blocking_put_wait.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(1);
  corio::event started;
  bool finished = false;
  auto queue_put = [&]() -> corio::task<> {
    started.set();
    co_await q.put(1);
    co_await q.put(2);
    finished = true;
  };
  auto main = [&]() -> corio::task<> {
    corio::get_running_loop().call_later(10ms, [&q] { q.get_nowait(); });
    auto t = corio::create_task(queue_put());
    co_await started.wait();
    EXPECT_FALSE(finished);
    co_await t;
    EXPECT_TRUE(finished);
    EXPECT_EQ(cbt::now_ms(), 10);
    EXPECT_EQ(q.get_nowait(), 2);
  };
  syt::run_bounded(loop, main());
}

// == QU-05 ==========================================================================

TEST(QU, QU_05_a_get_frees_a_slot_for_the_oldest_putter) {
  corio::event_loop loop(virtual_time());
  corio::queue<std::string> q(1);
  q.put_nowait("x");
  auto main = [&]() -> corio::task<> {
    auto pa = corio::create_task(put_one(q, "a"));
    auto pb = corio::create_task(put_one(q, "b"));
    co_await yield_once();
    EXPECT_FALSE(pa.done());
    EXPECT_FALSE(pb.done());
    const std::string x = co_await q.get();
    EXPECT_EQ(x, "x");
    co_await yield_once();
    EXPECT_TRUE(pa.done());
    EXPECT_FALSE(pb.done());
    const std::string a = co_await q.get();
    const std::string b = co_await q.get();
    EXPECT_EQ(a, "a");
    EXPECT_EQ(b, "b");
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_05_gets_take_the_items_of_waiting_putters_in_order) {
  // Python: QueueGetTests::test_get_with_waiting_putters.
  corio::event_loop loop(virtual_time());
  corio::queue<std::string> q(1);
  auto main = [&]() -> corio::task<> {
    corio::create_task(put_one(q, "a"));
    corio::create_task(put_one(q, "b"));
    const std::string a = co_await q.get();
    const std::string b = co_await q.get();
    EXPECT_EQ(a, "a");
    EXPECT_EQ(b, "b");
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_05_a_put_wakes_a_waiting_getter) {
  // Python: QueuePutTests::test_put_with_waiting_getters.
  corio::event_loop loop(virtual_time());
  corio::queue<std::string> q;
  auto main = [&]() -> corio::task<> {
    auto t = corio::create_task(get_one(q));
    co_await yield_once();
    co_await q.put("a");
    const std::string v = co_await t;
    EXPECT_EQ(v, "a");
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_05_a_producer_and_a_consumer_make_progress_with_maxsize_one) {
  // Python: QueueGetTests::test_why_are_getters_waiting.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(1);
  std::vector<int> got;
  auto consumer = [&](int n) -> corio::task<> {
    for (int i = 0; i < n; ++i) got.push_back(co_await q.get());
  };
  auto producer = [&](int n) -> corio::task<> {
    for (int i = 0; i < n; ++i) co_await q.put(i);
  };
  auto main = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      tg.create_task(producer(5));
      tg.create_task(consumer(5));
      co_return;
    });
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(QU, QU_05_draining_with_get_nowait_lets_every_blocked_putter_in) {
  // Python: QueuePutTests::test_why_are_putters_waiting.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(2);
  auto getter = [&]() -> corio::task<> {
    co_await yield_once();
    const std::size_t num = q.qsize();
    for (std::size_t i = 0; i < num; ++i) q.get_nowait();
  };
  auto main = [&]() -> corio::task<> {
    co_await corio::wait_for(corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
                               tg.create_task(getter());
                               for (int i = 0; i < 4; ++i) tg.create_task(put_one(q, i));
                               co_return;
                             }),
                             1h);
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(q.get_nowait(), 3);
}

TEST(QU, QU_05_fifo_fairness_an_item_handed_to_a_woken_getter_is_not_available_to_a_newcomer) {
  // Deliberate departure: CPython's get_nowait() here would take the item
  // and send the woken getter back to wait.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    auto g = corio::create_task(get_one(q));
    co_await yield_once();
    q.put_nowait(7);  // reserved for g, which has not run yet
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_TRUE(q.empty());  // nothing a newcomer could take
    EXPECT_THROW(q.get_nowait(), corio::queue_empty);
    auto newcomer = corio::create_task(get_one(q));
    co_await yield_once();
    EXPECT_TRUE(g.done());
    if (g.done()) {
      EXPECT_EQ(g.result(), 7);
    }
    EXPECT_FALSE(newcomer.done());
    q.put_nowait(8);
    const int v = co_await newcomer;
    EXPECT_EQ(v, 8);
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_05_fifo_fairness_a_slot_freed_for_a_woken_putter_keeps_the_queue_full) {
  // Deliberate departure: CPython's full() would be false here and a
  // put_nowait() would take the slot.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(1);
  q.put_nowait(1);
  auto main = [&]() -> corio::task<> {
    auto p = corio::create_task(put_one(q, 2));
    co_await yield_once();
    EXPECT_EQ(q.get_nowait(), 1);  // frees the slot for p
    EXPECT_EQ(q.qsize(), 0u);
    EXPECT_TRUE(q.full());  // the slot is promised
    EXPECT_THROW(q.put_nowait(3), corio::queue_full);
    co_await p;
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_FALSE(q.full());
  };
  syt::run_bounded(loop, main());
}

// == QU-06 ==========================================================================

TEST(QU, QU_06_a_getter_cancelled_after_being_woken_does_not_lose_the_item) {
  // Python: QueuePutTests::test_get_cancel_drop_one_pending_reader.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    auto reader = corio::create_task(get_one(q));
    co_await yield_once();
    q.put_nowait(1);
    q.put_nowait(2);
    reader.cancel();
    auto e = co_await syt::outcome(reader);
    if (syt::is_cancel(e)) {
      // Try again.
      reader = corio::create_task(get_one(q));
      co_await reader;
    }
    // 2 would mean that 1 was dropped.
    EXPECT_EQ(reader.result(), 1);
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_06_a_cancelled_woken_getter_passes_its_item_to_the_next_getter) {
  // Python: QueuePutTests::test_get_cancel_drop_many_pending_readers.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  corio::task<int> reader1, reader2, reader3;
  auto main = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      reader1 = tg.create_task(get_one(q));
      reader2 = tg.create_task(get_one(q));
      reader3 = tg.create_task(get_one(q));
      co_await yield_once();
      q.put_nowait(1);
      q.put_nowait(2);
      reader1.cancel();
      auto e = co_await syt::outcome(reader1);
      EXPECT_TRUE(syt::is_cancel(e));
      co_await reader3;
    });
  };
  syt::run_bounded(loop, main());
  // In which order concurrent readers receive the items is unspecified.
  EXPECT_EQ((std::set<int>{reader2.result(), reader3.result()}), (std::set<int>{1, 2}));
}

TEST(QU, QU_06_a_getter_cancelled_before_a_put_is_not_handed_the_item) {
  // Python: QueueGetTests::test_get_cancelled_race.
  corio::event_loop loop(virtual_time());
  corio::queue<std::string> q;
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(get_one(q));
    auto t2 = corio::create_task(get_one(q));
    co_await yield_once();
    t1.cancel();
    co_await yield_once();
    EXPECT_TRUE(t1.done());
    co_await q.put("a");
    co_await yield_once();
    const std::string v = co_await t2;
    EXPECT_EQ(v, "a");
  };
  syt::run_bounded(loop, main());
}

// == QU-07 ==========================================================================

TEST(QU, QU_07_a_putter_cancelled_after_being_woken_does_not_insert_its_item) {
  // Python: QueuePutTests::test_put_cancel_drop.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    // Putting a second item has to block (qsize == maxsize).
    auto writer = corio::create_task(put_one(q, 2));
    co_await yield_once();
    EXPECT_EQ(q.get_nowait(), 1);
    writer.cancel();
    auto e = co_await syt::outcome(writer);
    if (syt::is_cancel(e)) {
      // Try again.
      writer = corio::create_task(put_one(q, 2));
      co_await writer;
    }
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_EQ(q.qsize(), 0u);
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_07_a_cancelled_putter_leaves_the_slot_to_the_next_one) {
  // Python: QueuePutTests::test_put_cancelled_race.
  corio::event_loop loop(virtual_time());
  corio::queue<std::string> q(1);
  auto main = [&]() -> corio::task<> {
    auto put_a = corio::create_task(put_one(q, "a"));
    auto put_b = corio::create_task(put_one(q, "b"));
    auto put_c = corio::create_task(put_one(q, "X"));
    co_await yield_once();
    EXPECT_TRUE(put_a.done());
    EXPECT_FALSE(put_b.done());

    put_c.cancel();
    co_await yield_once();
    EXPECT_TRUE(put_c.done());
    EXPECT_EQ(q.get_nowait(), "a");
    co_await yield_once();
    EXPECT_EQ(q.get_nowait(), "b");
    co_await put_b;
    EXPECT_TRUE(q.empty());
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_07_a_woken_putter_that_is_cancelled_passes_the_slot_to_the_next_putter) {
  corio::event_loop loop(virtual_time());
  corio::queue<std::string> q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait("x");
    auto p1 = corio::create_task(put_one(q, "1"));
    auto p2 = corio::create_task(put_one(q, "2"));
    co_await yield_once();
    EXPECT_EQ(q.get_nowait(), "x");  // the slot goes to p1...
    p1.cancel();                     // ...which is cancelled before it runs
    co_await yield_once();
    co_await yield_once();
    EXPECT_TRUE(p1.cancelled());
    EXPECT_TRUE(p2.done());
    EXPECT_EQ(q.qsize(), 1u);
    EXPECT_EQ(q.get_nowait(), "2");
  };
  syt::run_bounded(loop, main());
}

// == QU-08 ==========================================================================

TEST(QU, QU_08_a_getter_timed_out_by_wait_for_is_not_kept_waiting) {
  // Python: QueueGetTests::test_cancelled_getters_not_being_held_in_self_getters.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(5);
  auto main = [&]() -> corio::task<> {
    auto e = co_await syt::outcome(corio::wait_for(get_one(q), 100ms));
    EXPECT_TRUE(syt::holds<corio::timeout_error>(e));
    // A stale getter would be handed (and hide) this item.
    q.put_nowait(1);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.get_nowait(), 1);
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_08_a_cancelled_putter_is_not_kept_waiting) {
  // Python: QueuePutTests::test_cancelled_puts_not_being_held_in_self_putters.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    auto put_task = corio::create_task(put_one(q, 1));
    co_await yield_once();
    put_task.cancel();
    auto e = co_await syt::outcome(put_task);
    EXPECT_TRUE(syt::is_cancel(e));
    // A stale putter would be promised (and hold) the freed slot.
    EXPECT_EQ(q.get_nowait(), 1);
    EXPECT_FALSE(q.full());
    q.put_nowait(2);
    EXPECT_EQ(q.qsize(), 1u);
  };
  syt::run_bounded(loop, main());
}

TEST(QU, QU_08_cancelling_a_putter_already_handed_a_slot_raises_only_cancelled_error) {
  // Python: QueuePutTests::test_cancelled_put_silence_value_error_exception.
  corio::event_loop loop(virtual_time());
  corio::queue<int> q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    auto put_task = corio::create_task(put_one(q, 1));
    co_await yield_once();
    q.get_nowait();  // hands the slot to put_task
    put_task.cancel();
    auto e = co_await syt::outcome(put_task);
    EXPECT_TRUE(syt::is_cancel(e));
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.full());  // the slot came back
  };
  syt::run_bounded(loop, main());
}

// == QU-09 ==========================================================================

TEST(QU, QU_09_task_done_more_often_than_put_is_an_error) {
  // Python: _QueueJoinTestMixin::test_task_done_underflow.
  corio::queue<int> q;
  EXPECT_THROW(q.task_done(), std::invalid_argument);
  corio::lifo_queue<int> l;
  EXPECT_THROW(l.task_done(), std::invalid_argument);
  corio::priority_queue<int> p;
  EXPECT_THROW(p.task_done(), std::invalid_argument);

  q.put_nowait(1);
  q.put_nowait(2);
  q.get_nowait();
  q.task_done();
  q.task_done();  // counts puts, not gets
  EXPECT_THROW(q.task_done(), std::invalid_argument);
}

// == QU-10 ==========================================================================

namespace {

template <class Q>
void task_done_scenario() {
  // Python: _QueueJoinTestMixin::test_task_done.
  corio::event_loop loop(virtual_time());
  Q q;
  for (int i = 0; i < 100; ++i) q.put_nowait(i);
  int accumulator = 0;
  bool running = true;
  auto worker = [&]() -> corio::task<> {
    while (running) {
      const int item = co_await q.get();
      accumulator += item;
      q.task_done();
    }
  };
  auto main = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      for (int i = 0; i < 2; ++i) tg.create_task(worker());
      co_await q.join();
      EXPECT_EQ(accumulator, 99 * 100 / 2);
      // Let the workers end.
      running = false;
      for (int i = 0; i < 2; ++i) q.put_nowait(0);
    });
  };
  syt::run_bounded(loop, main());
}

template <class Q>
void join_empty_scenario() {
  // Python: _QueueJoinTestMixin::test_join_empty_queue.
  corio::event_loop loop(virtual_time());
  Q q;
  int steps = 0;
  auto t = loop.create_task([](Q& qu, int& s) -> corio::task<> {
    co_await qu.join();
    co_await qu.join();
    ++s;
  }(q, steps));
  run_briefly(loop);
  EXPECT_TRUE(t.done());
  EXPECT_EQ(steps, 1);
}

}  // namespace

TEST(QU, QU_10_join_waits_until_every_item_is_marked_done) {
  task_done_scenario<corio::queue<int>>();
  task_done_scenario<corio::lifo_queue<int>>();
  task_done_scenario<corio::priority_queue<int>>();
}

TEST(QU, QU_10_join_on_a_fresh_queue_returns_at_once) {
  join_empty_scenario<corio::queue<int>>();
  join_empty_scenario<corio::lifo_queue<int>>();
  join_empty_scenario<corio::priority_queue<int>>();
}

TEST(QU, QU_10_join_blocks_while_a_got_item_is_not_done) {
  corio::event_loop loop(virtual_time());
  corio::queue<int> q;
  auto main = [&]() -> corio::task<> {
    q.put_nowait(1);
    auto j = corio::create_task(join_q(q));
    co_await yield_once();
    EXPECT_FALSE(j.done());
    q.get_nowait();
    co_await yield_once();
    EXPECT_FALSE(j.done());  // got, not done
    q.task_done();
    co_await yield_once();
    EXPECT_TRUE(j.done());
  };
  syt::run_bounded(loop, main());
}

// == QU-11 / QU-12 ==================================================================

namespace {

template <class Q>
class QUShutdown : public ::testing::Test {};

using queue_types =
    ::testing::Types<corio::queue<std::string>, corio::lifo_queue<std::string>, corio::priority_queue<std::string>>;

// Every later put / put_nowait / get / get_nowait raises queue_shut_down.
template <class Q>
corio::task<> expect_all_shut_down(Q& q) {
  const auto put_error = co_await syt::outcome(q.put(std::string("data")));
  EXPECT_TRUE(shut_down(put_error));
  EXPECT_THROW(q.put_nowait("data"), corio::queue_shut_down);
  const auto get_error = co_await syt::outcome(q.get());
  EXPECT_TRUE(shut_down(get_error));
  EXPECT_THROW(q.get_nowait(), corio::queue_shut_down);
}

}  // namespace

TYPED_TEST_SUITE(QUShutdown, queue_types);

TYPED_TEST(QUShutdown, QU_11_shutting_down_an_empty_queue_wakes_getters_with_queue_shut_down) {
  // Python: _QueueShutdownTestMixin::test_shutdown_empty.
  corio::event_loop loop(virtual_time());
  TypeParam q;
  auto main = [&]() -> corio::task<> {
    auto get_task = corio::create_task(get_one(q));
    co_await yield_once();  // the get is pending before the shutdown
    q.shutdown(false);      // unfinished tasks: 0 -> 0
    EXPECT_TRUE(q.is_shut_down());
    EXPECT_EQ(q.qsize(), 0u);
    co_await q.join();
    co_await yield_once();
    EXPECT_TRUE(get_task.done());
    const auto e = co_await syt::outcome(get_task);
    EXPECT_TRUE(shut_down(e));
    co_await expect_all_shut_down(q);
  };
  syt::run_bounded(loop, main());
}

TYPED_TEST(QUShutdown, QU_11_a_shut_down_queue_refuses_puts_and_drains_what_it_holds) {
  // Python: _QueueShutdownTestMixin::test_shutdown_nonempty.
  corio::event_loop loop(virtual_time());
  TypeParam q(1);
  auto main = [&]() -> corio::task<> {
    q.put_nowait("data");
    auto join_task = corio::create_task(join_q(q));
    auto put_task = corio::create_task(put_one(q, "data2"));
    co_await yield_once();
    EXPECT_FALSE(put_task.done());

    q.shutdown(false);  // unfinished tasks: 1 -> 1
    EXPECT_EQ(q.qsize(), 1u);

    // The blocked putter is woken with queue_shut_down.
    co_await yield_once();
    EXPECT_TRUE(put_task.done());
    const auto e = co_await syt::outcome(put_task);
    EXPECT_TRUE(shut_down(e));

    // get() still drains the item.
    const std::string v = co_await q.get();
    EXPECT_EQ(v, "data");
    co_await yield_once();
    EXPECT_FALSE(join_task.done());

    co_await expect_all_shut_down(q);

    q.task_done();  // the one unfinished item
    co_await yield_once();
    EXPECT_TRUE(join_task.done());
    co_await join_task;
    EXPECT_THROW(q.task_done(), std::invalid_argument);
  };
  syt::run_bounded(loop, main());
}

TYPED_TEST(QUShutdown, QU_12_an_immediate_shutdown_drains_the_queue_and_releases_join) {
  // Python: _QueueShutdownTestMixin::test_shutdown_immediate.
  corio::event_loop loop(virtual_time());
  TypeParam q;
  auto main = [&]() -> corio::task<> {
    q.put_nowait("data");
    auto join_task = corio::create_task(join_q(q));
    q.shutdown(true);  // unfinished tasks: 1 -> 0
    EXPECT_EQ(q.qsize(), 0u);
    co_await yield_once();
    EXPECT_TRUE(join_task.done());
    co_await join_task;
    co_await expect_all_shut_down(q);
    EXPECT_THROW(q.task_done(), std::invalid_argument);
  };
  syt::run_bounded(loop, main());
}

TYPED_TEST(QUShutdown, QU_12_an_immediate_shutdown_counts_only_the_drained_items_as_done) {
  // Python: _QueueShutdownTestMixin::test_shutdown_immediate_with_unfinished.
  corio::event_loop loop(virtual_time());
  TypeParam q;
  auto main = [&]() -> corio::task<> {
    q.put_nowait("data");
    q.put_nowait("data");
    auto join_task = corio::create_task(join_q(q));
    const std::string v = co_await q.get();
    EXPECT_EQ(v, "data");
    q.shutdown(true);  // unfinished tasks: 2 -> 1
    EXPECT_EQ(q.qsize(), 0u);
    co_await yield_once();
    EXPECT_FALSE(join_task.done());
    co_await expect_all_shut_down(q);
    q.task_done();
    EXPECT_THROW(q.task_done(), std::invalid_argument);
    co_await yield_once();
    EXPECT_TRUE(join_task.done());
    co_await join_task;
  };
  syt::run_bounded(loop, main());
}

TYPED_TEST(QUShutdown, QU_12_an_immediate_shutdown_wakes_blocked_putters_and_getters_with_queue_shut_down) {
  corio::event_loop loop(virtual_time());
  TypeParam full(1);
  TypeParam empty;
  auto main = [&]() -> corio::task<> {
    full.put_nowait("x");
    auto p = corio::create_task(put_one(full, "y"));
    auto g = corio::create_task(get_one(empty));
    co_await yield_once();
    full.shutdown(true);
    empty.shutdown(true);
    const auto ep = co_await syt::outcome(p);
    const auto eg = co_await syt::outcome(g);
    EXPECT_TRUE(shut_down(ep));
    EXPECT_TRUE(shut_down(eg));
    EXPECT_EQ(full.qsize(), 0u);
  };
  syt::run_bounded(loop, main());
}

TYPED_TEST(QUShutdown, QU_12_an_item_handed_to_a_woken_getter_is_gone_after_an_immediate_shutdown) {
  corio::event_loop loop(virtual_time());
  TypeParam q;
  auto main = [&]() -> corio::task<> {
    auto g = corio::create_task(get_one(q));
    co_await yield_once();
    q.put_nowait("data");  // handed to g, which has not run yet
    q.shutdown(true);
    EXPECT_EQ(q.qsize(), 0u);
    const auto e = co_await syt::outcome(g);
    EXPECT_TRUE(shut_down(e));
    co_await q.join();
  };
  syt::run_bounded(loop, main());
}

TYPED_TEST(QUShutdown, QU_12_shutdown_is_idempotent) {
  corio::event_loop loop(virtual_time());
  TypeParam q;
  q.put_nowait("a");
  q.put_nowait("b");
  q.shutdown(false);
  q.shutdown(false);
  EXPECT_EQ(q.qsize(), 2u);
  q.shutdown(true);
  q.shutdown(true);
  EXPECT_EQ(q.qsize(), 0u);
  EXPECT_THROW(q.task_done(), std::invalid_argument);
  auto main = [&]() -> corio::task<> { co_await expect_all_shut_down(q); };
  syt::run_bounded(loop, main());
}

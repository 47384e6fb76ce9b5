// Semantic tests for docs/semantics.md section 6, synchronization primitives:
// Lock and Event (SY-01..SY-08). Scenarios follow CPython's Lib/test/test_asyncio/
// test_locks.py; each `co_await syt::yield_once()` stands for the test's
// `await asyncio.sleep(0)`.
//
// Parts of rules with nothing to test in C++:
//   SY-01  The `loop=` parameter (TypeError): no constructor takes a loop, so
//          passing one does not compile.
//   SY-05  `with await lock` / `yield from lock` (TypeError): a lock is not
//          awaitable itself; only acquire() and scoped() are, at compile time.
//   SY-19  `async with barrier as i`: corio::barrier has no guard; the tests
//          use wait()'s return value, which is what `as i` binds.
//   SY-20  test_draining_state reads the state from repr(); corio exposes no
//          state name, so the draining phase is observed through what it
//          does (newcomers block until the last task has left).
//   SY-22  test_reset_barrier_when_tasks_half_draining reads the private
//          `_count`; the other reset/abort scenarios are ported.
#include "sy_helpers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using corio::testing::run_briefly;
using corio::testing::virtual_time;
using syt::yield_once;
using namespace syh;

// == SY-01 ==========================================================================

TEST(SY, SY_01_a_lock_is_bound_by_its_first_blocking_wait_and_then_refuses_another_loop) {
  corio::lock lk;
  corio::event_loop first(virtual_time());
  corio::event_loop second(virtual_time());
  // The fast path touches no loop: this does not bind the lock to `first`.
  first.run_until_complete(acquire_release(lk));
  // A waiter that blocks binds it, here to `second`.
  second.run_until_complete(contend(lk));
  EXPECT_FALSE(lk.locked());

  // A fast acquire from `first` still works (no loop is involved)...
  auto holder = [&]() -> corio::task<> {
    co_await lk.acquire();
    // ...but a blocking one does not.
    auto e = co_await syt::outcome(lock_acquire(lk));
    EXPECT_TRUE(bound_elsewhere(e)) << syt::what(e);
    lk.release();
  };
  first.run_until_complete(holder());
  EXPECT_FALSE(lk.locked());
  // `second` can go on using it.
  second.run_until_complete(contend(lk));
}

TEST(SY, SY_01_a_condition_meets_the_loop_binding_of_its_lock_and_of_its_own) {
  // Python: ConditionTests::test_ambiguous_loops.
  corio::event_loop other(virtual_time());
  corio::event_loop loop(virtual_time());

  // wrong_loop_in_lock: the lock is bound to `other`.
  corio::lock lk;
  other.run_until_complete(contend(lk));
  auto wrong_loop_in_lock = [&]() -> corio::task<> {
    auto g = co_await lk.scoped();  // acquired via the fast path
    corio::condition cond(lk);
    // cond.acquire() has to wait on the lock and finds the mismatch.
    auto e = co_await syt::outcome(cond.acquire());
    EXPECT_TRUE(bound_elsewhere(e)) << syt::what(e);
  };
  loop.run_until_complete(wrong_loop_in_lock());
  EXPECT_FALSE(lk.locked());

  // wrong_loop_in_cond: the condition itself is bound to `other`.
  corio::lock lk2;
  corio::condition cond2(lk2);
  auto bind_cond = [&]() -> corio::task<> {
    auto waiter = corio::create_task([](corio::condition& c) -> corio::task<> {
      auto g = co_await c.scoped();
      co_await c.wait();
    }(cond2));
    co_await yield_once();
    {
      auto g = co_await cond2.scoped();
      cond2.notify();
    }
    co_await waiter;
  };
  other.run_until_complete(bind_cond());
  auto wrong_loop_in_cond = [&]() -> corio::task<> {
    auto g = co_await lk2.scoped();
    auto e = co_await syt::outcome(cond2.wait());
    EXPECT_TRUE(bound_elsewhere(e)) << syt::what(e);
    EXPECT_TRUE(cond2.locked());  // the lock is re-held when the error leaves wait()
  };
  loop.run_until_complete(wrong_loop_in_cond());
  EXPECT_FALSE(lk2.locked());
}

// == SY-02 ==========================================================================

TEST(SY, SY_02_acquiring_a_free_lock_returns_true_without_suspending) {
  // Python: LockTests::test_lock (the acquire part).
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  int steps = 0;
  auto t = loop.create_task([](corio::lock& l, int& s) -> corio::task<bool> {
    const bool r = co_await l.acquire();
    ++s;
    co_return r;
  }(lk, steps));
  run_briefly(loop);  // one step: the acquire did not suspend
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.result());
  EXPECT_EQ(steps, 1);
  EXPECT_TRUE(lk.locked());
  lk.release();
  EXPECT_FALSE(lk.locked());
}

TEST(SY, SY_02_cancelled_waiters_do_not_stop_the_fast_path) {
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    auto w = corio::create_task(lock_acquire(lk));
    co_await yield_once();
    w.cancel();
    co_await yield_once();
    EXPECT_TRUE(w.cancelled());
    lk.release();
    EXPECT_FALSE(lk.locked());
    // Nothing live waits: the next acquire is immediate.
    int steps = 0;
    auto u = corio::create_task([](corio::lock& l, int& s) -> corio::task<> {
      co_await l.acquire();
      ++s;
    }(lk, steps));
    co_await yield_once();
    EXPECT_TRUE(u.done());
    EXPECT_EQ(steps, 1);
    EXPECT_TRUE(lk.locked());
    lk.release();
  };
  syt::run_bounded(loop, main());
}

// == SY-03 ==========================================================================

TEST(SY, SY_03_release_wakes_the_oldest_waiter_and_newcomers_queue_behind) {
  // Python: LockTests::test_acquire.
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    const bool first = co_await lk.acquire();
    EXPECT_TRUE(first);
    auto t1 = corio::create_task(lock_append(lk, result, 1));
    auto t2 = corio::create_task(lock_append(lk, result, 2));
    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{});

    lk.release();
    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{1});

    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{1});

    auto t3 = corio::create_task(lock_append(lk, result, 3));
    lk.release();
    co_await yield_once();
    EXPECT_EQ(result, (std::vector<int>{1, 2}));

    lk.release();
    co_await yield_once();
    EXPECT_EQ(result, (std::vector<int>{1, 2, 3}));

    for (auto* t : {&t1, &t2, &t3}) {
      EXPECT_TRUE(t->done());
      if (t->done()) {
        EXPECT_TRUE(t->result());
      }
    }
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_03_a_task_that_releases_and_reacquires_at_once_queues_behind_the_woken_waiter) {
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  std::vector<int> order;
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    auto w = corio::create_task(lock_append_release(lk, order, 1));
    co_await yield_once();
    lk.release();  // wakes w, which has not run yet
    EXPECT_FALSE(lk.locked());
    co_await lk.acquire();  // must not barge in front of w
    order.push_back(0);
    EXPECT_TRUE(w.done());
    lk.release();
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(order, (std::vector<int>{1, 0}));
  EXPECT_FALSE(lk.locked());
}

// == SY-04 ==========================================================================

TEST(SY, SY_04_releasing_an_unlocked_lock_is_a_runtime_error) {
  // Python: LockTests::test_release_not_acquired.
  corio::lock lk;
  EXPECT_THROW(lk.release(), std::runtime_error);
  EXPECT_FALSE(lk.locked());
}

TEST(SY, SY_04_release_without_waiters_unlocks_and_any_task_may_release) {
  // Python: LockTests::test_release_no_waiters; ownership is not checked.
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    EXPECT_TRUE(lk.locked());
    lk.release();
    EXPECT_FALSE(lk.locked());

    co_await lk.acquire();
    auto other = corio::create_task([](corio::lock& l) -> corio::task<> {
      l.release();
      co_return;
    }(lk));
    co_await other;
    EXPECT_FALSE(lk.locked());
  };
  syt::run_bounded(loop, main());
}

// == SY-05 ==========================================================================

TEST(SY, SY_05_a_scoped_guard_holds_the_lock_for_its_scope) {
  // Python: LockTests::test_context_manager.
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    EXPECT_FALSE(lk.locked());
    {
      auto g = co_await lk.scoped();
      EXPECT_TRUE(lk.locked());
      EXPECT_TRUE(g.owns());
    }
    EXPECT_FALSE(lk.locked());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_05_the_guard_releases_when_an_exception_or_a_cancellation_leaves_the_scope) {
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto throws = [&]() -> corio::task<> {
    auto g = co_await lk.scoped();
    co_await yield_once();
    throw std::logic_error("boom");
  };
  auto t = loop.create_task(throws());
  EXPECT_THROW(loop.run_until_complete(t), std::logic_error);
  EXPECT_FALSE(lk.locked());

  auto sleeps = [&]() -> corio::task<> {
    auto g = co_await lk.scoped();
    co_await corio::sleep(1h);
  };
  auto u = loop.create_task(sleeps());
  run_briefly(loop);
  EXPECT_TRUE(lk.locked());
  u.cancel();
  EXPECT_THROW(loop.run_until_complete(u), corio::cancelled_error);
  EXPECT_FALSE(lk.locked());
}

// == SY-06 ==========================================================================

TEST(SY, SY_06_a_cancelled_waiter_leaves_no_trace) {
  // Python: LockTests::test_acquire_cancel.
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    const bool r = co_await lk.acquire();
    EXPECT_TRUE(r);
    auto t = corio::create_task(lock_acquire(lk));
    corio::get_running_loop().call_soon([t]() mutable { t.cancel(); });
    auto e = co_await syt::outcome(t);
    EXPECT_TRUE(syt::is_cancel(e));
    // No waiter left: releasing frees the lock for good.
    lk.release();
    EXPECT_FALSE(lk.locked());
    co_await yield_once();
    EXPECT_FALSE(lk.locked());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_06_a_waiter_cancelled_as_the_lock_is_released_lets_the_next_one_in) {
  // Python: LockTests::test_cancel_race.
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    auto fa = corio::create_future<void>();
    auto ta = corio::create_task(lockit(lk, fa));
    co_await yield_once();
    EXPECT_TRUE(lk.locked());
    auto tb = corio::create_task(lockit(lk, corio::future<>()));
    co_await yield_once();
    auto tc = corio::create_task(lockit(lk, corio::future<>()));
    co_await yield_once();

    fa.set_result();
    tb.cancel();
    co_await yield_once();
    EXPECT_FALSE(lk.locked());
    EXPECT_TRUE(ta.done());
    EXPECT_TRUE(tb.cancelled());
    co_await tc;
    EXPECT_FALSE(lk.locked());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_06_cancelling_one_waiter_while_releasing_lets_exactly_one_other_take_the_lock) {
  // Python: LockTests::test_cancel_release_race (bpo-32734).
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  int lock_count = 0;
  int call_count = 0;
  auto lockit2 = [&]() -> corio::task<> {
    ++call_count;
    co_await lk.acquire();
    ++lock_count;
  };
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    auto t1 = corio::create_task(lockit2());
    auto t2 = corio::create_task(lockit2());
    auto t3 = corio::create_task(lockit2());
    co_await yield_once();  // all three wait

    corio::get_running_loop().call_soon([&lk, t1]() mutable {
      t1.cancel();
      lk.release();
    });
    auto e = co_await syt::outcome(t1);
    EXPECT_TRUE(syt::is_cancel(e));

    EXPECT_EQ(lock_count, 1) << "only one waiter may have taken the lock";
    EXPECT_EQ(call_count, 3);
    EXPECT_TRUE(t1.cancelled());
    EXPECT_TRUE(t2.done());

    // Clean up the task still stuck in acquire().
    t3.cancel();
    co_await yield_once();
    EXPECT_TRUE(t3.cancelled());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_06_a_waiter_cancelled_before_the_release_does_not_strand_a_later_arrival) {
  // Python: LockTests::test_finished_waiter_cancelled.
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    EXPECT_TRUE(lk.locked());
    auto tb = corio::create_task(lock_acquire(lk));
    co_await yield_once();

    auto tc = corio::create_task(lock_acquire(lk));
    tb.cancel();
    lk.release();
    co_await yield_once();

    EXPECT_TRUE(lk.locked());
    EXPECT_TRUE(tb.cancelled());
    co_await tc;
    EXPECT_TRUE(lk.locked());
    lk.release();
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_06_a_waiter_cancelled_after_being_woken_passes_the_lock_on) {
  corio::event_loop loop(virtual_time());
  corio::lock lk;
  std::vector<int> order;
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    auto tb = corio::create_task(lock_append(lk, order, 2));
    auto tc = corio::create_task(lock_append(lk, order, 3));
    co_await yield_once();
    lk.release();  // the lock is handed to tb...
    tb.cancel();   // ...which is cancelled before it runs
    co_await yield_once();
    EXPECT_TRUE(tb.cancelled());
    co_await yield_once();
    EXPECT_TRUE(tc.done());
    EXPECT_EQ(order, std::vector<int>{3});
    EXPECT_TRUE(lk.locked());  // held by tc, never by the cancelled tb
    lk.release();
    EXPECT_FALSE(lk.locked());
  };
  syt::run_bounded(loop, main());
}

// == SY-07 ==========================================================================

TEST(SY, SY_07_set_wakes_all_waiters_and_a_newcomer_passes_at_once) {
  // Python: EventTests::test_wait.
  corio::event_loop loop(virtual_time());
  corio::event ev;
  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    EXPECT_FALSE(ev.is_set());
    auto t1 = corio::create_task(event_append(ev, result, 1));
    auto t2 = corio::create_task(event_append(ev, result, 2));
    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{});

    auto t3 = corio::create_task(event_append(ev, result, 3));
    ev.set();
    co_await yield_once();
    // t3's first step was queued before set() woke t1 and t2.
    EXPECT_EQ(result, (std::vector<int>{3, 1, 2}));
    EXPECT_TRUE(t1.done());
    EXPECT_TRUE(t2.done());
    EXPECT_TRUE(t3.done());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_07_wait_on_a_set_event_returns_true) {
  // Python: EventTests::test_wait_on_set.
  corio::event_loop loop(virtual_time());
  corio::event ev;
  ev.set();
  const bool r = loop.run_until_complete([](corio::event& e) -> corio::task<bool> { co_return co_await e.wait(); }(ev));
  EXPECT_TRUE(r);
}

TEST(SY, SY_07_clear_after_set_does_not_unwake_and_setting_twice_is_harmless) {
  // Python: EventTests::test_clear and test_clear_with_waiters.
  corio::event_loop loop(virtual_time());
  corio::event ev;
  EXPECT_FALSE(ev.is_set());
  ev.set();
  EXPECT_TRUE(ev.is_set());
  ev.clear();
  EXPECT_FALSE(ev.is_set());

  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    auto t = corio::create_task(event_append(ev, result, 1));
    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{});

    ev.set();
    ev.clear();
    EXPECT_FALSE(ev.is_set());
    ev.set();
    ev.set();

    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{1});  // woken once
    EXPECT_TRUE(t.done());
  };
  syt::run_bounded(loop, main());
}

// == SY-08 ==========================================================================

TEST(SY, SY_08_a_cancelled_event_wait_removes_its_waiter) {
  // Python: EventTests::test_wait_cancel.
  corio::event_loop loop(virtual_time());
  corio::event ev;
  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    auto wait = corio::create_task(event_append(ev, result, 1));
    corio::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
    auto e = co_await syt::outcome(wait);
    EXPECT_TRUE(syt::is_cancel(e));
    // The cancelled waiter is gone: set() wakes only the live one.
    auto other = corio::create_task(event_append(ev, result, 2));
    co_await yield_once();
    ev.set();
    co_await other;
    EXPECT_EQ(result, std::vector<int>{2});
  };
  syt::run_bounded(loop, main());
}

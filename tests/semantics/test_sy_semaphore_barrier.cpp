// Semantic tests for docs/semantics.md section 6, synchronization primitives:
// Semaphore, BoundedSemaphore and Barrier (SY-15..SY-22). Scenarios follow CPython's Lib/test/test_asyncio/
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

// == SY-15 ==========================================================================

TEST(SY, SY_15_a_semaphore_with_value_zero_is_locked_and_a_negative_value_is_refused) {
  // Python: SemaphoreTests::test_initial_value_zero, test_semaphore_value.
  corio::semaphore sem(0);
  EXPECT_TRUE(sem.locked());
  EXPECT_THROW(corio::semaphore(-1), std::invalid_argument);
  EXPECT_THROW(corio::bounded_semaphore(-1), std::invalid_argument);
}

TEST(SY, SY_15_the_default_semaphore_has_one_permit) {
  // Python: SemaphoreTests::test_semaphore.
  corio::semaphore sem;
  EXPECT_EQ(sem.value(), 1);
  EXPECT_FALSE(sem.locked());
}

TEST(SY, SY_15_acquire_takes_permits_then_blocks_and_release_hands_them_to_waiters) {
  // Python: SemaphoreTests::test_acquire.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(3);
  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    const bool a = co_await sem.acquire();
    const bool b = co_await sem.acquire();
    EXPECT_TRUE(a);
    EXPECT_TRUE(b);
    EXPECT_FALSE(sem.locked());

    auto t1 = corio::create_task(sem_append(sem, result, 1));
    auto t2 = corio::create_task(sem_append(sem, result, 2));
    auto t3 = corio::create_task(sem_append(sem, result, 3));
    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{1});
    EXPECT_TRUE(sem.locked());
    EXPECT_EQ(sem.value(), 0);

    auto t4 = corio::create_task(sem_append(sem, result, 4));
    sem.release();
    sem.release();
    EXPECT_EQ(sem.value(), 0);  // both permits went to waiters at once

    co_await yield_once();
    EXPECT_EQ(sem.value(), 0);
    EXPECT_EQ(result.size(), 3u);
    EXPECT_TRUE(sem.locked());
    EXPECT_TRUE(t1.done());
    int done = 0;
    for (auto* t : {&t2, &t3, &t4}) done += t->done() ? 1 : 0;
    EXPECT_EQ(done, 2);
    EXPECT_FALSE(t4.done());  // FIFO: t2 and t3 were first

    sem.release();
    co_await corio::gather(t2, t3, t4);
    EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4}));
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_15_release_without_waiters_unlocks) {
  // Python: SemaphoreTests::test_release_no_waiters.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem;
  auto main = [&]() -> corio::task<> {
    co_await sem.acquire();
    EXPECT_TRUE(sem.locked());
    sem.release();
    EXPECT_FALSE(sem.locked());
  };
  syt::run_bounded(loop, main());
}

// == SY-16 ==========================================================================

TEST(SY, SY_16_waiters_are_served_fifo_and_a_reacquiring_task_goes_to_the_back) {
  // Python: SemaphoreTests::test_acquire_fifo_order.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(1);
  std::vector<std::string> result;
  auto coro = [&](std::string tag) -> corio::task<> {
    co_await sem.acquire();
    result.push_back(tag + "_1");
    co_await corio::sleep(10ms);
    sem.release();

    co_await sem.acquire();
    result.push_back(tag + "_2");
    co_await corio::sleep(10ms);
    sem.release();
  };
  auto main = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      tg.create_task(coro("c1"));
      tg.create_task(coro("c2"));
      tg.create_task(coro("c3"));
      co_return;
    });
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(result, (std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"}));
}

TEST(SY, SY_16_a_release_then_acquire_does_not_barge_past_a_woken_waiter) {
  // Python: SemaphoreTests::test_acquire_fifo_order_2.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(1);
  std::vector<int> result;
  auto c2 = [&]() -> corio::task<bool> {
    co_await sem.acquire();
    result.push_back(2);
    sem.release();
    co_await sem.acquire();
    result.push_back(4);
    co_return true;
  };
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(sem_append(sem, result, 1));
    auto t2 = corio::create_task(c2());
    auto t3 = corio::create_task(sem_append(sem, result, 3));
    co_await yield_once();
    sem.release();
    sem.release();
    co_await corio::gather(t1, t2, t3);
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(result, (std::vector<int>{1, 2, 3, 4}));
}

TEST(SY, SY_16_a_cancelled_first_waiter_leaves_the_order_of_the_others_intact) {
  // Python: SemaphoreTests::test_acquire_fifo_order_3.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(0);
  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(sem_append(sem, result, 1));
    auto t2 = corio::create_task(sem_append(sem, result, 2));
    auto t3 = corio::create_task(sem_append(sem, result, 3));
    co_await yield_once();
    t1.cancel();
    co_await yield_once();
    sem.release();
    sem.release();
    co_await corio::gather_settled(t1, t2, t3);
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(result, (std::vector<int>{2, 3}));
}

// == SY-17 ==========================================================================

TEST(SY, SY_17_a_cancelled_acquire_leaves_no_live_waiter) {
  // Python: SemaphoreTests::test_acquire_cancel.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem;
  auto main = [&]() -> corio::task<> {
    co_await sem.acquire();
    auto acquire = corio::create_task(sem_acquire(sem));
    corio::get_running_loop().call_soon([acquire]() mutable { acquire.cancel(); });
    auto e = co_await syt::outcome(acquire);
    EXPECT_TRUE(syt::is_cancel(e));
    EXPECT_EQ(sem.value(), 0);
    sem.release();
    EXPECT_EQ(sem.value(), 1);  // nobody took the permit
    EXPECT_FALSE(sem.locked());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_17_waiters_cancelled_before_a_release_do_not_consume_it) {
  // Python: SemaphoreTests::test_acquire_cancel_before_awoken.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(0);
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(sem_acquire(sem));
    auto t2 = corio::create_task(sem_acquire(sem));
    auto t3 = corio::create_task(sem_acquire(sem));
    auto t4 = corio::create_task(sem_acquire(sem));
    co_await yield_once();

    t1.cancel();
    t2.cancel();
    sem.release();
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ((t3.done() ? 1 : 0) + (t4.done() ? 1 : 0), 1);
    EXPECT_TRUE(t3.done());
    EXPECT_FALSE(t4.done());

    t3.cancel();
    t4.cancel();
    co_await yield_once();
    EXPECT_TRUE(t4.cancelled());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_17_a_release_after_the_first_waiter_is_cancelled_wakes_the_next) {
  // Python: SemaphoreTests::test_acquire_hang.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(0);
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(sem_acquire(sem));
    auto t2 = corio::create_task(sem_acquire(sem));
    co_await yield_once();
    t1.cancel();
    sem.release();
    co_await yield_once();
    co_await yield_once();
    EXPECT_TRUE(sem.locked());
    EXPECT_TRUE(t2.done());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_17_a_woken_waiter_that_is_cancelled_gives_its_permit_back) {
  // Python: SemaphoreTests::test_acquire_no_hang.
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(1);
  corio::task<> t2;
  auto c1 = [&]() -> corio::task<> {
    {
      auto g = co_await sem.scoped();
      co_await yield_once();
    }
    t2.cancel();  // t2 was just handed the permit
  };
  auto c2 = [&]() -> corio::task<> {
    auto g = co_await sem.scoped();
    ADD_FAILURE() << "c2 must not get the semaphore";
  };
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(c1());
    t2 = corio::create_task(c2());
    auto rs = co_await corio::gather_settled(t1, t2);
    EXPECT_TRUE(std::get<0>(rs).has_value());
    EXPECT_TRUE(std::get<1>(rs).cancelled());
    // The permit came back: this does not hang.
    co_await corio::wait_for(sem_acquire(sem), 1s);
    EXPECT_EQ(cbt::now_ms(), 0);
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_17_each_release_wakes_exactly_one_live_waiter) {
  corio::event_loop loop(virtual_time());
  corio::semaphore sem(0);
  std::vector<int> result;
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<bool>> ts;
    for (int i = 0; i < 6; ++i) ts.push_back(corio::create_task(sem_append(sem, result, i)));
    co_await yield_once();
    ts[0].cancel();
    ts[2].cancel();
    sem.release();
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ(result, std::vector<int>{1});
    sem.release();
    sem.release();
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ(result, (std::vector<int>{1, 3, 4}));
    EXPECT_EQ(sem.value(), 0);
    ts[5].cancel();
    co_await corio::gather_settled(std::move(ts));
    EXPECT_EQ(sem.value(), 0);
  };
  syt::run_bounded(loop, main());
}

// == SY-18 ==========================================================================

TEST(SY, SY_18_a_bounded_semaphore_refuses_a_release_above_its_initial_value) {
  // Python: SemaphoreTests::test_release_not_acquired.
  corio::event_loop loop(virtual_time());
  corio::bounded_semaphore bsem;
  EXPECT_THROW(bsem.release(), std::invalid_argument);
  EXPECT_EQ(bsem.value(), 1);
  auto main = [&]() -> corio::task<> {
    co_await bsem.acquire();
    bsem.release();
    EXPECT_THROW(bsem.release(), std::invalid_argument);
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(bsem.value(), 1);
}

TEST(SY, SY_18_a_plain_semaphore_release_is_unbounded) {
  corio::semaphore sem(1);
  sem.release();
  sem.release();
  EXPECT_EQ(sem.value(), 3);
}

// == SY-19 ==========================================================================

TEST(SY, SY_19_a_barrier_needs_at_least_one_party) {
  // Python: BarrierTests::test_barrier_parties.
  EXPECT_THROW(corio::barrier(0), std::invalid_argument);
  corio::barrier b(5);
  EXPECT_EQ(b.parties(), 5u);
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
}

TEST(SY, SY_19_all_parties_pass_together_with_distinct_indices) {
  // Python: BarrierTests::test_context_manager.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 3;
  corio::barrier barrier(N);
  std::vector<std::size_t> results;
  auto coro = [&]() -> corio::task<> { results.push_back(co_await barrier.wait()); };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  std::sort(results.begin(), results.end());
  EXPECT_EQ(results, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}

TEST(SY, SY_19_a_barrier_of_one_passes_at_once_every_time) {
  // Python: BarrierTests::test_filling_one_task and test_filling_one_task_twice.
  corio::event_loop loop(virtual_time());
  corio::barrier barrier(1);
  auto main = [&]() -> corio::task<> {
    const std::size_t i = co_await barrier.wait();
    EXPECT_EQ(i, 0u);
    EXPECT_EQ(barrier.n_waiting(), 0u);

    auto t1 = corio::create_task(barrier.wait());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 0u);
    auto t2 = corio::create_task(barrier.wait());
    co_await yield_once();
    EXPECT_TRUE(t1.done());
    EXPECT_TRUE(t2.done());
    if (t1.done() && t2.done()) {
      EXPECT_EQ(t1.result(), t2.result());
    }
    EXPECT_EQ(barrier.n_waiting(), 0u);
    EXPECT_FALSE(barrier.broken());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_19_n_waiting_counts_the_tasks_while_the_barrier_fills) {
  // Python: BarrierTests::test_filling_task_by_task.
  corio::event_loop loop(virtual_time());
  corio::barrier barrier(3);
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(barrier.wait());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 1u);
    auto t2 = corio::create_task(barrier.wait());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 2u);
    auto t3 = corio::create_task(barrier.wait());
    co_await yield_once();
    co_await corio::gather(t1, t2, t3);
    EXPECT_EQ(barrier.n_waiting(), 0u);
    EXPECT_FALSE(barrier.broken());
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_19_the_barrier_is_reusable_cycle_after_cycle) {
  // Python: BarrierTests::test_filling_tasks_wait_twice and
  // test_filling_tasks_check_return_value.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  corio::barrier barrier(N);
  std::vector<bool> results1, results2;
  auto coro = [&]() -> corio::task<std::size_t> {
    co_await barrier.wait();
    results1.push_back(true);
    const std::size_t i = co_await barrier.wait();
    results2.push_back(true);
    co_return i;
  };
  auto main = [&]() -> corio::task<std::vector<std::size_t>> {
    std::vector<corio::task<std::size_t>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_return co_await corio::gather(std::move(ts));
  };
  auto res = syt::run_bounded(loop, main());
  EXPECT_EQ(results1.size(), N);
  EXPECT_EQ(results2.size(), N);
  std::sort(res.begin(), res.end());
  std::vector<std::size_t> expect(N);
  std::iota(expect.begin(), expect.end(), 0u);
  EXPECT_EQ(res, expect);
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}

// == SY-20 ==========================================================================

TEST(SY, SY_20_a_task_arriving_while_the_barrier_drains_waits_for_the_next_cycle) {
  corio::event_loop loop(virtual_time());
  corio::barrier barrier(2);
  auto main = [&]() -> corio::task<> {
    auto a = corio::create_task(barrier.wait());
    auto b = corio::create_task(barrier.wait());  // trips the barrier
    auto c = corio::create_task(barrier.wait());  // arrives while a has not left
    co_await yield_once();  // a waits, b trips the barrier, c blocks
    co_await yield_once();  // a leaves: the next cycle may start
    co_await yield_once();  // c enters it
    EXPECT_TRUE(a.done());
    EXPECT_TRUE(b.done());
    EXPECT_FALSE(c.done()) << "c must not pass with the cycle it arrived in";
    EXPECT_EQ(barrier.n_waiting(), 1u);  // c, counted in the new cycle
    auto d = corio::create_task(barrier.wait());
    co_await corio::gather(c, d);
    EXPECT_EQ(a.result() + b.result(), 1u);
    EXPECT_EQ(c.result(), 0u);
    EXPECT_EQ(d.result(), 1u);
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_20_tasks_rewaiting_during_draining_block_until_it_completes) {
  // Python: BarrierTests::test_blocking_tasks_while_draining.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  constexpr int rewait = 2;
  corio::barrier barrier(N);
  corio::barrier barrier_nowaiting(N - rewait);
  int rewait_n = rewait;
  auto coro = [&]() -> corio::task<> {
    co_await barrier.wait();
    if (rewait_n > 0) {
      --rewait_n;
      co_await barrier.wait();  // wait again, only for the rewait tasks
    } else {
      co_await barrier_nowaiting.wait();  // the end of draining
      co_await barrier.wait();
    }
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    // Success: barrier_nowaiting was waited for exactly N - rewait times.
    co_await corio::wait_for(corio::gather(std::move(ts)), 1h);
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_EQ(barrier_nowaiting.n_waiting(), 0u);
}

// == SY-21 ==========================================================================

TEST(SY, SY_21_cancelling_a_filling_waiter_only_lowers_n_waiting) {
  // Python: BarrierTests::test_filling_tasks_cancel_one.
  corio::event_loop loop(virtual_time());
  corio::barrier barrier(3);
  int results = 0;
  auto coro = [&]() -> corio::task<> {
    co_await barrier.wait();
    ++results;
  };
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(coro());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 1u);
    auto t2 = corio::create_task(coro());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 2u);

    t1.cancel();
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 1u);
    auto e = co_await syt::outcome(t1);
    EXPECT_TRUE(syt::is_cancel(e));
    EXPECT_TRUE(t1.cancelled());
    EXPECT_FALSE(barrier.broken());

    auto t3 = corio::create_task(coro());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 2u);
    auto t4 = corio::create_task(coro());
    co_await corio::gather(t2, t3, t4);
    EXPECT_EQ(results, 3);
    EXPECT_EQ(barrier.n_waiting(), 0u);
    EXPECT_FALSE(barrier.broken());
  };
  syt::run_bounded(loop, main());
}

// == SY-22 ==========================================================================

TEST(SY, SY_22_abort_breaks_the_barrier) {
  // Python: BarrierTests::test_abort_barrier, test_reset_barrier.
  corio::event_loop loop(virtual_time());
  corio::barrier barrier(1);
  auto main = [&]() -> corio::task<> {
    corio::create_task(barrier.reset());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 0u);
    EXPECT_FALSE(barrier.broken());

    corio::create_task(barrier.abort());
    co_await yield_once();
    EXPECT_EQ(barrier.n_waiting(), 0u);
    EXPECT_TRUE(barrier.broken());
    // Future waits fail until reset().
    auto e = co_await syt::outcome(barrier.wait());
    EXPECT_TRUE(syt::holds<corio::broken_barrier_error>(e));
    co_await barrier.reset();
    EXPECT_FALSE(barrier.broken());
    const std::size_t i = co_await barrier.wait();
    EXPECT_EQ(i, 0u);
  };
  syt::run_bounded(loop, main());
}

TEST(SY, SY_22_abort_after_an_error_breaks_the_barrier_for_everyone_else) {
  // Python: BarrierTests::test_abort_barrier_when_exception.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  corio::barrier barrier(N);
  int results1 = 0, results2 = 0;
  auto coro = [&]() -> corio::task<> {
    try {
      const std::size_t i = co_await barrier.wait();
      if (i == N / 2) throw std::runtime_error("boom");
      co_await barrier.wait();
      ++results1;
    } catch (const corio::broken_barrier_error&) {
      ++results2;
      co_return;
    } catch (const std::runtime_error&) {
    }
    co_await barrier.abort();
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  EXPECT_TRUE(barrier.broken());
  EXPECT_EQ(results1, 0);
  EXPECT_EQ(results2, static_cast<int>(N) - 1);
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(SY, SY_22_reset_makes_the_current_waiters_raise_and_leaves_the_barrier_usable) {
  // Python: BarrierTests::test_reset_barrier_while_tasks_waiting.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  corio::barrier barrier(N);
  int results = 0;
  auto coro = [&]() -> corio::task<> {
    try {
      co_await barrier.wait();
    } catch (const corio::broken_barrier_error&) {
      ++results;
    }
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N - 1; ++i) ts.push_back(corio::create_task(coro()));
    co_await yield_once();
    corio::create_task(barrier.reset());
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(results, static_cast<int>(N) - 1);
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
  // Usable again: a full cycle passes.
  auto again = [&]() -> corio::task<> {
    std::vector<corio::task<std::size_t>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(barrier.wait()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, again());
}

TEST(SY, SY_22_tasks_broken_by_a_reset_can_wait_again_and_complete_a_cycle) {
  // Python: BarrierTests::test_reset_barrier_while_tasks_waiting_and_waiting_again.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  corio::barrier barrier(N);
  int results1 = 0, results2 = 0;
  auto coro1 = [&]() -> corio::task<> {
    try {
      co_await barrier.wait();
    } catch (const corio::broken_barrier_error&) {
      ++results1;
    }
    co_await barrier.wait();
    ++results2;
  };
  auto coro2 = [&]() -> corio::task<> {
    co_await barrier.wait();
    ++results2;
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N - 1; ++i) ts.push_back(corio::create_task(coro1()));
    corio::create_task(barrier.reset());
    co_await yield_once();
    auto last = corio::create_task(coro2());
    co_await corio::gather(std::move(ts));
    co_await last;
  };
  syt::run_bounded(loop, main());
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(results1, static_cast<int>(N) - 1);
  EXPECT_EQ(results2, static_cast<int>(N));
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(SY, SY_22_a_reset_while_the_barrier_drains_breaks_nobody) {
  // Python: BarrierTests::test_reset_barrier_while_tasks_draining.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  corio::barrier barrier(N);
  int results1 = 0, results2 = 0, results3 = 0;
  std::size_t count = 0;
  auto coro = [&]() -> corio::task<> {
    co_await barrier.wait();
    ++count;
    if (count == N) {
      co_await barrier.reset();  // the last task out resets
      co_await barrier.wait();
    } else {
      try {
        co_await barrier.wait();
        ++results1;
      } catch (const std::exception&) {
        ++results2;
      }
    }
    co_await barrier.wait();
    ++results3;
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  EXPECT_FALSE(barrier.broken());
  EXPECT_EQ(results1, static_cast<int>(N) - 1);
  EXPECT_EQ(results2, 0);
  EXPECT_EQ(results3, static_cast<int>(N));
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(SY, SY_22_a_reset_by_drained_tasks_breaks_only_those_still_waiting) {
  // Python: BarrierTests::test_reset_barrier_when_tasks_half_draining_half_blocking.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  constexpr std::size_t blocking_tasks = N / 2;
  corio::barrier barrier(N);
  std::size_t results1 = 0, results2 = 0, count = 0;
  auto coro = [&]() -> corio::task<> {
    bool broken = false;
    try {
      co_await barrier.wait();
    } catch (const corio::broken_barrier_error&) {
      broken = true;
    }
    if (broken) {
      ++results1;               // still waiting when the reset came
      co_await barrier.wait();  // so wait again to reach the parties
      co_return;
    }
    ++count;
    if (count > blocking_tasks) {
      co_await barrier.reset();
      co_await barrier.wait();
    } else {
      try {
        co_await barrier.wait();
      } catch (const corio::broken_barrier_error&) {
        ++results2;
      }
    }
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  EXPECT_EQ(results1, blocking_tasks);
  EXPECT_EQ(results2, 0u);
  EXPECT_EQ(barrier.n_waiting(), 0u);
  EXPECT_FALSE(barrier.broken());
}

TEST(SY, SY_22_an_abort_by_drained_tasks_breaks_the_waiting_and_the_blocked) {
  // Python: BarrierTests::test_abort_barrier_when_tasks_half_draining_half_blocking.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  constexpr std::size_t blocking_tasks = N / 2;
  corio::barrier barrier(N);
  std::size_t results1 = 0, results2 = 0, count = 0;
  auto coro = [&]() -> corio::task<> {
    bool broken = false;
    try {
      co_await barrier.wait();
    } catch (const corio::broken_barrier_error&) {
      broken = true;
    }
    if (broken) {
      ++results1;
      co_return;
    }
    ++count;
    if (count > blocking_tasks) {
      co_await barrier.abort();
    } else {
      try {
        co_await barrier.wait();
      } catch (const corio::broken_barrier_error&) {
        ++results2;
      }
    }
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  EXPECT_TRUE(barrier.broken());
  EXPECT_EQ(results1, blocking_tasks);
  EXPECT_EQ(results2, N - blocking_tasks - 1);
  EXPECT_EQ(barrier.n_waiting(), 0u);
}

TEST(SY, SY_22_after_an_abort_a_reset_makes_the_barrier_usable_again) {
  // Python: BarrierTests::test_abort_barrier_when_exception_then_resetting.
  corio::event_loop loop(virtual_time());
  constexpr std::size_t N = 5;
  corio::barrier barrier1(N);
  corio::barrier barrier2(N);
  int results1 = 0, results2 = 0, results3 = 0;
  auto coro = [&]() -> corio::task<> {
    bool failed = false;
    try {
      const std::size_t i = co_await barrier1.wait();
      if (i == N / 2) throw std::runtime_error("boom");
      co_await barrier1.wait();
      ++results1;
    } catch (const corio::broken_barrier_error&) {
      ++results2;
    } catch (const std::runtime_error&) {
      failed = true;
    }
    if (failed) co_await barrier1.abort();

    // Everyone has left barrier1 before the reset, and nobody enters it
    // before the reset is done.
    const std::size_t i = co_await barrier2.wait();
    if (i == N / 2) co_await barrier1.reset();
    co_await barrier2.wait();
    co_await barrier1.wait();
    ++results3;
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t i = 0; i < N; ++i) ts.push_back(corio::create_task(coro()));
    co_await corio::gather(std::move(ts));
  };
  syt::run_bounded(loop, main());
  EXPECT_FALSE(barrier1.broken());
  EXPECT_EQ(results1, 0);
  EXPECT_EQ(results2, static_cast<int>(N) - 1);
  EXPECT_EQ(results3, static_cast<int>(N));
  EXPECT_EQ(barrier1.n_waiting(), 0u);
}

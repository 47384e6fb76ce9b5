// Unit tests for <corio/locks.hpp>: event, lock, scoped_guard, condition,
// semaphore, bounded_semaphore, barrier.
#include <corio/locks.hpp>

#include <corio/gather.hpp>
#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "loop_util.hpp"
#include "error_util.hpp"

using namespace std::chrono_literals;
using corio_test::holds;

using corio_test::bounded;
using corio_test::outcome;
using corio_test::yield_once;

namespace {

// Runs `main` inline in a task under a (virtual) day's deadline, so that a
// lost wake-up fails the test with timeout_error instead of hanging it: on
// virtual time the loop jumps to the deadline when nothing else can run.
corio::task<> record_wait(corio::event& ev, std::vector<int>& out, int id) {
  const bool r = co_await ev.wait();
  out.push_back(r ? id : -id);
}

}  // namespace

TEST(Event, wait_on_a_set_event_returns_true_without_suspending) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  ev.set();
  EXPECT_TRUE(ev.is_set());
  int steps = 0;
  auto t = loop.create_task([](corio::event& e, int& s) -> corio::task<bool> {
    const bool r = co_await e.wait();
    ++s;
    co_return r;
  }(ev, steps));
  corio::testing::run_briefly(loop);  // one step: no suspension needed
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.result());
  EXPECT_EQ(steps, 1);
}

TEST(Event, set_wakes_every_waiter_in_arrival_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  std::vector<int> order;
  for (int i = 1; i <= 5; ++i) loop.create_task(record_wait(ev, order, i));
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(order.empty());
  ev.set();
  ev.clear();  // SY-07: clearing after set does not un-wake the waiters
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(ev.is_set());
}

TEST(Event, cancelled_waiter_leaves_no_trace_and_sees_cancelled_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  std::vector<int> order;
  auto a = loop.create_task(record_wait(ev, order, 1));
  auto b = loop.create_task(record_wait(ev, order, 2));
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(a.cancel("stop"));
  corio::testing::run_briefly(loop);
  ASSERT_TRUE(a.done());
  EXPECT_TRUE(a.cancelled());
  try {
    a.result();
    FAIL() << "a cancelled task's result() must throw";
  } catch (const corio::cancelled_error& e) {
    EXPECT_EQ(std::string(e.what()), "stop");
  }
  ev.set();
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, std::vector<int>{2});
  EXPECT_TRUE(b.done());
}

TEST(Event, waits_work_under_a_timeout) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  auto t = loop.create_task([](corio::event& e) -> corio::task<bool> {
    try {
      co_await corio::wait_for(
          [](corio::event& e2) -> corio::task<> { co_await e2.wait(); }(e), 50ms);
    } catch (const corio::timeout_error&) {
      co_return false;
    }
    co_return true;
  }(ev));
  EXPECT_FALSE(loop.run_until_complete(t));
  EXPECT_EQ(loop.time().time_since_epoch(), 50ms);
}

TEST(Event, an_event_used_from_two_loops_is_an_error) {
  corio::event ev;
  {
    corio::event_loop first(corio::testing::virtual_time());
    auto t = first.create_task([](corio::event& e) -> corio::task<> { co_await e.wait(); }(ev));
    corio::testing::run_briefly(first);
    corio::event_loop second(corio::testing::virtual_time());
    auto u = second.create_task([](corio::event& e) -> corio::task<> { co_await e.wait(); }(ev));
    EXPECT_THROW(second.run_until_complete(u), std::runtime_error);  // SY-01
    t.cancel();
    corio::testing::run_briefly(first);
    EXPECT_TRUE(t.cancelled());
  }
}

TEST(Event, two_tasks_ping_pong) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event a, b;
  constexpr int kRounds = 1000;
  int pongs = 0;
  auto ping = [](corio::event& x, corio::event& y) -> corio::task<> {
    for (int i = 0; i < kRounds; ++i) {
      x.set();
      co_await y.wait();
      y.clear();
    }
  };
  auto pong = [](corio::event& x, corio::event& y, int& n) -> corio::task<> {
    for (int i = 0; i < kRounds; ++i) {
      co_await x.wait();
      x.clear();
      ++n;
      y.set();
    }
  };
  loop.run_until_complete([&]() -> corio::task<> { co_await corio::gather(ping(a, b), pong(a, b, pongs)); }());
  EXPECT_EQ(pongs, kRounds);
}

// -- helpers for the primitives below ------------------------------------------------

namespace {

corio::task<> hold(corio::lock& lk, corio::duration d) {
  auto g = co_await lk.scoped();
  co_await corio::sleep(d);
}

corio::task<bool> acquire_lock(corio::lock& lk) { co_return co_await lk.acquire(); }
corio::task<bool> acquire_sem(corio::semaphore& s) { co_return co_await s.acquire(); }

std::int64_t now_ms(const corio::event_loop& loop) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(loop.time().time_since_epoch()).count();
}

}  // namespace

// -- lock ---------------------------------------------------------------------------

TEST(Lock, a_new_lock_is_unlocked_and_release_of_an_unlocked_lock_throws) {
  corio::lock lk;
  EXPECT_FALSE(lk.locked());
  EXPECT_THROW(lk.release(), std::runtime_error);
}

TEST(Lock, many_waiters_acquire_in_arrival_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  std::vector<int> order;
  auto worker = [&](int id) -> corio::task<> {
    auto g = co_await lk.scoped();
    order.push_back(id);
    co_await yield_once();  // hold it across a suspension
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (int i = 0; i < 100; ++i) ts.push_back(corio::create_task(worker(i)));
    co_await corio::gather(std::move(ts));
  };
  loop.run_until_complete(bounded(main()));
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_FALSE(lk.locked());
}

TEST(Lock, a_release_from_outside_any_task_wakes_the_waiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto holder = loop.create_task(acquire_lock(lk));
  corio::testing::run_briefly(loop);
  auto waiter = loop.create_task(acquire_lock(lk));
  corio::testing::run_briefly(loop);
  EXPECT_FALSE(waiter.done());
  lk.release();
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(waiter.done());
  EXPECT_TRUE(lk.locked());
  lk.release();
}

TEST(Lock, an_acquire_timed_out_by_wait_for_leaves_no_waiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    auto h = corio::create_task(hold(lk, 1h));
    co_await yield_once();
    auto e = co_await outcome(corio::wait_for(acquire_lock(lk), 50ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_EQ(now_ms(corio::get_running_loop()), 50);
    h.cancel();  // the holder's guard releases; nobody else waits
    co_await outcome(h);
    EXPECT_FALSE(lk.locked());
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Lock, an_acquire_under_a_timeout_scope_that_expires_leaves_no_waiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    auto h = corio::create_task(hold(lk, 100ms));
    co_await yield_once();
    bool got = false;
    auto e = co_await outcome(corio::timeout(20ms, [&]() -> corio::task<> {
      co_await lk.acquire();
      got = true;
    }));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_FALSE(got);
    co_await h;
    EXPECT_FALSE(lk.locked()) << "the timed-out waiter must not have been handed the lock";
    // Within the deadline it works.
    co_await corio::timeout(20ms, [&]() -> corio::task<> { co_await lk.acquire(); });
    EXPECT_TRUE(lk.locked());
    lk.release();
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Lock, a_lock_used_from_a_second_loop_throws) {
  corio::lock lk;
  corio::event_loop first(corio::testing::virtual_time());
  corio::event_loop second(corio::testing::virtual_time());
  auto h = first.create_task(acquire_lock(lk));
  corio::testing::run_briefly(first);
  auto w = first.create_task(acquire_lock(lk));
  corio::testing::run_briefly(first);  // binds the lock to `first`
  lk.release();                        // hands it to w
  corio::testing::run_briefly(first);
  EXPECT_TRUE(w.done());
  // The lock is held (by w); a blocking acquire on `second` must fail.
  auto u = second.create_task(acquire_lock(lk));
  EXPECT_THROW(second.run_until_complete(u), std::runtime_error);
  EXPECT_TRUE(lk.locked());
  lk.release();
  EXPECT_FALSE(lk.locked());
}

TEST(Lock, a_waiter_destroyed_with_its_loop_leaves_the_lock_usable) {
  corio::lock lk;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.set_exception_handler([](corio::event_loop&, const corio::exception_context&) {});
    auto a = loop.create_task(acquire_lock(lk));
    corio::testing::run_briefly(loop);
    loop.create_task(acquire_lock(lk));  // blocks; dropped with the loop
    corio::testing::run_briefly(loop);
  }
  EXPECT_TRUE(lk.locked());
  lk.release();
  EXPECT_FALSE(lk.locked());
  corio::event_loop next(corio::testing::virtual_time());
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    auto w = corio::create_task(acquire_lock(lk));
    co_await yield_once();
    lk.release();
    co_await w;
    EXPECT_TRUE(lk.locked());
    lk.release();
  };
  next.run_until_complete(bounded(main()));
}

// -- scoped_guard ---------------------------------------------------------------------

TEST(LockGuard, a_guard_can_be_moved_reset_early_and_reports_ownership) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    auto g = co_await lk.scoped();
    EXPECT_TRUE(g.owns());
    corio::scoped_guard<corio::lock> moved(std::move(g));
    EXPECT_FALSE(g.owns());  // NOLINT(bugprone-use-after-move): checking the moved-from state
    EXPECT_TRUE(moved.owns());
    EXPECT_TRUE(lk.locked());
    moved.reset();
    EXPECT_FALSE(moved.owns());
    EXPECT_FALSE(lk.locked());
    moved.reset();  // twice is harmless

    // Move-assigning over a guard that owns something releases that first.
    corio::lock other;
    auto a = co_await lk.scoped();
    auto b = co_await other.scoped();
    a = std::move(b);
    EXPECT_FALSE(lk.locked());
    EXPECT_TRUE(other.locked());
  };
  loop.run_until_complete(bounded(main()));
}

TEST(LockGuard, a_guard_adopts_an_acquire_made_apart_and_releases_it_on_exception) {
  // Python: await lock.acquire(); try: ... finally: lock.release()
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    try {
      co_await lk.acquire();
      corio::scoped_guard g(lk, corio::adopt_lock);
      EXPECT_TRUE(g.owns());
      co_await yield_once();
      EXPECT_TRUE(lk.locked());
      throw std::logic_error("inside");
    } catch (const std::logic_error&) {
      EXPECT_FALSE(lk.locked());
    }
    corio::semaphore sem(2);
    co_await sem.acquire();
    {
      corio::scoped_guard g(sem, corio::adopt_lock);
      EXPECT_FALSE(sem.locked());
    }
    co_await sem.acquire();
    co_await sem.acquire();
    EXPECT_TRUE(sem.locked());
    sem.release();
    sem.release();
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_FALSE(lk.locked());
}

TEST(LockGuard, the_guard_releases_when_an_exception_leaves_the_scope) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    try {
      auto g = co_await lk.scoped();
      co_await yield_once();
      throw std::logic_error("inside");
    } catch (const std::logic_error&) {
      EXPECT_FALSE(lk.locked());
    }
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_FALSE(lk.locked());
}

TEST(LockGuard, the_guard_releases_when_a_cancellation_leaves_the_scope_and_the_next_waiter_gets_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  auto main = [&]() -> corio::task<> {
    auto h = corio::create_task(hold(lk, 1h));
    auto w = corio::create_task(acquire_lock(lk));
    co_await yield_once();
    h.cancel();
    auto e = co_await outcome(h);
    EXPECT_TRUE(holds<corio::cancelled_error>(e));
    const bool r = co_await w;
    EXPECT_TRUE(r);
    EXPECT_TRUE(lk.locked());
    lk.release();
  };
  loop.run_until_complete(bounded(main()));
}

TEST(LockGuard, a_cancel_while_waiting_for_scoped_leaves_nothing_held) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  bool entered = false;
  auto main = [&]() -> corio::task<> {
    co_await lk.acquire();
    auto w = corio::create_task([](corio::lock& l, bool& in) -> corio::task<> {
      auto g = co_await l.scoped();
      in = true;
    }(lk, entered));
    co_await yield_once();
    w.cancel();
    auto e = co_await outcome(w);
    EXPECT_TRUE(holds<corio::cancelled_error>(e));
    EXPECT_FALSE(entered);
    EXPECT_TRUE(lk.locked());  // still ours
    lk.release();
    EXPECT_FALSE(lk.locked());
  };
  loop.run_until_complete(bounded(main()));
}

// -- condition ------------------------------------------------------------------------

TEST(Condition, scoped_guards_the_underlying_lock) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock lk;
  corio::condition cond(lk);
  corio::condition cond2(lk);  // two conditions may share one lock
  auto main = [&]() -> corio::task<> {
    {
      auto g = co_await cond.scoped();
      EXPECT_TRUE(lk.locked());
      EXPECT_TRUE(cond2.locked());
    }
    EXPECT_FALSE(cond.locked());
    EXPECT_FALSE(cond2.locked());
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Condition, notify_zero_wakes_nobody_and_notify_with_no_waiters_is_harmless) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::condition cond;
  int woken = 0;
  auto waiter = [&]() -> corio::task<> {
    auto g = co_await cond.scoped();
    co_await cond.wait();
    ++woken;
  };
  auto main = [&]() -> corio::task<> {
    {
      auto g = co_await cond.scoped();
      cond.notify(5);  // nobody waits
    }
    auto w = corio::create_task(waiter());
    co_await yield_once();
    {
      auto g = co_await cond.scoped();
      cond.notify(0);
    }
    co_await yield_once();
    co_await yield_once();
    EXPECT_EQ(woken, 0);
    {
      auto g = co_await cond.scoped();
      cond.notify();
    }
    co_await w;
    EXPECT_EQ(woken, 1);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Condition, wait_for_returns_the_predicates_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::condition cond;
  std::unique_ptr<int> box;
  auto consumer = [&]() -> corio::task<int> {
    auto g = co_await cond.scoped();
    int* p = co_await cond.wait_for([&] { return box.get(); });
    co_return *p;
  };
  auto main = [&]() -> corio::task<> {
    auto c = corio::create_task(consumer());
    co_await yield_once();
    {
      auto g = co_await cond.scoped();
      box = std::make_unique<int>(41);
      cond.notify_all();
    }
    const int v = co_await c;
    EXPECT_EQ(v, 41);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Condition, a_wait_under_a_timeout_scope_ends_with_the_lock_held_and_no_waiter_left) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::condition cond;
  auto main = [&]() -> corio::task<> {
    auto g = co_await cond.scoped();
    auto e = co_await outcome(corio::timeout(30ms, [&]() -> corio::task<> { co_await cond.wait(); }));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_TRUE(cond.locked());
    EXPECT_EQ(now_ms(corio::get_running_loop()), 30);
    cond.notify_all();  // finds nobody
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_FALSE(cond.locked());
}

TEST(Condition, a_condition_used_from_a_second_loop_throws_with_the_lock_reheld) {
  corio::condition cond;
  corio::event_loop first(corio::testing::virtual_time());
  corio::event_loop second(corio::testing::virtual_time());
  auto waiter = first.create_task([](corio::condition& c) -> corio::task<> {
    auto g = co_await c.scoped();
    co_await c.wait();
  }(cond));
  corio::testing::run_briefly(first);  // bound to `first`
  auto other = [&]() -> corio::task<> {
    auto g = co_await cond.scoped();
    auto e = co_await outcome(cond.wait());
    EXPECT_TRUE(holds<std::runtime_error>(e));
    EXPECT_TRUE(cond.locked());
  };
  second.run_until_complete(other());
  EXPECT_FALSE(cond.locked());
  waiter.cancel();
  corio::testing::run_briefly(first);
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_FALSE(cond.locked());
}

// -- semaphore ------------------------------------------------------------------------

TEST(Semaphore, value_counts_the_permits_left) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::semaphore sem(3);
  auto main = [&]() -> corio::task<> {
    EXPECT_EQ(sem.value(), 3);
    co_await sem.acquire();
    EXPECT_EQ(sem.value(), 2);
    {
      auto g = co_await sem.scoped();
      EXPECT_EQ(sem.value(), 1);
      EXPECT_FALSE(sem.locked());
      auto g2 = co_await sem.scoped();
      EXPECT_EQ(sem.value(), 0);
      EXPECT_TRUE(sem.locked());
    }
    EXPECT_EQ(sem.value(), 2);
    sem.release();
    EXPECT_EQ(sem.value(), 3);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Semaphore, the_scoped_guard_returns_the_permit_on_exception_and_on_cancellation) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::semaphore sem(1);
  auto throws = [&]() -> corio::task<> {
    auto g = co_await sem.scoped();
    co_await yield_once();
    throw std::logic_error("x");
  };
  auto t = loop.create_task(throws());
  EXPECT_THROW(loop.run_until_complete(t), std::logic_error);
  EXPECT_EQ(sem.value(), 1);

  auto sleeps = [&]() -> corio::task<> {
    auto g = co_await sem.scoped();
    co_await corio::sleep(1h);
  };
  auto u = loop.create_task(sleeps());
  corio::testing::run_briefly(loop);
  EXPECT_EQ(sem.value(), 0);
  u.cancel();
  EXPECT_THROW(loop.run_until_complete(u), corio::cancelled_error);
  EXPECT_EQ(sem.value(), 1);
}

TEST(Semaphore, an_acquire_timed_out_by_wait_for_consumes_no_permit) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::semaphore sem(0);
  auto main = [&]() -> corio::task<> {
    auto e = co_await outcome(corio::wait_for(acquire_sem(sem), 10ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_FALSE(sem.locked() && sem.value() != 0);
    sem.release();
    EXPECT_EQ(sem.value(), 1);
    const bool r = co_await corio::wait_for(acquire_sem(sem), 10ms);
    EXPECT_TRUE(r);
    EXPECT_EQ(sem.value(), 0);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Semaphore, a_semaphore_used_from_a_second_loop_throws) {
  corio::semaphore sem(0);
  corio::event_loop first(corio::testing::virtual_time());
  corio::event_loop second(corio::testing::virtual_time());
  auto w = first.create_task(acquire_sem(sem));
  corio::testing::run_briefly(first);
  auto u = second.create_task(acquire_sem(sem));
  EXPECT_THROW(second.run_until_complete(u), std::runtime_error);
  sem.release();
  corio::testing::run_briefly(first);
  EXPECT_TRUE(w.done());
  EXPECT_EQ(sem.value(), 0);
}

TEST(Semaphore, a_negative_initial_value_is_refused) {
  EXPECT_THROW(corio::semaphore(-1), std::invalid_argument);
  EXPECT_NO_THROW(corio::semaphore(0));
}

TEST(BoundedSemaphore, its_scoped_guard_releases_through_the_bounded_release) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::bounded_semaphore bsem(2);
  auto main = [&]() -> corio::task<> {
    {
      auto g = co_await bsem.scoped();
      static_assert(std::is_same_v<decltype(g), corio::scoped_guard<corio::bounded_semaphore>>);
      EXPECT_EQ(bsem.value(), 1);
    }
    EXPECT_EQ(bsem.value(), 2);
    EXPECT_THROW(bsem.release(), std::invalid_argument);
    EXPECT_EQ(bsem.value(), 2);
    co_await bsem.acquire();
    co_await bsem.acquire();
    EXPECT_TRUE(bsem.locked());
    bsem.release();
    bsem.release();
    EXPECT_THROW(bsem.release(), std::invalid_argument);
  };
  loop.run_until_complete(bounded(main()));
}

// -- barrier --------------------------------------------------------------------------

TEST(Barrier, parties_and_n_waiting_report_the_state) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  EXPECT_THROW(corio::barrier(0), std::invalid_argument);
  auto main = [&]() -> corio::task<> {
    auto t1 = corio::create_task(b.wait());
    auto t2 = corio::create_task(b.wait());
    co_await yield_once();
    EXPECT_EQ(b.n_waiting(), 2u);
    const std::size_t i = co_await b.wait();
    EXPECT_EQ(i, 2u);
    co_await corio::gather(t1, t2);
    EXPECT_EQ(t1.result(), 0u);
    EXPECT_EQ(t2.result(), 1u);
    EXPECT_EQ(b.n_waiting(), 0u);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Barrier, a_wait_timed_out_by_wait_for_leaves_the_barrier_intact) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::barrier b(2);
  auto main = [&]() -> corio::task<> {
    auto e = co_await outcome(corio::wait_for(b.wait(), 10ms));
    EXPECT_TRUE(holds<corio::timeout_error>(e));
    EXPECT_EQ(b.n_waiting(), 0u);
    EXPECT_FALSE(b.broken());
    auto t = corio::create_task(b.wait());
    const std::size_t i = co_await b.wait();
    const std::size_t j = co_await t;
    EXPECT_EQ(i + j, 1u);
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Barrier, abort_wakes_every_waiter_with_broken_barrier_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::barrier b(4);
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<std::size_t>> ts;
    for (int i = 0; i < 3; ++i) ts.push_back(corio::create_task(b.wait()));
    co_await yield_once();
    EXPECT_EQ(b.n_waiting(), 3u);
    co_await b.abort();
    EXPECT_TRUE(b.broken());
    auto rs = co_await corio::gather_settled(std::move(ts));
    for (auto& r : rs) EXPECT_TRUE(holds<corio::broken_barrier_error>(r.exception()));
    EXPECT_EQ(b.n_waiting(), 0u);
    auto e = co_await outcome(b.wait());
    EXPECT_TRUE(holds<corio::broken_barrier_error>(e));
  };
  loop.run_until_complete(bounded(main()));
}

TEST(Barrier, a_barrier_used_from_a_second_loop_throws) {
  // Three parties: the second arrival has to wait (the last one would pass
  // without waiting, which involves no loop).
  corio::barrier b(3);
  corio::event_loop first(corio::testing::virtual_time());
  corio::event_loop second(corio::testing::virtual_time());
  auto w = first.create_task(b.wait());
  corio::testing::run_briefly(first);  // waits: bound to `first`
  auto u = second.create_task(b.wait());
  EXPECT_THROW(second.run_until_complete(u), std::runtime_error);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 1u);
  w.cancel();
  corio::testing::run_briefly(first);
  EXPECT_TRUE(w.cancelled());
  EXPECT_EQ(b.n_waiting(), 0u);
}

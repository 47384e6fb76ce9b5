// docs/semantics.md section 16, a sync manager's queues and
// synchronization objects (MG-05, MG-10, MG-11): waits happen on the
// server's loop and hold up no other client.
//
// Timeouts here are short waits that must run out (nothing will arrive);
// every wait for something that will arrive is bounded generously.
#include "multiprocessing_util.hpp"

#include <corio/exceptions.hpp>
#include <corio/gather.hpp>
#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <set>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;
constexpr auto kShort = 50ms;  // a wait that must time out

void put_from_child(mp::queue_proxy<std::string> q) { q.put("from child"); }
void take_lock_and_exit(mp::acquirer_proxy l) { l.acquire(); }

}  // namespace

TEST_F(mp_test, MG_10_a_queue_puts_and_gets_with_block_and_timeout) {
  auto m = mp::manager();
  auto q = m.queue<int>(1);
  EXPECT_TRUE(q.empty());
  q.put(1);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_THROW(q.put(2, false), corio::queue_full);
  EXPECT_THROW(q.put(2, true, kShort), corio::queue_full);
  EXPECT_THROW(q.put_nowait(2), corio::queue_full);
  EXPECT_EQ(q.get(), 1);
  EXPECT_THROW(q.get(false), corio::queue_empty);
  EXPECT_THROW(q.get(true, kShort), corio::queue_empty);
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
  q.put_nowait(3);
  EXPECT_EQ(q.get(true, 0s), 3);
}

TEST_F(mp_test, MG_05_a_get_waiting_in_one_thread_holds_up_no_other_client) {
  auto m = mp::manager();
  auto q = m.queue<std::string>();
  auto d = m.dict<int, int>();
  auto got = std::async(std::launch::async, [q] { return q.get(true, kBound); });
  d.set(1, 1);  // served while the get waits
  EXPECT_EQ(d.at(1), 1);
  mp::process p(put_from_child, q);
  // Spawned, not forked: a fork while the waiting thread may still be
  // inside malloc can leave the child's allocator locked (sanitizers).
  mp::get_context("spawn").start(p);
  ASSERT_EQ(got.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(got.get(), "from child");
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_F(mp_test, MG_10_a_joinable_queue_joins_once_every_item_is_done) {
  auto m = mp::manager();
  auto q = m.joinable_queue<int>();
  q.put(1);
  q.put(2);
  auto joined = std::async(std::launch::async, [q] { q.join(); });
  EXPECT_EQ(joined.wait_for(kShort), std::future_status::timeout);
  q.get();
  q.task_done();
  q.get();
  q.task_done();
  ASSERT_EQ(joined.wait_for(kBound), std::future_status::ready);
  EXPECT_THROW(q.task_done(), std::invalid_argument);
}

TEST_F(mp_test, MG_05_awaitable_queue_calls_wait_without_blocking_the_loop) {
  auto m = mp::manager();
  auto q = m.queue<int>();
  const int sum = corio::run([&]() -> corio::task<int> {
    auto getter = corio::get_running_loop().create_task(q.get_async(true, kBound));
    co_await q.put_async(41);
    const int v = co_await std::move(getter);
    co_return v + 1;
  });
  EXPECT_EQ(sum, 42);
}

TEST_F(mp_test, MG_11_a_managed_lock_taken_by_a_process_that_exits_stays_taken_and_another_may_release_it) {
  auto m = mp::manager();
  auto l = m.lock();
  mp::process p(take_lock_and_exit, l);
  p.start();
  p.join(kBound);
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(l.acquire(false));
  EXPECT_FALSE(l.acquire(true, kShort));
  l.release();
  EXPECT_TRUE(l.acquire(true, kBound));
  l.release();
  EXPECT_THROW(l.release(), std::runtime_error);
}

TEST_F(mp_test, MG_11_an_rlock_belongs_to_the_thread_that_acquired_it) {
  auto m = mp::manager();
  auto r = m.rlock();
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());  // re-entered
  std::thread([r] {
    EXPECT_FALSE(r.acquire(false));
    EXPECT_THROW(r.release(), std::runtime_error);
  }).join();
  r.release();
  r.release();
  std::thread([r] {
    EXPECT_TRUE(r.acquire(false));
    r.release();
  }).join();
  {
    std::lock_guard g(r);  // BasicLockable, Python's `with`
  }
}

TEST_F(mp_test, MG_10_semaphores_count_and_a_bounded_one_refuses_to_go_over) {
  auto m = mp::manager();
  auto s = m.semaphore(2);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire());
  EXPECT_FALSE(s.acquire(false));
  s.release();
  s.release();
  s.release();  // an unbounded one goes over
  auto b = m.bounded_semaphore(1);
  EXPECT_TRUE(b.acquire());
  b.release();
  EXPECT_THROW(b.release(), std::invalid_argument);
}

TEST_F(mp_test, MG_10_a_condition_wakes_a_waiter_and_a_wait_times_out) {
  auto m = mp::manager();
  auto c = m.condition();
  auto ev = m.event();
  auto waiter = std::async(std::launch::async, [c, ev] {
    c.acquire();
    ev.set();  // waiting from now: the notify below comes after the wait began
    const bool r = c.wait(kBound);
    c.release();
    return r;
  });
  ASSERT_TRUE(ev.wait(kBound));
  c.acquire();  // the waiter gave the lock up while it waits
  c.notify();
  c.release();
  ASSERT_EQ(waiter.wait_for(kBound), std::future_status::ready);
  EXPECT_TRUE(waiter.get());
  c.acquire();
  EXPECT_FALSE(c.wait(kShort));
  c.release();
  EXPECT_THROW(c.notify(), std::runtime_error);  // not held
}

TEST_F(mp_test, MG_10_an_event_wakes_its_waiters) {
  auto m = mp::manager();
  auto e = m.event();
  EXPECT_FALSE(e.wait(kShort));
  auto waiter = std::async(std::launch::async, [e] { return e.wait(kBound); });
  e.set();
  ASSERT_EQ(waiter.wait_for(kBound), std::future_status::ready);
  EXPECT_TRUE(waiter.get());
  EXPECT_TRUE(e.is_set());
  e.clear();
  EXPECT_FALSE(e.is_set());
}

TEST_F(mp_test, MG_10_a_barrier_releases_its_parties_and_a_timeout_breaks_it) {
  auto m = mp::manager();
  auto b = m.barrier(2);
  EXPECT_EQ(b.parties(), 2u);
  auto other = std::async(std::launch::async, [b] { return b.wait(kBound); });
  const std::size_t mine = b.wait(kBound);
  ASSERT_EQ(other.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ((std::set<std::size_t>{mine, other.get()}), (std::set<std::size_t>{0, 1}));
  EXPECT_THROW(b.wait(kShort), corio::broken_barrier_error);
  EXPECT_TRUE(b.broken());
  b.reset();
  EXPECT_FALSE(b.broken());
}

TEST_F(mp_test, MG_14_sync_proxies_cross_processes_as_their_own_kind) {
  auto m = mp::manager();
  auto l = m.rlock();
  auto back = mp::decode<mp::acquirer_proxy>(mp::encode(l));
  EXPECT_EQ(back.type_id(), "rlock");
  EXPECT_THROW(mp::decode<mp::event_proxy>(mp::encode(l)), mp::codec_error);
}

CORIO_MP_TEST_MAIN()

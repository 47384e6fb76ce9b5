// `threading::lock::acquire(0.01)`, meant as a 10 ms timeout, compiled as
// acquire(blocking=true) and blocked for ever on a held lock. Every wait of
// corio::threading now refuses a bare number (any arithmetic type but bool):
// a timeout is a std::chrono duration, a flag is a bool.
#include <corio/threading/barrier.hpp>
#include <corio/threading/condition.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/lock.hpp>
#include <corio/threading/queue.hpp>
#include <corio/threading/rlock.hpp>
#include <corio/threading/semaphore.hpp>
#include <corio/threading/simple_queue.hpp>
#include <corio/threading/thread.hpp>
#include <corio/threading/timer.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>

namespace th = corio::threading;
using namespace std::chrono_literals;

namespace {

template <class T, class A>
concept acquire_takes = requires(T& t, A a) { t.acquire(a); };
template <class T, class A>
concept wait_takes = requires(T& t, A a) { t.wait(a); };
template <class A>
concept wait_for_takes = requires(th::condition& c, bool (*pred)(), A a) { c.wait_for(pred, a); };
template <class A>
concept join_takes = requires(th::thread& t, A a) { t.join(a); };
template <class A>
concept timer_takes = requires(void (*fn)(), A a) { th::timer(a, fn); };
template <class A>
concept named_timer_takes = requires(void (*fn)(), A a) { th::timer(th::thread_options{}, a, fn); };
template <class A>
concept handle_join_takes = requires(th::thread_handle& h, A a) { h.join(a); };
template <class A>
concept start_timer_takes = requires(void (*fn)(), A a) { th::start_timer(a, fn); };
template <class A>
concept named_start_timer_takes = requires(void (*fn)(), A a) { th::start_timer(th::thread_options{}, a, fn); };
template <class A>
concept queue_get_takes = requires(th::queue<int>& q, A a) { q.get(a); };
template <class A>
concept queue_put_takes = requires(th::queue<int>& q, A a) { q.put(1, a); };
template <class A>
concept simple_queue_get_takes = requires(th::simple_queue<int>& q, A a) { q.get(a); };

template <class T>
constexpr bool acquire_refuses_numbers =
    !acquire_takes<T, double> && !acquire_takes<T, float> && !acquire_takes<T, int> && !acquire_takes<T, long> &&
    !acquire_takes<T, unsigned> && !acquire_takes<T, char> && acquire_takes<T, bool> &&
    acquire_takes<T, std::chrono::milliseconds> && acquire_takes<T, std::chrono::duration<double>>;

template <class T>
constexpr bool wait_refuses_numbers = !wait_takes<T, double> && !wait_takes<T, int> && !wait_takes<T, long> &&
                                      wait_takes<T, std::chrono::milliseconds> &&
                                      wait_takes<T, std::chrono::duration<double>>;

}  // namespace

// The spelling of the defect, and its integer cousins (acquire(0), acquire(1)).
static_assert(acquire_refuses_numbers<th::lock>);
static_assert(acquire_refuses_numbers<th::rlock>);
static_assert(acquire_refuses_numbers<th::condition>);
static_assert(acquire_refuses_numbers<th::semaphore>);
static_assert(acquire_refuses_numbers<th::bounded_semaphore>);
static_assert(wait_refuses_numbers<th::event>);
static_assert(wait_refuses_numbers<th::condition>);
static_assert(wait_refuses_numbers<th::barrier>);
static_assert(!wait_for_takes<double> && !wait_for_takes<int> && wait_for_takes<std::chrono::milliseconds>);
static_assert(!join_takes<double> && !join_takes<int> && join_takes<std::chrono::milliseconds>);
static_assert(!timer_takes<double> && !timer_takes<int> && timer_takes<std::chrono::milliseconds>);
static_assert(!named_timer_takes<double> && named_timer_takes<std::chrono::milliseconds>);
static_assert(!handle_join_takes<double> && !handle_join_takes<int> && handle_join_takes<std::chrono::milliseconds>);
static_assert(!start_timer_takes<double> && !start_timer_takes<int> && start_timer_takes<std::chrono::milliseconds>);
static_assert(!named_start_timer_takes<double> && named_start_timer_takes<std::chrono::milliseconds>);
// The queues already refused them; they stay so.
static_assert(!queue_get_takes<double> && !queue_get_takes<int> && queue_get_takes<std::chrono::milliseconds>);
static_assert(!queue_put_takes<double> && queue_put_takes<bool> && queue_put_takes<std::chrono::milliseconds>);
static_assert(!simple_queue_get_takes<int> && simple_queue_get_takes<std::chrono::milliseconds>);

TEST(ThreadingBareNumber, lock_acquire_with_a_duration_gives_up_on_a_held_lock) {
  th::lock lk;
  ASSERT_TRUE(lk.acquire());
  EXPECT_FALSE(lk.acquire(10ms));  // the spelling acquire(0.01) meant
  EXPECT_FALSE(lk.acquire(std::chrono::duration<double>(0.01)));
  EXPECT_FALSE(lk.acquire(false));
  lk.release();
  EXPECT_TRUE(lk.acquire(10ms));
  lk.release();
}

TEST(ThreadingBareNumber, every_primitive_still_takes_a_flag_and_a_duration) {
  th::rlock rl;
  EXPECT_TRUE(rl.acquire(false));
  EXPECT_TRUE(rl.acquire(1ms));  // re-entrant
  rl.release();
  rl.release();
  th::semaphore sem(0);
  EXPECT_FALSE(sem.acquire(false));
  EXPECT_FALSE(sem.acquire(1ms));
  th::condition cond;
  ASSERT_TRUE(cond.acquire(true));
  EXPECT_FALSE(cond.wait(1ms));
  EXPECT_FALSE(cond.wait_for([] { return false; }, 1ms));
  cond.release();
  th::event ev;
  EXPECT_FALSE(ev.wait(1ms));
}

// Python: queue.Queue, LifoQueue, PriorityQueue, Empty, Full, ShutDown
// (Lib/queue.py, 3.13 for shutdown): the thread-safe queues. SimpleQueue is
// in <corio/threading/simple_queue.hpp>; the asyncio queues, for tasks of
// one loop, are in <corio/queues.hpp>.
//
// One mutex guards a queue. A thread that has to wait parks on a word of its
// own (a futex), queued in arrival order, with the mutex released. put() and
// get() see in one pointer whether anybody waits, so an operation makes a
// system call only when it has a thread to wake, and makes it after
// releasing the mutex.
//
// A getter woken by put() has that item reserved for it, and a putter woken
// by get() has that slot reserved: the woken thread never finds its item
// taken by a thread that arrived in between, so no wake-up is wasted, and
// blocked threads are served in arrival order (Python's queue lets the
// newcomer take the item and sends the woken thread back to wait).
//
// The mutex is held while T is constructed into the queue and moved out of
// it, and while Compare runs: those must not call back into the same queue
// (simple_queue::put may be called from anywhere).
#pragma once

#include <corio/detail/queue_stores.hpp>
#include <corio/detail/repr.hpp>
#include <corio/exceptions.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/futex.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <mutex>
#include <type_traits>
#include <utility>

namespace corio::threading {

namespace detail {

struct queue_waiter;  // a thread blocked in put(), get() or join(); on its stack
struct queue_waiter_list {
  queue_waiter* head = nullptr;
  queue_waiter* tail = nullptr;
};

// The untyped half of a queue: mutex, waiters, reservations, counters,
// shutdown. Compiled once (src/threading/queue.cpp).
class queue_core {
 public:
  queue_core(const queue_core&) = delete;
  queue_core& operator=(const queue_core&) = delete;

  std::size_t maxsize() const noexcept { return maxsize_; }
  std::size_t qsize() const;
  bool empty() const;
  bool full() const;
  std::size_t unfinished_tasks() const;
  bool is_shut_down() const;
  void task_done();
  void join();

 protected:
  using lock_type = std::unique_lock<std::mutex>;

  explicit queue_core(std::ptrdiff_t maxsize) noexcept
      : maxsize_(maxsize > 0 ? static_cast<std::size_t>(maxsize) : 0) {}
  ~queue_core() = default;

  // Returns (lock held) once this thread may add one item; else throws
  // queue_shut_down, queue_full (block false, or the deadline passed).
  void wait_for_room(lock_type& lk, bool block, clock::time_point deadline);
  // Returns (lock held) once an item is there for this thread; else throws
  // queue_shut_down, queue_empty.
  void wait_for_item(lock_type& lk, bool block, clock::time_point deadline);
  // After the store changed: counts, and takes the waiter to wake off its
  // list. The caller unparks the returned word after unlocking.
  const std::atomic<std::uint32_t>* item_added() noexcept;
  const std::atomic<std::uint32_t>* item_removed() noexcept;
  // The store threw after wait_for_room / wait_for_item: the store is as it
  // was, so hand the room or item this thread held to the next waiter.
  void pass_on() noexcept;
  // Under the lock; with `immediate`, once the caller has emptied the store.
  void shut_down_locked(bool immediate) noexcept;
  bool join_until(clock::time_point deadline);
  // The text form, under the mutex: `<corio::threading::queue maxsize=0
  // qsize=2`, what `items` writes, then the waiters and counts.
  void write_repr(std::ostream& os, int order, void (*items)(std::ostream&, const void* store),
                  const void* store) const;

  mutable std::mutex mu_;

 private:
  std::size_t available() const noexcept { return size_ - reserved_items_; }
  bool has_room() const noexcept { return maxsize_ == 0 || size_ + reserved_slots_ < maxsize_; }
  void wake_joiners() noexcept;

  const std::size_t maxsize_;
  std::size_t size_ = 0;            // items in the store
  std::size_t reserved_items_ = 0;  // promised to woken getters
  std::size_t reserved_slots_ = 0;  // promised to woken putters
  std::size_t unfinished_ = 0;
  bool shutdown_ = false;
  bool drained_ = false;  // shutdown(immediate) voided the getters' reservations, for good
  queue_waiter_list getters_;
  queue_waiter_list putters_;
  queue_waiter_list joiners_;
};

}  // namespace detail

/// Python: queue.Queue (and, with another Store, LifoQueue and
/// PriorityQueue). Thread-safe; maxsize <= 0 means unbounded (TQ-01).
/// Move-only T works.
///
/// Blocked threads are served in arrival order, and an item put while a
/// getter waits is reserved for the oldest getter (see the header comment):
/// empty() and full() count reservations, qsize() does not. If T's
/// constructor or move, or Compare, throws inside put or get, the queue is
/// left as it was and the exception propagates (TQ-04); for priority_queue
/// that holds when T's moves cannot throw.
///
/// Destroying a queue while a thread waits in it or is still inside one of
/// its calls is undefined, as for std::mutex.
template <class T, class Store>
class basic_queue : private detail::queue_core {
  static_assert(std::is_object_v<T> && !std::is_const_v<T>, "corio::threading queues hold non-const objects");
  static_assert(std::is_move_constructible_v<T>, "corio::threading queues need a move-constructible T");

 public:
  using value_type = T;

  /// Python: queue.Queue(maxsize=0). maxsize <= 0: unbounded (TQ-01).
  explicit basic_queue(std::ptrdiff_t maxsize = 0) noexcept : queue_core(maxsize) {}

  /// Python: Queue.maxsize (0: unbounded).
  using queue_core::maxsize;
  /// Python: Queue.qsize(): items in the queue, reserved ones included.
  using queue_core::qsize;
  /// Python: Queue.empty(): no item a get() could take now (items reserved
  /// for woken getters do not count).
  using queue_core::empty;
  /// Python: Queue.full(): a put() would wait now.
  using queue_core::full;
  /// Python: Queue.unfinished_tasks: items put and not yet marked done.
  using queue_core::unfinished_tasks;
  /// Python: Queue.is_shutdown (3.13): true after shutdown().
  using queue_core::is_shut_down;

  /// Python: Queue.put(item, block=True, timeout=None). With block, waits
  /// for room; without, throws queue_full at once (TQ-02). Throws
  /// queue_shut_down after shutdown(), also to a putter blocked when it
  /// happens (TQ-07). The item is constructed in place from the argument.
  template <class U = T>
    requires std::constructible_from<T, U&&>
  void put(U&& item, bool block = true) {
    put_until(std::forward<U>(item), block, detail::clock::time_point::max());
  }
  /// Python: Queue.put(item, timeout=t): waits at most `timeout` (measured on
  /// steady_clock), then throws queue_full. Negative: std::invalid_argument.
  template <class U = T, class Rep, class Period>
    requires std::constructible_from<T, U&&>
  void put(U&& item, std::chrono::duration<Rep, Period> timeout) {
    const detail::clock::time_point deadline = detail::deadline_after(timeout, "queue.put()");
    put_until(std::forward<U>(item), true, deadline);
  }
  // A plain number is not a timeout: say std::chrono::seconds(n), or pass a bool.
  template <class U = T, class N>
    requires(std::is_arithmetic_v<N> && !std::same_as<N, bool>)
  void put(U&& item, N) = delete;
  /// Python: Queue.put_nowait(item) = put(item, block=False).
  template <class U = T>
    requires std::constructible_from<T, U&&>
  void put_nowait(U&& item) {
    put_until(std::forward<U>(item), false, detail::clock::time_point::max());
  }

  /// Python: Queue.get(block=True, timeout=None). With block, waits for an
  /// item; without, throws queue_empty at once (TQ-02). After shutdown() it
  /// still hands out what is left, then throws queue_shut_down (TQ-07).
  T get(bool block = true) { return get_until(block, detail::clock::time_point::max()); }
  /// Python: Queue.get(timeout=t): waits at most `timeout` (measured on
  /// steady_clock), then throws queue_empty. Negative: std::invalid_argument.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_until(true, detail::deadline_after(timeout, "queue.get()"));
  }
  // A plain number is not a timeout: say std::chrono::seconds(n), or pass a bool.
  template <class N>
    requires(std::is_arithmetic_v<N> && !std::same_as<N, bool>)
  T get(N) = delete;
  /// Python: Queue.get_nowait() = get(block=False).
  T get_nowait() { return get_until(false, detail::clock::time_point::max()); }

  /// Python: Queue.task_done(): one item taken by get() is finished.
  /// std::invalid_argument if called more times than items were put (TQ-03).
  using queue_core::task_done;
  /// Python: Queue.join(): blocks until every item put has had its
  /// task_done() (TQ-03). Returns once the count has reached zero since the
  /// call, even if a put raised it again before this thread ran.
  using queue_core::join;
  /// Like join(), waiting at most `timeout`; false if it ran out (Python's
  /// Queue.join has no timeout). Negative: std::invalid_argument.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(detail::deadline_after(timeout, "queue.join()"));
  }

  /// Python: Queue.shutdown(immediate=False) (3.13, TQ-07): later puts throw
  /// queue_shut_down, and so do putters blocked now; getters take what is
  /// left, then throw queue_shut_down. With immediate, the items are removed
  /// at once and counted as done for join(), and every get throws. The
  /// removed items are destroyed after the queue's mutex is released.
  void shutdown(bool immediate = false) {
    Store drained;  // declared first: destroyed after the lock is released
    std::lock_guard lk(mu_);
    if (immediate) store_.swap(drained);
    shut_down_locked(immediate);
  }

  /// The asyncio queue's text form (Python's queue.Queue has none but the
  /// default): `<corio::threading::queue maxsize=0 qsize=2 items=[1, 2]
  /// getters=1 putters=1 tasks=2 shutdown>` (lifo_queue, priority_queue),
  /// taken under the queue's mutex, so T's operator<< must not use the
  /// queue. Items as for corio::queue: the first six in storage order, when
  /// T has a text form; getters and putters are threads blocked in get() and
  /// put(). Any thread.
  friend std::ostream& operator<<(std::ostream& os, const basic_queue& q) {
    q.write_repr(os, corio::detail::store_order<Store>, &write_store_items, &q.store_);
    return os;
  }

 private:
  template <class U>
  void put_until(U&& item, bool block, detail::clock::time_point deadline) {
    lock_type lk(mu_);
    wait_for_room(lk, block, deadline);
    try {
      store_.emplace(std::forward<U>(item));
    } catch (...) {
      pass_on();
      throw;
    }
    const std::atomic<std::uint32_t>* getter = item_added();
    lk.unlock();
    detail::futex_wake(getter, 1);
  }
  T get_until(bool block, detail::clock::time_point deadline) {
    lock_type lk(mu_);
    wait_for_item(lk, block, deadline);
    T item = take();
    const std::atomic<std::uint32_t>* putter = item_removed();
    lk.unlock();
    detail::futex_wake(putter, 1);
    return item;
  }
  T take() {
    try {
      return store_.pop();
    } catch (...) {
      pass_on();
      throw;
    }
  }

  static void write_store_items(std::ostream& os, const void* store) {
    if constexpr (corio::detail::has_text_form<T>()) {
      const Store& s = *static_cast<const Store*>(store);
      corio::detail::write_items_field(os, s.size(), [&s](std::size_t i) -> const T& { return s.at(i); });
    } else {
      static_cast<void>(os);
      static_cast<void>(store);
    }
  }

  Store store_;
};

/// Python: queue.Queue: first in, first out.
template <class T>
using queue = basic_queue<T, corio::detail::fifo_store<T>>;
/// Python: queue.LifoQueue: the most recent item first.
template <class T>
using lifo_queue = basic_queue<T, corio::detail::lifo_store<T>>;
/// Python: queue.PriorityQueue: the smallest item first by Compare, which
/// must be a strict weak order; equal items come out in no fixed order.
template <class T, class Compare = std::less<T>>
using priority_queue = basic_queue<T, corio::detail::priority_store<T, Compare>>;

}  // namespace corio::threading

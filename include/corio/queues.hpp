// Python: asyncio.Queue, LifoQueue, PriorityQueue, QueueEmpty, QueueFull,
// QueueShutDown (asyncio/queues.py, 3.13 for shutdown).
#pragma once

#include <corio/detail/queue_stores.hpp>
#include <corio/detail/repr.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/exceptions.hpp>
#include <corio/locks.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

// The untyped half of a queue: waiters, reservations, counters, shutdown.
//
// A getter woken by put() has that item reserved for it, and a putter woken
// by get() has that slot reserved, so a task that arrives in between waits
// behind them: queues serve getters and putters in FIFO order. A woken
// waiter leaves the list at once (its reservation keeps its place), so the
// lists hold only tasks still waiting and a put or get checks one pointer.
class queue_core {
 public:
  explicit queue_core(std::ptrdiff_t maxsize) noexcept
      : maxsize_(maxsize > 0 ? static_cast<std::size_t>(maxsize) : 0) {
    finished_.set_unchecked();
  }
  queue_core(const queue_core&) = delete;
  queue_core& operator=(const queue_core&) = delete;

  struct waiter : sync_waiter {
    bool reserved;  // holds an item (getter) or a slot (putter); set when it waits
  };

  // What a newcomer may take / fill without waiting.
  std::size_t available(std::size_t size) const noexcept { return size - reserved_items_; }
  bool has_room(std::size_t size) const noexcept { return maxsize_ == 0 || size + reserved_slots_ < maxsize_; }

  void item_added() noexcept {
    ++unfinished_;
    finished_.clear();
    if (CORIO_UNLIKELY(!getters_.empty())) reserve_for(getters_, reserved_items_);
  }
  void item_removed() noexcept {
    if (CORIO_UNLIKELY(!putters_.empty())) reserve_for(putters_, reserved_slots_);
  }
  // After a wait: drops this waiter's reservation; if a cancel is due, hands
  // the reservation to the next waiter (QU-06, QU-07) and throws.
  void leave(waiter_list& list, waiter* w, std::size_t& reserved_count);

  // Gives back what a waiter holds; true if it held something.
  bool drop_reservation(const waiter_list& list, waiter* w, std::size_t& reserved_count) noexcept;
  void task_done();
  // The loop this queue's waiters (getters, putters or joiners) belong to.
  std::uint32_t bound_loop() const noexcept { return loop_ref_ ? loop_ref_ : finished_.loop_ref_; }
  void shutdown_waiters(bool immediate_drained, std::size_t drained) noexcept;
  // The text form around the items: `<Queue maxsize=0 qsize=2` and
  // ` getters=1 putters=1 tasks=2 shutdown>` (queues.cpp).
  void write_head(std::ostream& os, int order, std::size_t qsize) const;
  void write_tail(std::ostream& os) const;

  std::size_t maxsize_;
  std::size_t reserved_items_ = 0;
  std::size_t reserved_slots_ = 0;
  std::size_t unfinished_ = 0;
  bool shutdown_ = false;
  bool drained_reservations_ = false;  // shutdown(immediate) voided getters' reservations
  std::uint32_t loop_ref_ = 0;
  waiter_list getters_;
  waiter_list putters_;
  event finished_;

 private:
  void reserve_for(waiter_list& list, std::size_t& reserved_count) noexcept;
};

}  // namespace detail

/// Python: asyncio.Queue (and, with another Store, LifoQueue and
/// PriorityQueue). maxsize <= 0 means unbounded (QU-01). Move-only T works.
/// Used from the loop's thread only.
///
/// `co_await q.put(x)` waits while the queue is full and `co_await q.get()`
/// while it is empty; both complete without suspending when they can
/// (QU-04). A cancelled get never loses an item and a cancelled put never
/// inserts one (QU-06, QU-07).
template <class T, class Store = detail::fifo_store<T>>
class basic_queue : private detail::queue_core {
 public:
  using value_type = T;

  explicit basic_queue(std::ptrdiff_t maxsize = 0) noexcept : queue_core(maxsize) {}

  /// Python: Queue.maxsize (0: unbounded).
  std::size_t maxsize() const noexcept { return maxsize_; }
  /// Python: Queue.qsize(): items in the queue.
  std::size_t qsize() const noexcept { return store_.size(); }
  /// Python: Queue.empty(): no item a get() could take now (items promised
  /// to woken getters do not count).
  bool empty() const noexcept { return available(store_.size()) == 0; }
  /// Python: Queue.full(): a put() would wait now.
  bool full() const noexcept { return !has_room(store_.size()); }

  /// Python: Queue.put_nowait(). Throws queue_full or queue_shut_down
  /// (QU-03). The item is constructed in place from the argument.
  template <class U = T>
    requires std::constructible_from<T, U&&>
  void put_nowait(U&& item) {
    detail::check_confined(loop_ref_, "Queue.put_nowait");
    if (shutdown_) throw queue_shut_down();
    if (!has_room(store_.size())) throw queue_full();
    store_.emplace(std::forward<U>(item));
    item_added();
  }
  /// Python: Queue.get_nowait(). Throws queue_empty or queue_shut_down.
  T get_nowait() {
    detail::check_confined(loop_ref_, "Queue.get_nowait");
    if (available(store_.size()) == 0) {
      if (shutdown_) throw queue_shut_down();
      throw queue_empty();
    }
    return take();
  }

  // Holds the argument as given (a copy, as Python's put() coroutine holds
  // its argument) and constructs T from it in the queue's storage, so
  // `put(42)` into a queue<std::optional<int>> builds no temporary T.
  template <class U>
  struct put_awaiter : detail::queue_core::waiter {
    basic_queue* q;
    U item;
    put_awaiter(basic_queue* qu, U&& x) : q(qu), item(std::move(x)) {}
    put_awaiter(put_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<U>)
        : q(o.q), item(std::move(o.item)) {}
    ~put_awaiter() {
      if (task) q->abandon(q->putters_, this, q->reserved_slots_);
    }
    bool await_ready() const noexcept { return q->shutdown_ || q->has_room(q->store_.size()); }
    void await_suspend(std::coroutine_handle<> h) {
      this->reserved = false;
      detail::wait_on<detail::wait_kind::queue_put>(q->putters_, this, h, q->loop_ref_, "Queue");
    }
    CORIO_ALWAYS_INLINE void await_resume() {
      if (CORIO_UNLIKELY(task != nullptr || q->shutdown_)) after_wait();
      q->store_.emplace(std::move(item));
      q->item_added();
    }
    CORIO_NOINLINE void after_wait() {
      if (task) q->leave(q->putters_, this, q->reserved_slots_);
      if (q->shutdown_) throw queue_shut_down();  // QU-11
    }
  };
  template <class U>
  struct put_op {
    basic_queue* q;
    U item;
    using corio_awaitable = void;
    put_awaiter<U> operator co_await() && { return put_awaiter<U>(q, std::move(item)); }
  };
  /// Python: `await q.put(item)`. Throws queue_shut_down after shutdown().
  /// Keeps a copy of the argument (decayed) until the item goes in.
  template <class U = T>
    requires std::constructible_from<T, U&&>
  put_op<std::decay_t<U>> put(U&& item) {
    return put_op<std::decay_t<U>>{this, std::forward<U>(item)};
  }

  struct get_awaiter : detail::queue_core::waiter {
    basic_queue* q;
    explicit get_awaiter(basic_queue* qu) noexcept : q(qu) {}
    get_awaiter(get_awaiter&& o) noexcept : q(o.q) {}
    ~get_awaiter() {
      if (task) q->abandon(q->getters_, this, q->reserved_items_);
    }
    bool await_ready() const noexcept { return q->available(q->store_.size()) > 0 || q->shutdown_; }
    void await_suspend(std::coroutine_handle<> h) {
      this->reserved = false;
      detail::wait_on<detail::wait_kind::queue_get>(q->getters_, this, h, q->loop_ref_, "Queue");
    }
    CORIO_ALWAYS_INLINE T await_resume() {
      if (CORIO_UNLIKELY(task != nullptr)) after_wait();
      if (CORIO_UNLIKELY(q->available(q->store_.size()) == 0)) throw_shut_down();  // QU-11, QU-12
      return q->take();
    }
    CORIO_NOINLINE void after_wait() { q->leave(q->getters_, this, q->reserved_items_); }
    [[noreturn]] CORIO_NOINLINE static void throw_shut_down() { throw queue_shut_down(); }
  };
  struct get_op {
    basic_queue* q;
    using corio_awaitable = void;
    get_awaiter operator co_await() const noexcept { return get_awaiter(q); }
  };
  /// Python: `await q.get()`. After shutdown() it still drains what is
  /// left, then throws queue_shut_down (QU-11).
  get_op get() noexcept { return {this}; }

  /// Python: Queue.task_done(). std::invalid_argument if called more times
  /// than items were put (QU-09).
  void task_done() { queue_core::task_done(); }
  /// Python: `await q.join()`: until every item put got its task_done (QU-10).
  auto join() noexcept { return finished_.wait(); }
  /// Python: Queue.shutdown(immediate) (3.13): later puts throw
  /// queue_shut_down; getters drain what is left, or, with immediate, the
  /// queue is emptied at once and all gets throw (QU-11, QU-12). Idempotent.
  void shutdown(bool immediate = false) {
    detail::check_confined(bound_loop(), "Queue.shutdown");
    shutdown_ = true;
    std::size_t drained = 0;
    if (immediate) {
      while (store_.size()) {
        store_.pop();
        ++drained;
      }
    }
    shutdown_waiters(immediate, drained);
  }
  /// True after shutdown().
  bool is_shut_down() const noexcept { return shutdown_; }

  /// Python: str(queue) / print(queue), after asyncio.Queue._format:
  /// `<Queue maxsize=0 qsize=2 items=[1, 2] getters=1 tasks=2>` (LifoQueue,
  /// PriorityQueue for the other orders). `items` lists the first six items
  /// in storage order (a LifoQueue's next item is the last, a PriorityQueue's
  /// are in heap order), only when T has a text form (an operator<<, a
  /// string, a number, a container of those...); getters, putters (tasks
  /// waiting), tasks (unfinished tasks) and shutdown only when there are.
  friend std::ostream& operator<<(std::ostream& os, const basic_queue& q) {
    q.write_head(os, detail::store_order<Store>, q.store_.size());
    if constexpr (detail::has_text_form<T>())
      detail::write_items_field(os, q.store_.size(), [&q](std::size_t i) -> const T& { return q.store_.at(i); });
    q.write_tail(os);
    return os;
  }

 private:
  T take() {
    T x = store_.pop();
    item_removed();
    return x;
  }
  void abandon(detail::waiter_list& list, waiter* w, std::size_t& reserved_count) noexcept {
    // The waiting frame is destroyed (its loop closed): give back what it held.
    list.remove(w);
    drop_reservation(list, w, reserved_count);
  }
  Store store_;
};

/// Python: asyncio.Queue.
template <class T>
using queue = basic_queue<T, detail::fifo_store<T>>;
/// Python: asyncio.LifoQueue: the most recent item first.
template <class T>
using lifo_queue = basic_queue<T, detail::lifo_store<T>>;
/// Python: asyncio.PriorityQueue: the smallest item first by Compare, which
/// must be a strict weak order; equal items come out in no fixed order.
template <class T, class Compare = std::less<T>>
using priority_queue = basic_queue<T, detail::priority_store<T, Compare>>;

}  // namespace corio

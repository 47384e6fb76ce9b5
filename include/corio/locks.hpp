// Python: asyncio.Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier
// (asyncio/locks.py).
//
// All are bound to the loop they are first waited on (SY-01) and used from
// that loop's thread only. Every wait is a cancellation point that leaves the
// primitive consistent, and works under corio::timeout / wait_for.
#pragma once

#include <corio/detail/scoped_guard.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/exceptions.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {
class queue_core;
// `co_await x.scoped()`: acquire, then hand back a guard.
template <class P, class Awaiter>
struct scoped_awaiter : Awaiter {
  using Awaiter::Awaiter;
  scoped_guard<P> await_resume() {
    Awaiter::await_resume();
    return scoped_guard<P>(static_cast<P&>(*this->owner));
  }
};
template <class P, class Awaiter>
struct op {
  P* owner;
  using corio_awaitable = void;
  Awaiter operator co_await() const noexcept { return Awaiter(owner); }
};
}  // namespace detail

/// Python: asyncio.Lock. FIFO-fair: waiters acquire in arrival order, and a
/// task arriving while a woken waiter has not run yet queues behind it
/// (SY-03). A cancelled waiter leaves no trace and never ends up holding the
/// lock (SY-06). Any task may release (SY-04).
class lock {
 public:
  lock() = default;
  lock(const lock&) = delete;
  lock& operator=(const lock&) = delete;

  /// Python: Lock.locked().
  bool locked() const noexcept { return locked_; }
  /// Python: Lock.release(). std::runtime_error if not locked (SY-04).
  void release();

  struct awaiter : detail::sync_waiter {
    lock* owner;
    explicit awaiter(lock* l) noexcept : owner(l) {}
    ~awaiter() {
      if (list) owner->abandon(this);
    }
    bool await_ready() noexcept {
      // SY-02: free and nobody queued (cancelled waiters leave the queue at once).
      if (!owner->locked_ && owner->waiters_.empty()) return owner->locked_ = true;
      return false;
    }
    void await_suspend(std::coroutine_handle<> h) { detail::wait_on<detail::wait_kind::lock>(owner->waiters_, this, h, owner->loop_ref_, "Lock"); }
    bool await_resume() {
      if (task) owner->after_wait(this);
      return true;
    }
  };
  /// Python: `await lock.acquire()` (returns true).
  detail::op<lock, awaiter> acquire() noexcept { return {this}; }
  /// Python: `async with lock:` as `auto guard = co_await lk.scoped();`.
  detail::op<lock, detail::scoped_awaiter<lock, awaiter>> scoped() noexcept { return {this}; }

  /// Python: repr(lock): `<corio::lock object at 0x... [locked, waiters:2]>`.
  friend std::ostream& operator<<(std::ostream& os, const lock& l);

 private:
  void after_wait(awaiter* w);
  void abandon(awaiter* w) noexcept;
  bool locked_ = false;
  std::uint32_t loop_ref_ = 0;
  detail::waiter_list waiters_;
};

/// Python: asyncio.Event. wait() blocks until set(); set() wakes every
/// waiter, in the order they came (SY-07); clear() does not un-wake them.
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Python: Event.is_set().
  bool is_set() const noexcept { return value_; }
  /// Python: Event.set(). Wakes all waiters; harmless if already set.
  void set() {
    if (value_) return;
    detail::check_confined(loop_ref_, "Event.set");
    set_unchecked();
  }
  /// Python: Event.clear().
  void clear() noexcept { value_ = false; }

  struct awaiter : detail::sync_waiter {
    event* owner;
    explicit awaiter(event* e) noexcept : owner(e) {}
    ~awaiter() { owner->waiters_.remove(this); }
    bool await_ready() const noexcept { return owner->value_; }
    void await_suspend(std::coroutine_handle<> h) {
      detail::wait_on<detail::wait_kind::event>(owner->waiters_, this, h, owner->loop_ref_, "Event");
    }
    bool await_resume() {
      if (task && CORIO_UNLIKELY(cancel_due())) throw_cancel();  // SY-08
      return true;
    }
  };
  /// Python: `await event.wait()` (returns true). A cancellation point
  /// unless already set.
  detail::op<event, awaiter> wait() noexcept { return {this}; }

  /// Python: repr(event): `<corio::event object at 0x... [unset, waiters:1]>`.
  friend std::ostream& operator<<(std::ostream& os, const event& e);

 private:
  friend class detail::queue_core;  // its join event, checked by the queue
  void set_unchecked() noexcept {
    value_ = true;
    // Waiters of an event have nothing to pass on: unlink them now.
    while (detail::sync_waiter* w = waiters_.head) {
      waiters_.remove(w);
      detail::waiter_list::wake(w);
    }
  }

  bool value_ = false;
  std::uint32_t loop_ref_ = 0;
  detail::waiter_list waiters_;
};

/// Python: asyncio.Condition. Uses its own lock, or shares one given at
/// construction (SY-09). wait() releases the lock, waits for a notify, and
/// reacquires the lock before returning, also when cancelled (SY-11, SY-12).
class condition {
 public:
  condition() : own_(std::make_unique<lock>()), lock_(own_.get()) {}
  explicit condition(lock& shared) noexcept : lock_(&shared) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;

  bool locked() const noexcept { return lock_->locked(); }
  auto acquire() noexcept { return lock_->acquire(); }
  void release() { lock_->release(); }
  /// `async with cond:` as `auto guard = co_await cond.scoped();` (a guard
  /// of the underlying lock).
  auto scoped() noexcept { return lock_->scoped(); }

  /// Python: `await cond.wait()`. std::runtime_error without the lock (SY-10).
  task<bool> wait();
  /// Python: `await cond.wait_for(predicate)`: waits until pred() is truthy
  /// and returns its value; returns at once, lock or not, if it already is
  /// (SY-13).
  template <class Pred>
  task<std::decay_t<std::invoke_result_t<Pred&>>> wait_for(Pred pred) {
    auto result = pred();
    while (!result) {
      co_await wait();
      result = pred();
    }
    co_return result;
  }
  /// Python: Condition.notify(n): wakes up to n waiters in FIFO order.
  void notify(std::size_t n = 1);
  /// Python: Condition.notify_all().
  void notify_all();

  /// Python: repr(cond): `<corio::condition object at 0x... [unlocked, waiters:1]>`.
  friend std::ostream& operator<<(std::ostream& os, const condition& c);

 private:
  struct notified;     // the wait for a notify (locks.cpp)
  struct notified_op;  // what `co_await` takes for it
  void wake(std::size_t n) noexcept;

  std::unique_ptr<lock> own_;
  lock* lock_;
  std::uint32_t loop_ref_ = 0;
  detail::waiter_list waiters_;
};

/// Python: asyncio.Semaphore. FIFO: waiters are served in arrival order and a
/// task that releases and re-acquires goes to the back (SY-16). A cancelled
/// waiter never consumes a permit (SY-17).
class semaphore {
 public:
  /// std::invalid_argument if value < 0 (SY-15).
  explicit semaphore(std::int64_t value = 1);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Python: Semaphore.locked(): acquire() would block.
  bool locked() const noexcept { return value_ == 0 || !waiters_.empty(); }
  /// The permits left (Python: Semaphore._value).
  std::int64_t value() const noexcept { return value_; }
  /// Python: Semaphore.release(). For a bounded_semaphore, also through a
  /// `semaphore&`, std::invalid_argument if the value would exceed the
  /// initial one (SY-18).
  void release();

  struct awaiter : detail::sync_waiter {
    semaphore* owner;
    explicit awaiter(semaphore* s) noexcept : owner(s) {}
    ~awaiter() {
      if (list) owner->abandon(this);
    }
    bool await_ready() noexcept {
      if (owner->locked()) return false;
      --owner->value_;
      return true;
    }
    void await_suspend(std::coroutine_handle<> h) {
      detail::wait_on<detail::wait_kind::semaphore>(owner->waiters_, this, h, owner->loop_ref_, "Semaphore");
    }
    bool await_resume() {
      if (task) owner->after_wait(this);
      return true;
    }
  };
  /// Python: `await sem.acquire()` (returns true).
  detail::op<semaphore, awaiter> acquire() noexcept { return {this}; }
  /// `async with sem:` as `auto guard = co_await sem.scoped();`.
  detail::op<semaphore, detail::scoped_awaiter<semaphore, awaiter>> scoped() noexcept { return {this}; }

  /// Python: repr(sem): `<corio::semaphore object at 0x... [unlocked, value:2]>`,
  /// `[locked, waiters:3]`; a bounded_semaphore says `corio::bounded_semaphore`.
  friend std::ostream& operator<<(std::ostream& os, const semaphore& s);

 protected:
  /// A semaphore whose release() refuses to go above `bound`.
  semaphore(std::int64_t value, std::int64_t bound);
  void after_wait(awaiter* w);
  void abandon(awaiter* w) noexcept;
  bool wake_next() noexcept;
  void wake_allowed() noexcept;
  [[noreturn]] void throw_over_release() const;

  std::int64_t value_;
  // INT64_MAX for a plain semaphore: release() then only refuses to overflow.
  std::int64_t bound_;
  std::uint32_t loop_ref_ = 0;
  detail::waiter_list waiters_;
};

/// Python: asyncio.BoundedSemaphore: release() beyond the initial value
/// throws std::invalid_argument (SY-18), also when called through a
/// `semaphore&`.
class bounded_semaphore : public semaphore {
 public:
  explicit bounded_semaphore(std::int64_t value = 1) : semaphore(value, value) {}
  detail::op<bounded_semaphore, detail::scoped_awaiter<bounded_semaphore, semaphore::awaiter>> scoped() noexcept;
};

/// Python: asyncio.Barrier. wait() blocks until `parties` tasks arrived, then
/// all go on, each with a distinct index 0..parties-1; the barrier is
/// reusable (SY-19, SY-20). abort() breaks it until reset() (SY-22).
class barrier {
 public:
  /// std::invalid_argument if parties < 1.
  explicit barrier(std::size_t parties);
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  /// Python: `await barrier.wait()`: the arrival index. Throws
  /// broken_barrier_error if the barrier is or becomes broken or reset.
  task<std::size_t> wait();
  /// Python: `await barrier.reset()`.
  task<> reset();
  /// Python: `await barrier.abort()`.
  task<> abort();

  std::size_t parties() const noexcept { return parties_; }
  /// Tasks waiting while it fills (Python: Barrier.n_waiting).
  std::size_t n_waiting() const noexcept { return state_ == state::filling ? count_ : 0; }
  bool broken() const noexcept { return state_ == state::broken; }

  /// Python: repr(barrier): `<corio::barrier object at 0x... [filling, waiters:1/3]>`,
  /// `[draining, waiters:0/3]`, `[broken]`.
  friend std::ostream& operator<<(std::ostream& os, const barrier& b);

 private:
  enum class state { filling, draining, resetting, broken };
  task<> block();
  task<> wait_released();
  void exit() noexcept;

  condition cond_;
  std::size_t parties_;
  state state_ = state::filling;
  std::size_t count_ = 0;
};

inline detail::op<bounded_semaphore, detail::scoped_awaiter<bounded_semaphore, semaphore::awaiter>>
bounded_semaphore::scoped() noexcept {
  return {this};
}

}  // namespace corio

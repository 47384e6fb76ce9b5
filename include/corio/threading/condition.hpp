// Python: threading.Condition.
#pragma once

#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/lock.hpp>
#include <corio/threading/rlock.hpp>

#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <type_traits>

namespace corio::threading {

/// Python: threading.Condition. Works over a primitive lock or an rlock given
/// at construction, or over an rlock of its own (Python's default).
///
/// wait() must be called with the lock held: it releases the lock (entirely,
/// for an rlock held recursively), sleeps until notified or timed out, and
/// holds the lock again, at the same depth, when it returns. Each waiter
/// sleeps on its own slot and notify(n) wakes the n longest-waiting ones
/// (FIFO), exactly n when that many wait, as CPython's per-waiter locks do.
/// There are no spurious wake-ups: wait() returns true only for a notify.
///
/// wait and notify without owning the lock throw std::runtime_error (TQ-10).
/// For an rlock ownership is exact; a primitive lock records no owner, so, as
/// in CPython, it only checks that the lock is held by someone.
class condition {
 public:
  /// Python: Condition(): over a new RLock of its own.
  condition();
  /// Python: Condition(lock). The lock must outlive the condition.
  explicit condition(primitive_lock& lk) noexcept : plain_(&lk) {}
  /// Python: Condition(rlock). The rlock must outlive the condition.
  explicit condition(rlock& lk) noexcept : rec_(&lk) {}
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  ~condition();

  /// Python: Condition.acquire(blocking): acquires the underlying lock.
  bool acquire(bool blocking = true) noexcept { return rec_ ? rec_->acquire(blocking) : plain_->acquire(blocking); }
  /// Python: Condition.acquire(timeout=t).
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return rec_ ? rec_->acquire(timeout) : plain_->acquire(timeout);
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool acquire(N) = delete;
  /// Python: Condition.release(): releases the underlying lock.
  void release() {
    if (rec_) {
      rec_->release();
    } else {
      plain_->release();
    }
  }
  /// Python: `with cond:` as `auto guard = cond.scoped();`.
  [[nodiscard]] scoped_guard<condition> scoped() noexcept {
    acquire();
    return scoped_guard<condition>(*this);
  }
  // std Lockable, so std::unique_lock<condition> works.
  void lock() noexcept { acquire(); }
  void unlock() { release(); }
  bool try_lock() noexcept { return acquire(false); }

  /// Python: Condition.wait(). Returns true once notified.
  bool wait() { return wait_deadline(detail::clock::time_point::max()); }
  /// Python: Condition.wait(timeout). False if `timeout` passed without a
  /// notify (TQ-10); the lock is held again either way. std::invalid_argument
  /// if negative.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_deadline(detail::deadline_after(timeout, "condition.wait"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool wait(N) = delete;
  /// wait() with an absolute deadline (std::condition_variable's name).
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
    return wait_deadline(detail::to_steady(deadline));
  }

  /// Python: Condition.wait_for(predicate): waits until pred() is truthy and
  /// returns its value. Returns at once, without needing the lock, if it
  /// already is.
  template <class Pred>
  std::decay_t<std::invoke_result_t<Pred&>> wait_for(Pred pred) {
    auto result = pred();
    while (!result) {
      wait();
      result = pred();
    }
    return result;
  }
  /// Python: Condition.wait_for(predicate, timeout): the same, giving up
  /// when `timeout` has passed; returns the last value of pred() (falsy on
  /// a timeout, TQ-10).
  template <class Pred, class Rep, class Period>
  std::decay_t<std::invoke_result_t<Pred&>> wait_for(Pred pred, std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = detail::deadline_after(timeout, "condition.wait_for");
    auto result = pred();
    while (!result) {
      const bool notified = wait_deadline(deadline);
      result = pred();
      if (!notified) break;
    }
    return result;
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <class Pred, detail::plain_number N>
  void wait_for(Pred, N) = delete;

  /// Python: Condition.notify(n): wakes the n longest-waiting threads (fewer
  /// if fewer wait). They return from wait() once they have the lock again,
  /// so after the caller releases it.
  void notify(std::size_t n = 1);
  /// Python: Condition.notify_all().
  void notify_all();
  /// Python: repr(cond): `<Condition(<unlocked corio::threading::rlock object
  /// owner=0 count=0 at 0x...>, 2)>`: the lock's form and how many threads
  /// wait. Any thread.
  friend std::ostream& operator<<(std::ostream& os, const condition& c);

 private:
  struct waiter;
  bool owned() const noexcept { return rec_ ? rec_->owned_by_me() : plain_->locked(); }
  bool wait_deadline(detail::clock::time_point deadline);
  void link(waiter* w) noexcept;
  void unlink(waiter* w) noexcept;

  std::unique_ptr<rlock> own_;
  primitive_lock* plain_ = nullptr;
  rlock* rec_ = nullptr;
  // Guards the waiter list only; wait/notify do not rely on the user's lock
  // for it, so a misuse cannot corrupt the list.
  mutable std::mutex mu_;
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
};

}  // namespace corio::threading

// Python: threading.Event.
#pragma once

#include <corio/threading/condition.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/lock.hpp>

#include <atomic>
#include <chrono>
#include <iosfwd>

namespace corio::threading {

/// Python: threading.Event. A flag threads can wait for: set() wakes every
/// waiter (TQ-11); clear() does not un-wake those already woken. Built as
/// CPython's is, on a condition over a primitive lock.
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Python: Event.is_set().
  bool is_set() const noexcept { return flag_.load(std::memory_order_acquire); }
  /// Python: Event.set(). Wakes all waiters; harmless if already set.
  void set();
  /// Python: Event.clear().
  void clear();
  /// Python: repr(event): `<corio::threading::event at 0x...: set>`
  /// (`unset`). Any thread.
  friend std::ostream& operator<<(std::ostream& os, const event& e);
  /// Python: Event.wait(). Blocks until the flag is set; returns true.
  bool wait();
  /// Python: Event.wait(timeout). Returns the flag: true if it was set
  /// before or during the wait, false if `timeout` passed first (TQ-11).
  /// std::invalid_argument if negative.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_deadline(detail::deadline_after(timeout, "event.wait"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool wait(N) = delete;
  /// wait() with an absolute deadline.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
    return wait_deadline(detail::to_steady(deadline));
  }

 private:
  bool wait_deadline(detail::clock::time_point deadline);

  primitive_lock lock_;
  condition cond_{lock_};
  std::atomic<bool> flag_{false};  // written under lock_; read freely by is_set()
};

}  // namespace corio::threading

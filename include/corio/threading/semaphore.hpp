// Python: threading.Semaphore and threading.BoundedSemaphore.
#pragma once

#include <corio/threading/condition.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/lock.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>

namespace corio::threading {

/// Python: threading.Semaphore. A counter of permits: acquire takes one,
/// blocking while there are none; release(n) puts n back and wakes up to n
/// waiters (TQ-12). Not FIFO, like CPython's: a thread arriving when a permit
/// is free may take it before a woken waiter does, and that waiter sleeps
/// again. Built as CPython's is, on a condition over a primitive lock.
class semaphore {
 public:
  /// Python: Semaphore(value=1). std::invalid_argument if value < 0.
  explicit semaphore(std::int64_t value = 1);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Python: Semaphore.acquire(blocking). Takes a permit and returns true;
  /// with blocking=false returns false at once if there is none.
  bool acquire(bool blocking = true);
  /// Python: Semaphore.acquire(timeout=t). False if no permit came within
  /// `timeout` (TQ-12). std::invalid_argument if negative.
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(detail::deadline_after(timeout, "semaphore.acquire"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool acquire(N) = delete;
  /// Python: Semaphore.release(n=1) (3.9+): puts n permits back and wakes
  /// up to n waiters. std::invalid_argument if n == 0; for a
  /// bounded_semaphore, also if the value would exceed the initial one.
  void release(std::size_t n = 1);

  /// The permits left now (Python: Semaphore._value).
  std::int64_t value();
  /// Python: repr(sem): `<corio::threading::semaphore at 0x...: value=1>`,
  /// `<corio::threading::bounded_semaphore at 0x...: value=1/3>`. Any thread.
  friend std::ostream& operator<<(std::ostream& os, const semaphore& s);

  /// Python: `with sem:` as `auto guard = sem.scoped();`.
  [[nodiscard]] scoped_guard<semaphore> scoped() {
    acquire();
    return scoped_guard<semaphore>(*this);
  }

  // std::counting_semaphore's names (a negative or past timeout: one attempt).
  bool try_acquire() { return acquire(false); }
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
    if (!(d > d.zero())) return try_acquire();
    return acquire(d);
  }
  template <class Clock, class Duration>
  bool try_acquire_until(std::chrono::time_point<Clock, Duration> tp) {
    return acquire_until(detail::to_steady(tp));
  }

 protected:
  /// A semaphore that refuses to go above `bound` (bound < 0: no bound).
  semaphore(std::int64_t value, std::int64_t bound);

 private:
  bool acquire_until(detail::clock::time_point deadline);

  primitive_lock lock_;
  condition cond_{lock_};
  std::int64_t value_;
  const std::int64_t bound_;
};

/// Python: threading.BoundedSemaphore. A semaphore whose release() refuses
/// to raise the value above the initial one: std::invalid_argument("Semaphore
/// released too many times") (TQ-12), which catches a release without an
/// acquire.
class bounded_semaphore : public semaphore {
 public:
  /// Python: BoundedSemaphore(value=1). std::invalid_argument if value < 0.
  explicit bounded_semaphore(std::int64_t value = 1) : semaphore(value, value) {}
};

}  // namespace corio::threading

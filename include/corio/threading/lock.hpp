// Python: threading.Lock (the primitive lock, `_thread.lock`), and the guard
// that stands for `with lock:` across the threading primitives.
//
// Unlike corio::lock (asyncio.Lock, one event loop's tasks), these block the
// calling OS thread and may be shared by any threads.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/detail/repr.hpp>
#include <corio/detail/scoped_guard.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/futex.hpp>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <utility>

namespace corio::threading {

/// Holds one acquisition of a threading lock, rlock, condition or semaphore
/// and releases it when destroyed, also when an exception passes through
/// (Python: `with lock:`). Move-only. The same template as corio::scoped_guard.
using corio::scoped_guard;

/// Python: threading.Lock. Not reentrant: a second acquire by the holder
/// blocks (or fails, with blocking=false or a timeout). Any thread may release
/// it, not only the one that acquired it (TQ-08). Not fair: a thread arriving
/// as the lock is released may take it before a sleeping one wakes, which is
/// what keeps the uncontended path to one atomic operation.
///
/// The class is named after Python's documentation ("primitive lock")
/// because a C++ class cannot have a member named like itself, and the std
/// Lockable member `lock()` is needed for std::unique_lock/std::scoped_lock;
/// `corio::threading::lock` is an alias for it.
///
/// Implementation: Drepper's three-state futex mutex (0 free, 1 held,
/// 2 held and maybe waited on); a bounded spin before sleeping.
class primitive_lock {
 public:
  primitive_lock() noexcept = default;
  primitive_lock(const primitive_lock&) = delete;
  primitive_lock& operator=(const primitive_lock&) = delete;

  /// Python: Lock.acquire(blocking). Blocks until the lock is taken and
  /// returns true; with blocking=false makes one attempt and never blocks.
  bool acquire(bool blocking = true) noexcept {
    if (CORIO_LIKELY(try_acquire_fast())) return true;
    return blocking && acquire_slow(detail::clock::time_point::max());
  }
  /// Python: Lock.acquire(timeout=t). False if the lock could not be taken
  /// within `timeout` (zero: one attempt). std::invalid_argument if negative.
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    const auto d = detail::checked_timeout(timeout, "lock.acquire");
    if (CORIO_LIKELY(try_acquire_fast())) return true;
    return acquire_slow(detail::deadline_after(d, "lock.acquire"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool acquire(N) = delete;
  /// Python: Lock.release(). std::runtime_error("release unlocked lock") if
  /// not locked. Wakes one sleeping acquirer.
  void release() {
    const std::uint32_t prev = state_.exchange(0, std::memory_order_release);
    if (CORIO_UNLIKELY(prev != 1)) release_slow(prev);
  }
  /// Python: Lock.locked().
  bool locked() const noexcept { return state_.load(std::memory_order_acquire) != 0; }
  /// Python: repr(lock): `<unlocked corio::threading::lock object at 0x...>`,
  /// `<locked ...>`. Any thread.
  friend std::ostream& operator<<(std::ostream& os, const primitive_lock& l);

  /// Python: `with lock:` as `auto guard = lk.scoped();`: acquires now,
  /// releases when the guard goes.
  [[nodiscard]] scoped_guard<primitive_lock> scoped() noexcept {
    acquire();
    return scoped_guard<primitive_lock>(*this);
  }

  // std Lockable / TimedLockable, so std::unique_lock, std::scoped_lock and
  // std::condition_variable_any work. As in std, a negative or past timeout
  // here means one attempt (acquire(duration) rejects it, as Python does).
  void lock() noexcept { acquire(); }
  void unlock() { release(); }
  bool try_lock() noexcept { return try_acquire_fast(); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    if (!(d > d.zero())) return try_lock();
    return acquire(d);
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> tp) {
    if (try_acquire_fast()) return true;
    return acquire_slow(detail::to_steady(tp));
  }

 private:
  bool try_acquire_fast() noexcept {
    std::uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  bool acquire_slow(detail::clock::time_point deadline) noexcept;
  void release_slow(std::uint32_t prev);

  detail::futex_word state_{0};
};

/// Python: threading.Lock.
using lock = primitive_lock;

}  // namespace corio::threading

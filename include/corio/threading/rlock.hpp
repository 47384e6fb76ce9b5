// Python: threading.RLock, the reentrant lock.
#pragma once

#include <corio/threading/lock.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>

namespace corio::threading {

class condition;

/// Python: threading.RLock. The thread that holds it may acquire it again;
/// each acquire needs its own release, and only the last one frees the lock
/// for others (TQ-09). Only the owner may release: a release by another
/// thread, or of an unowned rlock, throws std::runtime_error("cannot release
/// un-acquired lock").
///
/// The owner is recorded as get_ident(), as CPython does; the recursion count
/// is touched by the owner only, so it needs no atomics.
class rlock {
 public:
  rlock() noexcept = default;
  rlock(const rlock&) = delete;
  rlock& operator=(const rlock&) = delete;

  /// Python: RLock.acquire(blocking). At once if the caller owns it already.
  bool acquire(bool blocking = true) noexcept {
    if (owned_by_me()) return add_count(1), true;
    if (!block_.acquire(blocking)) return false;
    take();
    return true;
  }
  /// Python: RLock.acquire(timeout=t). std::invalid_argument if negative.
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    const auto d = detail::checked_timeout(timeout, "rlock.acquire");
    if (owned_by_me()) return add_count(1), true;
    if (!block_.acquire(d)) return false;
    take();
    return true;
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool acquire(N) = delete;
  /// Python: RLock.release(). std::runtime_error unless the caller owns it.
  void release();

  /// Python: RLock.locked() (3.14): held by some thread.
  bool locked() const noexcept { return block_.locked(); }
  /// Python: RLock._is_owned(): held by the calling thread.
  bool owned_by_me() const noexcept;
  /// Python: RLock._recursion_count(): how many times the calling thread
  /// holds it (0 if it does not own it).
  std::size_t recursion_count() const noexcept { return owned_by_me() ? count_.load(std::memory_order_relaxed) : 0; }

  /// Python: repr(rlock): `<locked corio::threading::rlock object owner=140234
  /// count=2 at 0x...>`, `<unlocked corio::threading::rlock object owner=0
  /// count=0 at 0x...>` (owner: the holder's ident()). Any thread.
  friend std::ostream& operator<<(std::ostream& os, const rlock& l);
  /// Python: `with rlock:` as `auto guard = rl.scoped();`.
  [[nodiscard]] scoped_guard<rlock> scoped() noexcept {
    acquire();
    return scoped_guard<rlock>(*this);
  }

  // std Lockable / TimedLockable (a negative or past timeout: one attempt).
  void lock() noexcept { acquire(); }
  void unlock() { release(); }
  bool try_lock() noexcept { return acquire(false); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    if (!(d > d.zero())) return try_lock();
    return acquire(d);
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> tp) {
    if (owned_by_me()) return add_count(1), true;
    if (!block_.try_lock_until(tp)) return false;
    take();
    return true;
  }

 private:
  friend class condition;
  // What a condition wait saves while it lets go of the lock entirely, and
  // restores after (CPython's _release_save / _acquire_restore).
  struct saved_state {
    std::size_t count;
    std::uint64_t owner;
  };
  saved_state release_save();
  void acquire_restore(saved_state s) noexcept;
  void take() noexcept;

  primitive_lock block_;
  std::atomic<std::uint64_t> owner_{0};  // get_ident() of the holder, 0 if none
  // Written by the owner only; atomic (relaxed) so that a repr on another
  // thread may read it.
  std::atomic<std::size_t> count_{0};
  void add_count(std::ptrdiff_t d) noexcept {
    count_.store(count_.load(std::memory_order_relaxed) + static_cast<std::size_t>(d), std::memory_order_relaxed);
  }
};

}  // namespace corio::threading

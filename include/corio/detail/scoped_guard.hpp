// The guard behind `with lock:` / `async with lock:`; shared by the asyncio
// primitives (<corio/locks.hpp>) and the threading ones
// (<corio/threading/lock.hpp>, as corio::threading::scoped_guard), whose
// release() it calls the same way.
#pragma once

#include <mutex>
#include <utility>

namespace corio {

/// The tag of scoped_guard(lk, adopt_lock): the caller holds the
/// acquisition already. The standard library's own tag, so std::adopt_lock
/// works too.
using std::adopt_lock;
using std::adopt_lock_t;

/// Holds one acquisition of a lock, rlock, condition or semaphore and
/// releases it when destroyed, also when an exception or a cancellation
/// passes through (Python: `with lock:`, `async with lock:`). Move-only.
///
/// `lk.scoped()` acquires and returns one. For an acquisition made apart,
/// Python's `lock.acquire()` followed by `try: ... finally: lock.release()`
/// (say a timed acquire that may fail), adopt it:
///
///   if (lk.acquire(2s)) {                        // if lock.acquire(timeout=2):
///     corio::scoped_guard g(lk, corio::adopt_lock);  //     try: ... finally: lock.release()
///     ...
///   }
///
/// A guard never acquires: unlike std::lock_guard, both constructors adopt.
template <class P>
class [[nodiscard]] scoped_guard {
 public:
  /// Adopts an acquisition the caller already holds.
  scoped_guard(P& p, adopt_lock_t) noexcept : p_(&p) {}
  /// The same (the form the primitives' scoped() use).
  explicit scoped_guard(P& p) noexcept : p_(&p) {}
  scoped_guard(scoped_guard&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  scoped_guard& operator=(scoped_guard&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~scoped_guard() { reset(); }
  /// Releases now instead of at scope exit.
  void reset() {
    if (P* p = std::exchange(p_, nullptr)) p->release();
  }
  /// True until reset() or a move away.
  bool owns() const noexcept { return p_ != nullptr; }

 private:
  P* p_;
};

}  // namespace corio

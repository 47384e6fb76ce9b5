// The guard behind `with lock:` / `async with lock:`; shared by the asyncio
// primitives (<corio/locks.hpp>) and the threading ones
// (<corio/threading/lock.hpp>, as corio::threading::scoped_guard), whose
// release() it calls the same way.
#pragma once

#include <utility>

namespace corio {

/// Holds one acquisition of a lock, rlock, condition or semaphore and
/// releases it when destroyed, also when an exception or a cancellation
/// passes through (Python: `with lock:`, `async with lock:`). Move-only.
template <class P>
class [[nodiscard]] scoped_guard {
 public:
  /// Adopts an acquisition the caller already holds.
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

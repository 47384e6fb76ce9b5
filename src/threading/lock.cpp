#include <corio/threading/lock.hpp>

#include <corio/detail/repr.hpp>

#include <ostream>
#include <stdexcept>

namespace corio::threading {

namespace {
// Long enough to ride out a holder that is about to release (a few hundred
// cycles), short enough that a waiter that cannot win goes to sleep at once.
constexpr int kSpins = 64;
constexpr std::uint32_t kFree = 0, kHeld = 1, kContended = 2;
}  // namespace

bool primitive_lock::acquire_slow(detail::clock::time_point deadline) noexcept {
  for (int i = 0; i < kSpins; ++i) {
    std::uint32_t c = state_.load(std::memory_order_relaxed);
    if (c == kContended) break;  // others already sleep: queue up with them
    if (c == kFree &&
        state_.compare_exchange_weak(c, kHeld, std::memory_order_acquire, std::memory_order_relaxed))
      return true;
    detail::cpu_relax();
  }
  // Mark the lock contended before sleeping, so the holder's release wakes
  // someone. A waiter that times out leaves the mark behind: the next release
  // then makes one wake-up call for nobody, which is harmless.
  std::uint32_t c = state_.exchange(kContended, std::memory_order_acquire);
  while (c != kFree) {
    if (!detail::futex_wait_until(state_, kContended, deadline)) {
      // Out of time; one last try, so a release that raced the deadline is
      // not wasted.
      c = kFree;
      return state_.compare_exchange_strong(c, kContended, std::memory_order_acquire,
                                            std::memory_order_relaxed);
    }
    c = state_.exchange(kContended, std::memory_order_acquire);
  }
  return true;
}

void primitive_lock::release_slow(std::uint32_t prev) {
  if (prev == kFree) throw std::runtime_error("release unlocked lock");
  detail::futex_wake(&state_, 1);  // prev == kContended: someone may sleep
}

std::ostream& operator<<(std::ostream& os, const primitive_lock& l) {
  // Python: repr(_thread.lock).
  os << '<' << (l.locked() ? "locked" : "unlocked") << " corio::threading::lock object at ";
  corio::detail::write_address(os, &l);
  return os << '>';
}

}  // namespace corio::threading

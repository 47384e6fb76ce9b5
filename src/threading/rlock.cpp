#include <corio/threading/rlock.hpp>

#include <corio/detail/repr.hpp>
#include <corio/threading/thread.hpp>

#include <ostream>
#include <stdexcept>

namespace corio::threading {

// owner_ is read by threads that do not hold the lock, hence atomic; relaxed
// is enough because a thread only ever compares it with its own id, and only
// its own store can have put that id there.
bool rlock::owned_by_me() const noexcept { return owner_.load(std::memory_order_relaxed) == get_ident(); }

void rlock::take() noexcept {
  owner_.store(get_ident(), std::memory_order_relaxed);
  count_.store(1, std::memory_order_relaxed);
}

void rlock::release() {
  if (!owned_by_me()) throw std::runtime_error("cannot release un-acquired lock");
  add_count(-1);
  if (count_.load(std::memory_order_relaxed) == 0) {
    owner_.store(0, std::memory_order_relaxed);
    block_.release();
  }
}

rlock::saved_state rlock::release_save() {
  if (!owned_by_me()) throw std::runtime_error("cannot release un-acquired lock");
  const saved_state s{count_.load(std::memory_order_relaxed), owner_.load(std::memory_order_relaxed)};
  count_.store(0, std::memory_order_relaxed);
  owner_.store(0, std::memory_order_relaxed);
  block_.release();
  return s;
}

void rlock::acquire_restore(saved_state s) noexcept {
  block_.acquire();
  owner_.store(s.owner, std::memory_order_relaxed);
  count_.store(s.count, std::memory_order_relaxed);
}

std::ostream& operator<<(std::ostream& os, const rlock& l) {
  // Python's C RLock repr; owner and count are read relaxed, a snapshot.
  const std::uint64_t owner = l.owner_.load(std::memory_order_relaxed);
  os << '<' << (l.locked() ? "locked" : "unlocked") << " corio::threading::rlock object owner=" << owner
     << " count=" << (owner != 0 ? l.count_.load(std::memory_order_relaxed) : 0) << " at ";
  corio::detail::write_address(os, &l);
  return os << '>';
}

}  // namespace corio::threading

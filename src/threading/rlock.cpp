#include <corio/threading/rlock.hpp>

#include <corio/threading/thread.hpp>

#include <stdexcept>

namespace corio::threading {

// owner_ is read by threads that do not hold the lock, hence atomic; relaxed
// is enough because a thread only ever compares it with its own id, and only
// its own store can have put that id there.
bool rlock::owned_by_me() const noexcept { return owner_.load(std::memory_order_relaxed) == get_ident(); }

void rlock::take() noexcept {
  owner_.store(get_ident(), std::memory_order_relaxed);
  count_ = 1;
}

void rlock::release() {
  if (!owned_by_me()) throw std::runtime_error("cannot release un-acquired lock");
  if (--count_ == 0) {
    owner_.store(0, std::memory_order_relaxed);
    block_.release();
  }
}

rlock::saved_state rlock::release_save() {
  if (!owned_by_me()) throw std::runtime_error("cannot release un-acquired lock");
  const saved_state s{count_, owner_.load(std::memory_order_relaxed)};
  count_ = 0;
  owner_.store(0, std::memory_order_relaxed);
  block_.release();
  return s;
}

void rlock::acquire_restore(saved_state s) noexcept {
  block_.acquire();
  owner_.store(s.owner, std::memory_order_relaxed);
  count_ = s.count;
}

}  // namespace corio::threading

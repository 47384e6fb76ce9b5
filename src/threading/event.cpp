#include <corio/threading/event.hpp>

#include <corio/detail/repr.hpp>

#include <ostream>

namespace corio::threading {

void event::set() {
  auto guard = lock_.scoped();
  flag_.store(true, std::memory_order_release);
  cond_.notify_all();
}

void event::clear() {
  auto guard = lock_.scoped();
  flag_.store(false, std::memory_order_release);
}

bool event::wait() {
  auto guard = lock_.scoped();
  // The condition wakes only for a notify, and only set() notifies: the
  // flag was set, even if a clear() has come since.
  return flag_.load(std::memory_order_relaxed) || cond_.wait();
}

bool event::wait_deadline(detail::clock::time_point deadline) {
  auto guard = lock_.scoped();
  return flag_.load(std::memory_order_relaxed) || cond_.wait_until(deadline);
}

std::ostream& operator<<(std::ostream& os, const event& e) {
  // Python: threading.Event.__repr__.
  os << "<corio::threading::event at ";
  corio::detail::write_address(os, &e);
  return os << ": " << (e.is_set() ? "set" : "unset") << '>';
}

}  // namespace corio::threading

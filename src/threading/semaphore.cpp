#include <corio/threading/semaphore.hpp>

#include <corio/detail/repr.hpp>

#include <limits>
#include <ostream>
#include <stdexcept>

namespace corio::threading {

semaphore::semaphore(std::int64_t value) : semaphore(value, -1) {}

semaphore::semaphore(std::int64_t value, std::int64_t bound) : value_(value), bound_(bound) {
  if (value < 0) throw std::invalid_argument("semaphore initial value must be >= 0");
}

bool semaphore::acquire(bool blocking) {
  auto guard = lock_.scoped();
  while (value_ == 0) {
    if (!blocking) return false;
    cond_.wait();
  }
  --value_;
  return true;
}

bool semaphore::acquire_until(detail::clock::time_point deadline) {
  auto guard = lock_.scoped();
  // The value is looked at before the clock: a permit that is there is taken
  // even if the time is up (Python's loop does the same).
  while (value_ == 0) {
    if (!cond_.wait_until(deadline) && value_ == 0) return false;
  }
  --value_;
  return true;
}

void semaphore::release(std::size_t n) {
  if (n == 0) throw std::invalid_argument("semaphore release: n must be one or more");
  auto guard = lock_.scoped();
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const auto room = bound_ >= 0 ? static_cast<std::uint64_t>(bound_ - value_) : kMax - static_cast<std::uint64_t>(value_);
  if (n > room) {
    if (bound_ >= 0) throw std::invalid_argument("Semaphore released too many times");
    throw std::overflow_error("semaphore release: the value would overflow");
  }
  value_ += static_cast<std::int64_t>(n);
  cond_.notify(n);
}

std::int64_t semaphore::value() {
  auto guard = lock_.scoped();
  return value_;
}

std::ostream& operator<<(std::ostream& os, const semaphore& s) {
  // Python: threading.Semaphore.__repr__ and BoundedSemaphore's value=n/bound.
  const std::int64_t value = const_cast<semaphore&>(s).value();  // a moment under the internal lock
  os << (s.bound_ < 0 ? "<corio::threading::semaphore at " : "<corio::threading::bounded_semaphore at ");
  corio::detail::write_address(os, &s);
  os << ": value=" << value;
  if (s.bound_ >= 0) os << '/' << s.bound_;
  return os << '>';
}

}  // namespace corio::threading

// multiprocessing's semaphore and event: bare futex words in shared memory,
// no lock, so nothing can be left held by a process that dies.
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/detail/repr.hpp>
#include <corio/threading/detail/futex.hpp>

#include <climits>
#include <new>
#include <ostream>
#include <stdexcept>

namespace corio::multiprocessing {

namespace detail {
namespace {

using threading::detail::futex_wait_shared;
using threading::detail::futex_wake_shared;
using threading::detail::futex_word;

// Python: SEM_VALUE_MAX on Linux.
constexpr std::uint32_t kValueMax = INT_MAX;

struct semaphore_state {
  futex_word value;  // the permits; sleepers wait for it to leave 0
  // Threads sleeping (or about to) on `value`: release() makes the wake-up
  // call only when there may be one. A sleeper that dies leaves its count
  // behind, which costs later releases a useless call, nothing else.
  std::atomic<std::uint32_t> sleepers;
  std::uint32_t bound;  // the most `value` may be
  std::uint32_t bounded;
};

semaphore_state* sem_at(const shared_place& p) noexcept {
  return std::launder(reinterpret_cast<semaphore_state*>(p.addr));
}

// The event's word: bit 0 the flag, the bits above a count of set() calls
// that found it clear. A waiter that sees the count move knows a set()
// happened during its wait, even if a clear() came after.
struct event_state {
  futex_word word;
};

event_state* event_at(const shared_place& p) noexcept { return std::launder(reinterpret_cast<event_state*>(p.addr)); }

}  // namespace
}  // namespace detail

// == semaphore ==================================================================

semaphore::semaphore(std::int64_t value) : semaphore(value, false) {}

semaphore::semaphore(std::int64_t value, bool bounded) {
  if (value < 0) throw std::invalid_argument("semaphore initial value must be >= 0");
  if (value > static_cast<std::int64_t>(detail::kValueMax))
    throw std::invalid_argument("semaphore initial value must be at most 2147483647 (SEM_VALUE_MAX)");
  p_ = detail::allocate(sizeof(detail::semaphore_state));
  auto* s = new (p_.addr) detail::semaphore_state{};
  s->value.store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
  s->bound = bounded ? static_cast<std::uint32_t>(value) : detail::kValueMax;
  s->bounded = bounded;
}

bool semaphore::acquire(bool blocking) {
  return acquire_until(blocking ? threading::detail::clock::time_point::max() : threading::detail::clock::time_point::min());
}

bool semaphore::acquire_until(threading::detail::clock::time_point deadline) {
  detail::semaphore_state* s = detail::sem_at(p_);
  std::uint32_t v = s->value.load(std::memory_order_relaxed);
  for (;;) {
    // A permit that is there is taken even if the time is up (Python does the same).
    while (v > 0) {
      if (s->value.compare_exchange_weak(v, v - 1, std::memory_order_acquire, std::memory_order_relaxed)) return true;
    }
    if (deadline == threading::detail::clock::time_point::min()) return false;
    // Announce the sleep before the kernel checks the word: release() adds
    // to `value` before it reads `sleepers` (both seq_cst), so either it sees
    // this sleeper or the kernel sees the new value and does not sleep.
    s->sleepers.fetch_add(1, std::memory_order_seq_cst);
    const bool woken = threading::detail::futex_wait_shared(s->value, 0, deadline);
    s->sleepers.fetch_sub(1, std::memory_order_relaxed);
    v = s->value.load(std::memory_order_relaxed);
    if (!woken && v == 0) return false;
  }
}

void semaphore::release(std::size_t n) {
  if (n == 0) throw std::invalid_argument("semaphore release: n must be one or more");
  detail::semaphore_state* s = detail::sem_at(p_);
  std::uint32_t v = s->value.load(std::memory_order_relaxed);
  for (;;) {
    if (n > s->bound - v) {
      if (s->bounded) throw std::invalid_argument("Semaphore released too many times");
      throw std::overflow_error("semaphore release: the value would exceed 2147483647 (SEM_VALUE_MAX)");
    }
    if (s->value.compare_exchange_weak(v, v + static_cast<std::uint32_t>(n), std::memory_order_seq_cst,
                                       std::memory_order_relaxed))
      break;
  }
  if (s->sleepers.load(std::memory_order_seq_cst) != 0)
    threading::detail::futex_wake_shared(&s->value, n > INT_MAX ? INT_MAX : static_cast<int>(n));
}

std::int64_t semaphore::get_value() const noexcept { return detail::sem_at(p_)->value.load(std::memory_order_relaxed); }

bool semaphore::bounded() const noexcept { return detail::sem_at(p_)->bounded != 0; }

shared_handle semaphore::corio_handle() const {
  return detail::make_handle(bounded() ? "bounded_semaphore" : "semaphore", p_);
}

semaphore semaphore::from_handle(const shared_handle& h) {
  const char* kind = h.kind == "bounded_semaphore" ? "bounded_semaphore" : "semaphore";
  return semaphore(detail::attach(h, kind, sizeof(detail::semaphore_state), alignof(detail::semaphore_state)));
}

bounded_semaphore bounded_semaphore::from_handle(const shared_handle& h) {
  return bounded_semaphore(
      detail::attach(h, "bounded_semaphore", sizeof(detail::semaphore_state), alignof(detail::semaphore_state)));
}

std::ostream& operator<<(std::ostream& os, const semaphore& s) {
  // Python: <Semaphore(value=1)>, <BoundedSemaphore(value=1, maxvalue=2)>.
  const detail::semaphore_state* st = detail::sem_at(s.p_);
  if (!st->bounded) return os << "<Semaphore(value=" << s.get_value() << ")>";
  return os << "<BoundedSemaphore(value=" << s.get_value() << ", maxvalue=" << st->bound << ")>";
}

// == event ======================================================================

event::event() : p_(detail::allocate(sizeof(detail::event_state))) { new (p_.addr) detail::event_state{}; }

bool event::is_set() const noexcept { return (detail::event_at(p_)->word.load(std::memory_order_acquire) & 1) != 0; }

void event::set() noexcept {
  detail::event_state* s = detail::event_at(p_);
  std::uint32_t w = s->word.load(std::memory_order_relaxed);
  do {
    if (w & 1) return;
  } while (!s->word.compare_exchange_weak(w, (w + 2) | 1, std::memory_order_release, std::memory_order_relaxed));
  threading::detail::futex_wake_shared(&s->word, INT_MAX);
}

void event::clear() noexcept { detail::event_at(p_)->word.fetch_and(~std::uint32_t{1}, std::memory_order_relaxed); }

bool event::wait_deadline(threading::detail::clock::time_point deadline) {
  detail::event_state* s = detail::event_at(p_);
  const std::uint32_t start = s->word.load(std::memory_order_acquire);
  if (start & 1) return true;
  std::uint32_t w = start;
  for (;;) {
    const bool woken = threading::detail::futex_wait_shared(s->word, w, deadline);
    w = s->word.load(std::memory_order_acquire);
    // Set now, or set (and maybe cleared) since the wait began.
    if ((w & 1) || (w >> 1) != (start >> 1)) return true;
    if (!woken) return false;
  }
}

shared_handle event::corio_handle() const { return detail::make_handle("event", p_); }

event event::from_handle(const shared_handle& h) {
  return event(detail::attach(h, "event", sizeof(detail::event_state), alignof(detail::event_state)));
}

std::ostream& operator<<(std::ostream& os, const event& e) {
  os << "<corio::multiprocessing::event at ";
  corio::detail::write_address(os, e.p_.addr);
  return os << ": " << (e.is_set() ? "set" : "unset") << '>';
}

}  // namespace corio::multiprocessing

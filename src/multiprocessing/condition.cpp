// multiprocessing's condition: a ring of waiter tickets in shared memory,
// guarded by the condition's own lock.
//
// Every change to the ring (a waiter enqueuing, notify marking waiters,
// a waiter leaving) happens with the user's lock held, which wait() and
// notify() require anyway, so the condition needs no lock of its own. A
// sleeping waiter only reads its slot. Waiters sleep on one futex word,
// `seq`, each with the bit of its ticket (ticket % 32) as its futex bitset;
// notify marks the oldest waiting tickets, bumps `seq` and wakes the bits it
// marked, so mostly only those wake (a waiter whose ticket shares a bit
// looks at its slot and sleeps again).
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/threading/detail/futex.hpp>

#include <cerrno>
#include <climits>
#include <new>
#include <ostream>
#include <signal.h>
#include <stdexcept>

namespace corio::multiprocessing {

namespace detail {
namespace {

using threading::detail::futex_word;

constexpr std::uint32_t kSlots = 1024;
// A slot: 0 free, else the waiter's pid << 2 | state.
constexpr std::uint32_t kWaiting = 1, kNotified = 2, kStateMask = 3;

struct condition_state {
  futex_word seq;
  std::uint32_t unused;
  // Tickets [head, tail) may be in use; slots[t % kSlots] is ticket t's.
  std::uint64_t head;
  std::uint64_t tail;
  std::atomic<std::uint32_t> slots[kSlots];
};

condition_state* cond_at(const shared_place& p) noexcept {
  return std::launder(reinterpret_cast<condition_state*>(p.addr));
}

std::uint32_t bit_of(std::uint64_t ticket) noexcept { return std::uint32_t{1} << (ticket % 32); }

// Frees the slots at the head that are free (lock held).
void advance_head(condition_state* s) noexcept {
  while (s->head < s->tail && s->slots[s->head % kSlots].load(std::memory_order_relaxed) == 0) ++s->head;
}

// Whether process `pid` is gone (a waiter that died waiting).
bool process_gone(std::uint32_t pid) noexcept {
  const int saved = errno;
  const bool gone = ::kill(static_cast<pid_t>(pid), 0) < 0 && errno == ESRCH;
  errno = saved;
  return gone;
}

}  // namespace
}  // namespace detail

condition::condition() : condition(rlock()) {}

condition::condition(primitive_lock lk) : p_(detail::allocate(sizeof(detail::condition_state))), lock_(std::move(lk)) {
  new (p_.addr) detail::condition_state{};
}

condition::condition(rlock lk) : p_(detail::allocate(sizeof(detail::condition_state))), lock_(std::move(lk)) {
  new (p_.addr) detail::condition_state{};
}

bool condition::wait_deadline(threading::detail::clock::time_point deadline) {
  if (!owned()) throw std::runtime_error("cannot wait on un-acquired lock");
  detail::condition_state* s = detail::cond_at(p_);
  if (s->tail - s->head >= detail::kSlots)
    throw std::runtime_error("multiprocessing::condition.wait: more than 1024 threads wait on this condition");
  const std::uint64_t ticket = s->tail++;
  std::atomic<std::uint32_t>& slot = s->slots[ticket % detail::kSlots];
  slot.store(detail::current_pid() << 2 | detail::kWaiting, std::memory_order_relaxed);
  std::uint32_t seen = s->seq.load(std::memory_order_acquire);

  // Let go of the lock entirely (an rlock at any depth).
  std::size_t depth = 0;
  if (auto* r = std::get_if<rlock>(&lock_)) {
    depth = r->release_save();
  } else {
    std::get<primitive_lock>(lock_).release();
  }

  const std::uint32_t bit = detail::bit_of(ticket);
  for (;;) {
    if ((slot.load(std::memory_order_acquire) & detail::kStateMask) == detail::kNotified) break;
    if (!threading::detail::futex_wait_shared(s->seq, seen, deadline, bit)) break;
    seen = s->seq.load(std::memory_order_acquire);
  }

  // Hold the lock again (as acquire() does, taking it over from a holder
  // that died), then leave the ring. A notify that came after the timeout
  // but before this counts: the wake-up is not lost.
  if (auto* r = std::get_if<rlock>(&lock_)) {
    r->acquire_restore(depth);
  } else {
    std::get<primitive_lock>(lock_).acquire();
  }
  const bool notified = (slot.load(std::memory_order_relaxed) & detail::kStateMask) == detail::kNotified;
  slot.store(0, std::memory_order_relaxed);
  detail::advance_head(s);
  return notified;
}

void condition::notify(std::size_t n) {
  if (!owned()) throw std::runtime_error("cannot notify on un-acquired lock");
  detail::condition_state* s = detail::cond_at(p_);
  std::uint32_t bits = 0;
  std::size_t woken = 0;
  for (std::uint64_t t = s->head; t < s->tail && woken < n; ++t) {
    std::atomic<std::uint32_t>& slot = s->slots[t % detail::kSlots];
    const std::uint32_t v = slot.load(std::memory_order_relaxed);
    if ((v & detail::kStateMask) != detail::kWaiting) continue;
    if (detail::process_gone(v >> 2)) {
      slot.store(0, std::memory_order_relaxed);  // its wake-up goes to a live waiter
      continue;
    }
    slot.store((v & ~detail::kStateMask) | detail::kNotified, std::memory_order_release);
    bits |= detail::bit_of(t);
    ++woken;
  }
  detail::advance_head(s);
  if (woken == 0) return;
  s->seq.fetch_add(1, std::memory_order_acq_rel);
  threading::detail::futex_wake_shared(&s->seq, INT_MAX, bits);
}

void condition::notify_all() { notify(SIZE_MAX); }

shared_handle condition::corio_handle() const {
  shared_handle h = detail::make_handle("condition", p_);
  h.parts.push_back(std::visit([](const auto& l) { return l.corio_handle(); }, lock_));
  return h;
}

condition condition::from_handle(const shared_handle& h) {
  auto p = detail::attach(h, "condition", sizeof(detail::condition_state), alignof(detail::condition_state));
  if (h.parts.size() != 1)
    throw std::invalid_argument("cannot attach to a shared condition from handle: it names no lock");
  const shared_handle& l = h.parts.front();
  if (l.kind == "lock") return condition(std::move(p), primitive_lock::from_handle(l));
  return condition(std::move(p), rlock::from_handle(l));
}

std::ostream& operator<<(std::ostream& os, const condition& c) {
  // Python: <Condition(lock, waiters)>.
  const detail::condition_state* s = detail::cond_at(c.p_);
  std::size_t waiting = 0;
  for (std::uint32_t i = 0; i < detail::kSlots; ++i)
    if ((s->slots[i].load(std::memory_order_relaxed) & detail::kStateMask) == detail::kWaiting) ++waiting;
  os << "<Condition(";
  std::visit([&](const auto& l) { os << l; }, c.lock_);
  return os << ", " << waiting << ")>";
}

}  // namespace corio::multiprocessing

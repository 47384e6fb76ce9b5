// multiprocessing's barrier: corio::threading::barrier's algorithm (CPython's)
// with its state in shared memory, under a robust mutex, and a futex word
// that every change of state bumps and wakes.
#include <corio/multiprocessing/detail/sync_state.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/detail/repr.hpp>
#include <corio/exceptions.hpp>
#include <corio/threading/detail/futex.hpp>

#include <climits>
#include <new>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace corio::multiprocessing {

namespace detail {
namespace {

using threading::detail::clock;

enum : std::uint32_t { kFilling, kDraining, kResetting, kBroken };

struct barrier_state {
  robust_mutex m;
  threading::detail::futex_word seq;
  std::uint32_t state;
  std::uint64_t count;
  std::uint64_t parties;
  std::int64_t timeout_ns;  // the default timeout; < 0: none
};

barrier_state* barrier_at(const shared_place& p) noexcept {
  return std::launder(reinterpret_cast<barrier_state*>(p.addr));
}

// The state's own lock, held for the span of one call (and given up while
// waiting). A process that dies inside a call leaves the state as it was
// between two steps, which the next holder takes over.
class held {
 public:
  explicit held(barrier_state* s) : s_(s) { lock(s_->m, true, clock::time_point::max(), "multiprocessing::barrier"); }
  held(const held&) = delete;
  held& operator=(const held&) = delete;
  ~held() { unlock(s_->m); }

  // Condition.wait(): false once `deadline` has passed.
  bool wait(clock::time_point deadline) {
    const std::uint32_t seen = s_->seq.load(std::memory_order_acquire);
    unlock(s_->m);
    const bool woken = threading::detail::futex_wait_shared(s_->seq, seen, deadline);
    lock(s_->m, true, clock::time_point::max(), "multiprocessing::barrier");
    return woken;
  }
  // Condition.notify_all().
  void notify_all() noexcept {
    s_->seq.fetch_add(1, std::memory_order_acq_rel);
    threading::detail::futex_wake_shared(&s_->seq, INT_MAX);
  }

 private:
  barrier_state* s_;
};

}  // namespace
}  // namespace detail

barrier::barrier(std::size_t parties, std::function<void()> action, std::optional<std::chrono::nanoseconds> timeout)
    : barrier(detail::shared_place{}, std::move(action)) {
  if (parties == 0) throw std::invalid_argument("barrier: parties must be >= 1");
  std::int64_t t = -1;
  if (timeout) t = threading::detail::checked_timeout(*timeout, "barrier").count();
  p_ = detail::allocate(sizeof(detail::barrier_state));
  auto* s = new (p_.addr) detail::barrier_state{};
  detail::init(s->m);
  s->parties = parties;
  s->timeout_ns = t;
}

std::size_t barrier::wait() {
  const std::int64_t t = detail::barrier_at(p_)->timeout_ns;
  if (t < 0) return wait_deadline(threading::detail::clock::time_point::max());
  return wait_deadline(threading::detail::deadline_in(std::chrono::nanoseconds(t)));
}

std::size_t barrier::wait_deadline(threading::detail::clock::time_point deadline) {
  detail::barrier_state* s = detail::barrier_at(p_);
  detail::held h(s);
  // Wait while the previous round drains.
  while (s->state == detail::kDraining || s->state == detail::kResetting) h.wait(threading::detail::clock::time_point::max());
  if (s->state == detail::kBroken) throw broken_barrier_error("barrier is broken");
  const std::size_t index = s->count++;
  struct leave {
    detail::barrier_state* s;
    detail::held& h;
    ~leave() {
      // The last one out ends the draining (or resetting) and lets the next
      // round in.
      if (--s->count == 0 && (s->state == detail::kDraining || s->state == detail::kResetting)) {
        s->state = detail::kFilling;
        h.notify_all();
      }
    }
  } on_exit{s, h};
  if (index + 1 == s->parties) {
    try {
      if (*action_) (*action_)();
      s->state = detail::kDraining;
      h.notify_all();
    } catch (...) {
      s->state = detail::kBroken;  // the others get broken_barrier_error, this thread the action's error
      h.notify_all();
      throw;
    }
    return index;
  }
  bool timed_out = false;
  while (s->state == detail::kFilling) {
    if (!h.wait(deadline) && s->state == detail::kFilling) {
      timed_out = true;
      break;
    }
  }
  if (timed_out) {
    s->state = detail::kBroken;
    h.notify_all();
    throw broken_barrier_error("barrier wait timed out; the barrier is now broken");
  }
  if (s->state == detail::kBroken || s->state == detail::kResetting)
    throw broken_barrier_error(s->state == detail::kBroken ? "barrier is broken" : "barrier was reset");
  return index;
}

void barrier::reset() {
  detail::barrier_state* s = detail::barrier_at(p_);
  detail::held h(s);
  if (s->count > 0) {
    // Waiters are woken with broken_barrier_error; the last one out makes
    // the barrier usable again.
    if (s->state == detail::kFilling || s->state == detail::kBroken) s->state = detail::kResetting;
  } else {
    s->state = detail::kFilling;
  }
  h.notify_all();
}

void barrier::abort() {
  detail::barrier_state* s = detail::barrier_at(p_);
  detail::held h(s);
  s->state = detail::kBroken;
  h.notify_all();
}

std::size_t barrier::parties() const noexcept { return detail::barrier_at(p_)->parties; }

std::size_t barrier::n_waiting() {
  detail::barrier_state* s = detail::barrier_at(p_);
  detail::held h(s);
  return s->state == detail::kFilling ? s->count : 0;
}

bool barrier::broken() {
  detail::barrier_state* s = detail::barrier_at(p_);
  detail::held h(s);
  return s->state == detail::kBroken;
}

shared_handle barrier::corio_handle() const { return detail::make_handle("barrier", p_); }

barrier barrier::from_handle(const shared_handle& h, std::function<void()> action) {
  return barrier(detail::attach(h, "barrier", sizeof(detail::barrier_state), alignof(detail::barrier_state)),
                 std::move(action));
}

std::ostream& operator<<(std::ostream& os, const barrier& b) {
  // Python: threading.Barrier.__repr__.
  bool is_broken = false;
  std::size_t waiting = 0;
  {
    detail::barrier_state* s = detail::barrier_at(b.p_);
    detail::held h(s);
    is_broken = s->state == detail::kBroken;
    waiting = s->state == detail::kFilling ? s->count : 0;
  }
  os << "<corio::multiprocessing::barrier at ";
  corio::detail::write_address(os, b.p_.addr);
  if (is_broken) return os << ": broken>";
  return os << ": waiters=" << waiting << '/' << b.parties() << '>';
}

}  // namespace corio::multiprocessing

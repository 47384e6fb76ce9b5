#include <corio/threading/barrier.hpp>

#include <corio/detail/repr.hpp>

#include <ostream>
#include <stdexcept>
#include <utility>

namespace corio::threading {

// A port of CPython's threading.Barrier: `state_` and `count_` are guarded
// by lock_, and every change of state notifies all waiters, who re-check.

barrier::barrier(std::size_t parties, std::function<void()> action, std::optional<std::chrono::nanoseconds> timeout)
    : parties_(parties), action_(std::move(action)) {
  if (parties == 0) throw std::invalid_argument("barrier: parties must be >= 1");
  if (timeout) timeout_ = detail::checked_timeout(*timeout, "barrier");
}

std::size_t barrier::wait_for_round(std::optional<detail::clock::duration> timeout) {
  auto guard = cond_.scoped();
  enter();  // blocks while the previous round drains
  const std::size_t index = count_++;
  struct leave {
    barrier* b;
    ~leave() {
      --b->count_;
      b->exit();
    }
  } on_exit{this};
  if (index + 1 == parties_) {
    release_round();
  } else {
    wait_released(timeout);
  }
  return index;
}

void barrier::enter() {
  while (state_ == state::draining || state_ == state::resetting) cond_.wait();
  if (state_ == state::broken) throw broken_barrier_error("barrier is broken");
}

void barrier::release_round() {
  try {
    if (action_) action_();
    state_ = state::draining;
    cond_.notify_all();
  } catch (...) {
    break_barrier();  // the others get broken_barrier_error, this thread the action's error
    throw;
  }
}

void barrier::wait_released(std::optional<detail::clock::duration> timeout) {
  const auto released = [this] { return state_ != state::filling; };
  const bool done = timeout ? cond_.wait_for(released, *timeout) : cond_.wait_for(released);
  if (!done) {
    break_barrier();
    throw broken_barrier_error("barrier wait timed out; the barrier is now broken");
  }
  if (state_ == state::broken || state_ == state::resetting)
    throw broken_barrier_error(state_ == state::broken ? "barrier is broken" : "barrier was reset");
}

void barrier::exit() {
  // The last thread out ends the draining (or resetting) and lets the next
  // round in.
  if (count_ == 0 && (state_ == state::draining || state_ == state::resetting)) {
    state_ = state::filling;
    cond_.notify_all();
  }
}

void barrier::reset() {
  auto guard = cond_.scoped();
  if (count_ > 0) {
    // Waiters are woken with broken_barrier_error; the last one out makes the
    // barrier usable again (exit()).
    if (state_ == state::filling || state_ == state::broken) state_ = state::resetting;
  } else {
    state_ = state::filling;
  }
  cond_.notify_all();
}

void barrier::abort() {
  auto guard = cond_.scoped();
  break_barrier();
}

void barrier::break_barrier() {
  state_ = state::broken;
  cond_.notify_all();
}

std::size_t barrier::n_waiting() {
  auto guard = cond_.scoped();
  return state_ == state::filling ? count_ : 0;
}

bool barrier::broken() {
  auto guard = cond_.scoped();
  return state_ == state::broken;
}

std::ostream& operator<<(std::ostream& os, const barrier& b) {
  // Python: threading.Barrier.__repr__.
  bool broken = false;
  std::size_t waiting = 0;
  {
    auto guard = const_cast<barrier&>(b).cond_.scoped();  // one snapshot under the internal lock
    broken = b.state_ == barrier::state::broken;
    waiting = b.state_ == barrier::state::filling ? b.count_ : 0;
  }
  os << "<corio::threading::barrier at ";
  corio::detail::write_address(os, &b);
  if (broken) return os << ": broken>";
  return os << ": waiters=" << waiting << '/' << b.parties_ << '>';
}

}  // namespace corio::threading

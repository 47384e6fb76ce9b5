// Python: threading.Barrier.
#pragma once

#include <corio/exceptions.hpp>
#include <corio/threading/condition.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/lock.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <optional>

namespace corio::threading {

/// Python: threading.Barrier. `parties` threads meet at wait(); when the
/// last arrives, `action` (if any) runs once, in that thread, and then all
/// are released, each wait() returning a distinct index 0..parties-1 (TQ-13).
/// The barrier is cyclic: threads arriving while the others are still
/// leaving wait for the next round.
///
/// The barrier breaks when the action throws (that thread gets the action's
/// exception), when a wait times out, or on abort(). Every thread waiting then,
/// and every later wait(), throws corio::broken_barrier_error until reset().
/// Built as CPython's is, on a condition over a primitive lock; the action
/// runs with that lock held, so it must not use the barrier itself.
class barrier {
 public:
  /// Python: Barrier(parties, action=None, timeout=None). std::invalid_argument
  /// if parties == 0 or the timeout is negative.
  explicit barrier(std::size_t parties, std::function<void()> action = {},
                   std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  barrier(const barrier&) = delete;
  barrier& operator=(const barrier&) = delete;

  /// Python: Barrier.wait(). Waits at most the default timeout given at
  /// construction (none: for ever); returns this thread's arrival index.
  std::size_t wait() { return wait_for_round(timeout_); }
  /// Python: Barrier.wait(timeout). A timeout breaks the barrier and throws
  /// broken_barrier_error. std::invalid_argument if negative.
  template <class Rep, class Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_for_round(detail::checked_timeout(timeout, "barrier.wait"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  std::size_t wait(N) = delete;

  /// Python: Barrier.reset(). Back to the empty, unbroken state; threads
  /// waiting now get broken_barrier_error.
  void reset();
  /// Python: Barrier.abort(). Breaks the barrier: current and later waits
  /// throw broken_barrier_error until reset().
  void abort();

  /// Python: Barrier.parties.
  std::size_t parties() const noexcept { return parties_; }
  /// Python: Barrier.n_waiting: threads waiting in the current round.
  std::size_t n_waiting();
  /// Python: Barrier.broken.
  bool broken();
  /// Python: repr(barrier): `<corio::threading::barrier at 0x...: waiters=1/3>`,
  /// `<... : broken>`. Any thread.
  friend std::ostream& operator<<(std::ostream& os, const barrier& b);

 private:
  enum class state { filling, draining, resetting, broken };

  std::size_t wait_for_round(std::optional<detail::clock::duration> timeout);
  void enter();
  void release_round();
  void wait_released(std::optional<detail::clock::duration> timeout);
  void exit();
  void break_barrier();

  primitive_lock lock_;
  condition cond_{lock_};
  const std::size_t parties_;
  std::function<void()> action_;
  std::optional<detail::clock::duration> timeout_;
  state state_ = state::filling;
  std::size_t count_ = 0;
};

}  // namespace corio::threading

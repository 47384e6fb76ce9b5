// Timeouts of the threading primitives (and of corio::futures, above them),
// turned into steady-clock deadlines. Not for users.
//
// Every timed wait measures against an absolute deadline taken once, when the
// call starts, so spurious or unrelated wake-ups never extend it. Durations of
// any representation are accepted (Python's float seconds are
// std::chrono::duration<double>); they are rounded up to the clock's tick and
// saturate at time_point::max() ("wait for ever") instead of overflowing.
#pragma once

#include <chrono>
#include <concepts>
#include <type_traits>

namespace corio::threading::detail {

using clock = std::chrono::steady_clock;

/// A bare number where a timeout or a `blocking` flag is expected. Every
/// timed wait of threading has a `= delete` overload for it: `acquire(0.01)`
/// would otherwise convert to `acquire(true)` and block for ever, and a
/// number has no unit. Timeouts are std::chrono durations.
template <class N>
concept plain_number = std::is_arithmetic_v<N> && !std::same_as<N, bool>;

/// Throws std::invalid_argument("<what>: timeout must be non-negative")
/// (Python: ValueError).
[[noreturn]] void throw_negative_timeout(const char* what);

/// A non-negative `timeout` as a clock duration, rounded up and saturated.
template <class Rep, class Period>
clock::duration to_clock_duration(std::chrono::duration<Rep, Period> timeout) noexcept {
  using fsec = std::chrono::duration<long double>;
  if (fsec(timeout) >= fsec(clock::duration::max())) return clock::duration::max();
  return std::chrono::ceil<clock::duration>(timeout);
}

/// now + `d` (non-negative), saturated at time_point::max().
inline clock::time_point deadline_in(clock::duration d) noexcept {
  const clock::time_point now = clock::now();
  if (d >= clock::time_point::max() - now) return clock::time_point::max();
  return now + d;
}

/// `timeout` as a clock duration, rounded up and saturated; std::invalid_argument
/// if negative (or NaN).
template <class Rep, class Period>
clock::duration checked_timeout(std::chrono::duration<Rep, Period> timeout, const char* what) {
  if (!(timeout >= timeout.zero())) throw_negative_timeout(what);
  return to_clock_duration(timeout);
}

/// now + `timeout`, saturated at time_point::max(); std::invalid_argument if
/// `timeout` is negative.
template <class Rep, class Period>
clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout, const char* what) {
  return deadline_in(checked_timeout(timeout, what));
}

/// now + `timeout`, saturated at time_point::max(), where a timeout <= 0 (or
/// NaN) means now: a wait that only checks. concurrent.futures takes
/// timeouts so (Python: Future.result(timeout=-1) times out at once).
template <class Rep, class Period>
clock::time_point deadline_after_or_now(std::chrono::duration<Rep, Period> timeout) noexcept {
  if (!(timeout > timeout.zero())) return clock::now();
  return deadline_in(to_clock_duration(timeout));
}

/// A deadline on another clock (system_clock, say) as a steady-clock one: the
/// time left is measured once and then counted on the steady clock.
template <class Clock, class Duration>
clock::time_point to_steady(std::chrono::time_point<Clock, Duration> tp) {
  if constexpr (std::is_same_v<Clock, clock>) {
    using fsec = std::chrono::duration<long double>;
    const fsec since = tp.time_since_epoch();
    if (since != since) return clock::now();  // NaN: already due
    if (since >= fsec(clock::duration::max())) return clock::time_point::max();
    if (since <= fsec(clock::duration::min())) return clock::time_point::min();
    return std::chrono::ceil<clock::duration>(tp);
  } else {
    const auto left = tp - Clock::now();
    if (left <= left.zero()) return clock::now();
    return deadline_after(left, "deadline");
  }
}

}  // namespace corio::threading::detail

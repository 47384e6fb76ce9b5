// Loop time is a signed 64-bit count of nanoseconds. Durations and deadlines
// given by users (seconds::max(), 300 years, a double of 1e300) do not fit,
// and a wrapped sum would fire at once or in the past: every deadline the
// asyncio layer computes goes through these helpers, which round a duration
// up to whole nanoseconds and saturate instead of overflowing. A deadline
// that saturates high is kNeverNs: the timer is kept but never fires ("sleep
// forever" sleeps forever, also on a virtual clock). Not for users.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>
#include <utility>

namespace corio::detail {

inline constexpr std::int64_t kNeverNs = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kMinNs = std::numeric_limits<std::int64_t>::min();

/// `d` in nanoseconds, rounded up, saturated to [kMinNs, kNeverNs]; NaN is 0.
/// Integral durations cost a multiply and two compares (constant-folded for
/// literals such as sleep(0s)).
template <class Rep, class Period>
constexpr std::int64_t ns_ceil_saturated(std::chrono::duration<Rep, Period> d) noexcept {
  using per_ns = std::ratio_divide<Period, std::nano>;  // nanoseconds in one tick of d
  if constexpr (std::is_integral_v<Rep> && per_ns::den == 1) {
    constexpr std::intmax_t k = per_ns::num;
    const Rep c = d.count();
    if (std::cmp_greater(c, kNeverNs / k)) return kNeverNs;
    if (std::cmp_less(c, kMinNs / k)) return kMinNs;
    return static_cast<std::int64_t>(c) * k;
  } else {
    // Floating-point counts and ticks finer than a nanosecond.
    const long double ns = static_cast<long double>(d.count()) * per_ns::num / per_ns::den;
    if (ns != ns) return 0;
    if (ns >= static_cast<long double>(kNeverNs)) return kNeverNs;
    if (ns <= static_cast<long double>(kMinNs)) return kMinNs;
    auto whole = static_cast<std::int64_t>(ns);  // truncates toward zero
    if (static_cast<long double>(whole) < ns) ++whole;
    return whole;
  }
}

/// a + b saturated to [kMinNs, kNeverNs].
constexpr std::int64_t add_saturated(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kNeverNs : kMinNs;
  return r;
}

/// A time point of any steady_clock-based type as loop nanoseconds,
/// rounded up and saturated.
template <class Duration>
constexpr std::int64_t time_point_ns(std::chrono::time_point<std::chrono::steady_clock, Duration> tp) noexcept {
  return ns_ceil_saturated(tp.time_since_epoch());
}

}  // namespace corio::detail

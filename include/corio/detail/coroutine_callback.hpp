// Whether a callback returns a coroutine (corio::task<T>). An API that calls
// a callback and drops its result would only create such a coroutine, never
// run it (Python: call_soon raises TypeError("coroutines cannot be used with
// call_soon()")); those APIs refuse it with a static_assert. Not for users.
#pragma once

#include <type_traits>

namespace corio {

template <class T>
class task;

namespace detail {

template <class R>
inline constexpr bool is_coroutine_v = false;
template <class T>
inline constexpr bool is_coroutine_v<task<T>> = true;

/// fn(args...), with fn and args as the callback API stores them, returns a
/// coroutine. False when it cannot be called at all (the API says so first).
template <class F, class... A>
constexpr bool returns_coroutine() {
  if constexpr (std::is_invocable_v<F, A...>)
    return is_coroutine_v<std::remove_cvref_t<std::invoke_result_t<F, A...>>>;
  else
    return false;
}

}  // namespace detail
}  // namespace corio

// What a corio::threading::thread runs: a callable and its arguments, stored
// by value like std::thread's, and called once. Not for users.
#pragma once

#include <corio/detail/coroutine_callback.hpp>

#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace corio::threading::detail {

/// Type-erased, move-only `f(args...)`.
struct thread_target {
  thread_target() = default;
  thread_target(const thread_target&) = delete;
  thread_target& operator=(const thread_target&) = delete;
  virtual ~thread_target() = default;
  /// Calls the target; at most once, since the arguments are moved into it.
  virtual void invoke() = 0;
};

template <class F, class... Args>
struct bound_target final : thread_target {
  template <class G, class... A>
  explicit bound_target(G&& g, A&&... a) : f(std::forward<G>(g)), args(std::forward<A>(a)...) {}
  void invoke() override {
    std::apply([this](auto&... a) { std::invoke(std::move(f), std::move(a)...); }, args);
  }
  F f;
  std::tuple<Args...> args;
};

/// Copies (or moves) `f` and `args` into a target, in the calling thread, so
/// that a copy that throws throws here and not in the new thread (as
/// std::thread does). The call passes the copies as rvalues.
template <class F, class... Args>
std::unique_ptr<thread_target> make_target(F&& f, Args&&... args) {
  static_assert(std::is_invocable_v<std::decay_t<F>, std::decay_t<Args>...>,
                "corio::threading::thread: the target must be callable with the given arguments, "
                "passed as rvalue copies (use std::ref to pass a reference)");
  static_assert(!corio::detail::returns_coroutine<std::decay_t<F>, std::decay_t<Args>...>(),
                "corio::threading::thread: the target returns a coroutine, which would never run; "
                "run it on an event loop in the thread (corio::run(target()))");
  return std::make_unique<bound_target<std::decay_t<F>, std::decay_t<Args>...>>(std::forward<F>(f),
                                                                                 std::forward<Args>(args)...);
}

/// Selects thread's constructor that adopts a ready target.
struct adopt_target_t {
  explicit adopt_target_t() = default;
};

}  // namespace corio::threading::detail

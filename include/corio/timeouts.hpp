// Python: asyncio.timeout, asyncio.timeout_at, asyncio.Timeout
// (asyncio/timeouts.py) and asyncio.wait_for, built on them as in 3.12.
#pragma once

#include <corio/detail/scope_body.hpp>
#include <corio/detail/wait_set.hpp>
#include <corio/tasks.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {

/// Python: asyncio.Timeout, the object behind `async with timeout(...)`.
/// A deadline scope: when it passes, the task running the body is
/// cancelled, and the cancelled_error leaving the body becomes a
/// timeout_error whose nested exception (std::rethrow_if_nested) is that
/// cancelled_error (CB-22). Code inside sees the cancellation, so cleanup
/// runs (CB-23). A cancel from outside stays a cancellation (CB-26), and
/// nested scopes convert only their own deadline (CB-27, CX-13).
///
///   corio::timeout_scope cm(corio::get_running_loop().time() + 1s);
///   co_await cm.run([&](corio::timeout_scope& cm) -> corio::task<> {
///     cm.reschedule(cm.when().value() + 1s);
///     co_await long_operation();
///   });
///   bool late = cm.expired();
class timeout_scope {
 public:
  enum class state { created, entered, expiring, expired, exited };

  /// A deadline in loop time; nullopt: no deadline (CB-24).
  explicit timeout_scope(std::optional<time_point> when) noexcept : when_(when) {}
  timeout_scope(const timeout_scope&) = delete;
  timeout_scope& operator=(const timeout_scope&) = delete;
  ~timeout_scope() { h_.cancel(); }

  /// Python: Timeout.when().
  std::optional<time_point> when() const noexcept { return when_; }
  /// Python: Timeout.reschedule(when). Only while the body runs (CB-29).
  void reschedule(std::optional<time_point> when);
  /// Python: Timeout.expired(): the deadline fired.
  bool expired() const noexcept { return st_ == state::expiring || st_ == state::expired; }
  state current_state() const noexcept { return st_; }

  /// Runs body() (or body(*this)), a coroutine, inline in the current task
  /// under this deadline, and returns its result. Entering twice, or outside
  /// a task, throws std::runtime_error (CB-29).
  template <class F>
  auto run(F body);

  // -- the protocol of `async with`, for code that builds its own scopes ----
  void enter();
  // Exit after the body ended normally.
  void exit_ok() noexcept;
  // Exit from inside the catch handler for the body's exception: converts a
  // cancellation caused by this deadline into timeout_error, else rethrows.
  [[noreturn]] void exit_with_current_exception();

 private:
  void on_timeout();

  std::optional<time_point> when_;
  state st_ = state::created;
  detail::task_base* task_ = nullptr;  // not owning: the scope lives in that task
  std::uint32_t cancelling_ = 0;
  handle h_;
};

namespace detail {

template <class T, class F>
task<T> run_scoped(timeout_scope* scope, std::optional<time_point> when, F body) {
  std::optional<timeout_scope> local;
  if (!scope) scope = &local.emplace(when);
  scope->enter();
  try {
    if constexpr (std::is_void_v<T>) {
      co_await call_scope_body(body, *scope);
      scope->exit_ok();
      co_return;
    } else {
      T r = co_await call_scope_body(body, *scope);
      scope->exit_ok();
      co_return std::forward<T>(r);
    }
  } catch (...) {
    scope->exit_with_current_exception();
  }
}

template <class F>
using body_value_t = typename decltype(call_scope_body(std::declval<F&>(), std::declval<timeout_scope&>()))::value_type;

}  // namespace detail

template <class F>
auto timeout_scope::run(F body) {
  return detail::run_scoped<detail::body_value_t<F>>(this, when_, std::move(body));
}

/// Python: `async with asyncio.timeout(delay): ...`. Runs the coroutine
/// body() (or body(timeout_scope&)) inline under a deadline `delay` from now;
/// nullopt means no deadline. Throws timeout_error if the deadline fired.
template <class F>
auto timeout(std::optional<duration> delay, F body) {
  std::optional<time_point> when;
  if (delay) when = detail::deadline_after(*delay);
  return detail::run_scoped<detail::body_value_t<F>>(nullptr, when, std::move(body));
}
/// A `delay` past what loop time can count (seconds::max()) never fires.
template <class Rep, class Period, class F>
auto timeout(std::chrono::duration<Rep, Period> delay, F body) {
  return timeout(std::optional<duration>(detail::to_duration_saturated(delay)), std::move(body));
}

/// Python: `async with asyncio.timeout_at(when): ...`, `when` in loop time.
template <class F>
auto timeout_at(std::optional<time_point> when, F body) {
  return detail::run_scoped<detail::body_value_t<F>>(nullptr, when, std::move(body));
}

// -- wait_for -------------------------------------------------------------------

namespace detail {

// Cancels `f` and waits until it is done, without letting a cancel of the
// waiting task reach `f` (Python: tasks._cancel_and_wait).
task<> cancel_and_wait(core_ref f);

// Throws cancelled_error if the running task got a cancel request (beyond
// `cancelling_at_entry`) that nothing delivered: wait_for stays cancellable
// even when the awaited task swallows the cancellation (CB-20).
void raise_if_cancel_outstanding(std::uint32_t cancelling_at_entry);

template <class H>
task<typename H::value_type> wait_for_scheduled(H fut, std::optional<duration> t) {
  using T = typename H::value_type;
  if (t && t->count() <= 0) {
    // CB-19: no time at all: done already, or cancelled and TimeoutError.
    if (!fut.done()) co_await cancel_and_wait(core_ref(fut.core()));
    if (fut.cancelled()) {
      try {
        std::rethrow_exception(fut.core()->exc_slot());
      } catch (...) {
        std::throw_with_nested(timeout_error());
      }
    }
    if constexpr (std::is_void_v<T>)
      co_return fut.result();
    else
      co_return std::forward<T>(fut.result());
  }
  const std::uint32_t entry = current_task().cancelling();
  if constexpr (std::is_void_v<T>) {
    co_await timeout(t, [&]() -> task<> { co_await fut; });
    raise_if_cancel_outstanding(entry);
  } else {
    auto r = co_await timeout(t, [&]() -> task<T> { co_return co_await std::move(fut); });
    raise_if_cancel_outstanding(entry);
    co_return std::forward<T>(r);
  }
}

}  // namespace detail

/// Python: asyncio.wait_for(aw, timeout). Returns aw's result, or cancels aw
/// when the timeout passes, waits for it to finish cancelling, and throws
/// timeout_error (CB-16, CB-17); nullopt waits forever. If aw, while being
/// cancelled, raises something else, that propagates; if it swallows the
/// cancellation and returns, that value is returned (CB-18). Cancelling the
/// waiting task cancels aw and throws cancelled_error (CB-20).
///
/// A coroutine not yet scheduled runs inline, under the deadline, as in
/// Python 3.12; with timeout <= 0 it never starts (CB-19).
template <class T>
task<T> wait_for(task<T> aw, std::optional<duration> t) {
  if (aw.scheduled()) return detail::wait_for_scheduled(std::move(aw), t);
  if (t && t->count() <= 0) {
    return [](task<T>) -> task<T> {  // CB-19: the coroutine never runs
      try {
        throw cancelled_error();
      } catch (...) {
        std::throw_with_nested(timeout_error());
      }
    }(std::move(aw));
  }
  return timeout(t, [c = std::move(aw)]() mutable -> task<T> { co_return co_await std::move(c); });
}
template <class T>
task<T> wait_for(future<T> aw, std::optional<duration> t) {
  return detail::wait_for_scheduled(std::move(aw), t);
}
namespace detail {
template <class A>
using await_result_t = decltype(std::declval<A&>().operator co_await().await_resume());
template <class A>
inline constexpr bool is_task_or_future_v = false;
template <class T>
inline constexpr bool is_task_or_future_v<task<T>> = true;
template <class T>
inline constexpr bool is_task_or_future_v<future<T>> = true;
}  // namespace detail
/// wait_for on any other corio awaitable (a stream read, a lock's acquire,
/// a queue's get): it runs in a coroutine under the deadline.
template <awaitable A>
  requires(!detail::is_task_or_future_v<std::remove_cvref_t<A>>)
auto wait_for(A aw, std::optional<duration> t) {
  using R = detail::await_result_t<A>;
  return wait_for(
      [](A a) -> task<R> {
        if constexpr (std::is_void_v<R>)
          co_await a;
        else
          co_return co_await a;
      }(std::move(aw)),
      t);
}
template <class A, class Rep, class Period>
auto wait_for(A&& aw, std::chrono::duration<Rep, Period> t) {
  return wait_for(std::forward<A>(aw), std::optional<duration>(detail::to_duration_saturated(t)));
}

}  // namespace corio

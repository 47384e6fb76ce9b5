// Python: asyncio.run and asyncio.Runner (asyncio/runners.py).
#pragma once

#include <corio/contextvars.hpp>
#include <corio/events.hpp>
#include <corio/tasks.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

// EL-28 for one runner::run: on the main thread, with SIGINT at its default
// disposition, SIGINT cancels the main task (Python: Runner._on_sigint). A
// second SIGINT while the first is being handled, or one after the main
// task is done, raises keyboard_interrupt out of the loop at once. The
// earlier disposition comes back when the guard goes.
class sigint_guard {
 public:
  sigint_guard(event_loop& loop, const any_task& main);
  ~sigint_guard();
  sigint_guard(const sigint_guard&) = delete;
  sigint_guard& operator=(const sigint_guard&) = delete;
  // The main task ended cancelled: throws keyboard_interrupt if SIGINT did
  // it and nobody withdrew that cancel (Python: task.uncancel() == 0).
  void rethrow_if_interrupted(any_task& main);

 private:
  struct state;
  event_loop* loop_;
  std::shared_ptr<state> state_;
};

}  // namespace detail

/// Python: asyncio.Runner. Owns one event loop and runs coroutines on it,
/// one run() after another (EL-27); close() (or the destructor) cancels
/// what is left, waits for it, and closes the loop.
class runner {
 public:
  explicit runner(loop_options opts = {}) : opts_(opts) {}
  runner(const runner&) = delete;
  runner& operator=(const runner&) = delete;
  /// Closes the runner if close() was not called. An exception that close()
  /// would throw (a task answering the shutdown's cancellation with
  /// system_exit, say) cannot leave a destructor: it is written to stderr.
  /// Call close() to receive it.
  ~runner();

  /// Python: Runner.run(coro). Runs the coroutine as a task to completion and
  /// returns its result or rethrows its exception. Throws std::runtime_error
  /// after close() or when called from a running loop.
  ///
  /// Ctrl-C (EL-28): on the main thread, unless the program handles or
  /// ignores SIGINT itself, SIGINT cancels the main task; if it then ends
  /// cancelled, run() throws keyboard_interrupt. A second SIGINT while the
  /// first is handled throws keyboard_interrupt out of the loop at once.
  /// A SIGINT handler added with loop.add_signal_handler takes precedence.
  template <class T>
  T run(task<T> main) {
    event_loop& loop = prepare_run();
    // EL-27: every run() uses the runner's one context.
    task_options opts;
    opts.context = &context_;
    task<T> t = loop.create_task(std::move(main), std::move(opts));
    detail::sigint_guard sigint(loop, t);
    try {
      return loop.run_until_complete(t);
    } catch (const cancelled_error&) {
      sigint.rethrow_if_interrupted(t);
      throw;
    }
  }

  /// Python: Runner.get_loop(). Creates the loop on first use.
  event_loop& get_loop();
  /// Python: Runner.close(). Cancels the tasks still pending and waits for
  /// them, closes the async generators still open (shutdown_asyncgens),
  /// shuts the default executor down and closes the loop. Idempotent.
  /// A fatal exception (system_exit, keyboard_interrupt) that a task raises
  /// while being cancelled propagates, after the loop is closed.
  void close();

 private:
  event_loop& prepare_run();
  loop_options opts_;
  corio::context context_ = copy_context();
  std::optional<event_loop> loop_;
  bool closed_ = false;
};

namespace detail {

// corio::run is an object rather than an overload set, so that it can be
// passed on as a thread's target: std::thread th(corio::run, amain()).
struct run_fn {
  template <class T>
  T operator()(task<T> main, loop_options opts = {}) const {
    runner r(opts);
    // Closed here rather than by ~runner, so that what the shutdown raises
    // reaches the caller (Python: Runner.__exit__ inside asyncio.run). If
    // main failed too, the shutdown's exception wins, as it does in Python.
    if constexpr (std::is_void_v<T>) {
      try {
        r.run(std::move(main));
      } catch (...) {
        r.close();
        throw;
      }
      r.close();
    } else {
      // A reference result is kept as a pointer until the runner is closed.
      using held = std::conditional_t<std::is_reference_v<T>, std::remove_reference_t<T>*, T>;
      std::optional<held> result;
      try {
        if constexpr (std::is_reference_v<T>)
          result.emplace(&r.run(std::move(main)));
        else
          result.emplace(r.run(std::move(main)));
      } catch (...) {
        r.close();
        throw;
      }
      r.close();
      if constexpr (std::is_reference_v<T>)
        return static_cast<T>(**result);
      else
        return std::move(*result);
    }
  }

  template <class F, class... A>
    requires std::is_invocable_v<F, A...>
  auto operator()(F&& fn, A&&... args) const {
    return (*this)(std::invoke(std::forward<F>(fn), std::forward<A>(args)...));
  }
};

}  // namespace detail

/// Python: asyncio.run(main). A new loop runs `main` (a coroutine, or a
/// callable returning one, with its arguments) to completion; then the tasks
/// still pending are cancelled and awaited, errors they end with are reported
/// through the exception handler, the async generators still open are
/// closed (loop.shutdown_asyncgens), and the loop is closed (EL-25). Returns
/// main's result or rethrows its exception; an exception the shutdown
/// raises (a task answering the cancellation with system_exit) reaches the
/// caller too. Throws std::runtime_error when called from a running loop
/// (EL-26). A function object: `std::thread th(corio::run, amain());` works.
///
///   corio::run(amain());
///   corio::run(amain(), opts);          // with loop_options
///   corio::run(handler, port);          // handler(port) returns a task
inline constexpr detail::run_fn run{};

}  // namespace corio

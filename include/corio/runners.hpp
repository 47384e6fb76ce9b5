// Python: asyncio.run and asyncio.Runner (asyncio/runners.py).
#pragma once

#include <corio/contextvars.hpp>
#include <corio/events.hpp>
#include <corio/tasks.hpp>

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
  ~runner() { close(); }

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
  /// Python: Runner.close(). Idempotent.
  void close();

 private:
  event_loop& prepare_run();
  loop_options opts_;
  corio::context context_ = copy_context();
  std::optional<event_loop> loop_;
  bool closed_ = false;
};

/// Python: asyncio.run(main). A new loop runs `main` (a coroutine, or a
/// callable returning one, with its arguments) to completion; then the tasks
/// still pending are cancelled and awaited, errors they end with are reported
/// through the exception handler, and the loop is closed (EL-25). Returns
/// main's result or rethrows its exception. Throws std::runtime_error when
/// called from a running loop (EL-26).
template <class T>
T run(task<T> main, loop_options opts = {}) {
  runner r(opts);
  return r.run(std::move(main));
}
template <class F, class... A>
  requires std::is_invocable_v<F, A...>
auto run(F&& fn, A&&... args) {
  return run(std::invoke(std::forward<F>(fn), std::forward<A>(args)...));
}

}  // namespace corio

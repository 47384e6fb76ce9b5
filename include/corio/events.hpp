// The event loop (Python: asyncio.AbstractEventLoop / BaseEventLoop,
// asyncio.Handle, asyncio.TimerHandle, get_running_loop, get_event_loop).
#pragma once

#include <corio/detail/coroutine_callback.hpp>
#include <corio/detail/loop_core.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace corio {

/// The loop's clock (Python: time.monotonic).
using clock = std::chrono::steady_clock;
/// Loop time differences; any std::chrono duration converts to it.
using duration = std::chrono::nanoseconds;
/// A point in loop time (Python: the float loop.time() returns).
using time_point = std::chrono::time_point<clock, duration>;

template <class T = void>
class task;
template <class T = void>
class future;
class any_task;
class context;
namespace futures {
class executor;
class thread_pool_executor;
}  // namespace futures

/// Options for create_task (Python: create_task's name=, context=,
/// eager_start=).
struct task_options {
  std::string name;            ///< default: "Task-<n>"
  bool eager_start = false;    ///< run the first step inside create_task (3.12+)
  corio::context* context = nullptr;  ///< run in this Context (CV-07); default: a copy of the current one
};

/// A callback scheduled with call_soon (Python: asyncio.Handle).
class handle {
 public:
  handle() noexcept = default;
  explicit handle(detail::handle_node* n) noexcept : n_(n) {}
  handle(const handle& o) noexcept : n_(o.n_) {
    if (n_) n_->retain();
  }
  handle(handle&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  handle& operator=(handle o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~handle() {
    if (n_) n_->release();
  }

  /// Python: Handle.cancel(). The callback will not run; what it captured is
  /// destroyed now (for call_soon_threadsafe handles: when the loop next
  /// looks at it). No effect once it ran (EL-04). Loop thread only, except
  /// for handles from call_soon_threadsafe, which any thread may cancel.
  void cancel();
  /// Python: Handle.cancelled().
  bool cancelled() const noexcept { return n_ && n_->cancelled(); }
  explicit operator bool() const noexcept { return n_ != nullptr; }

  /// Python: repr(handle): `<Handle cb>` and `<TimerHandle when=1.5 cb>`,
  /// where cb is the callable's type (a function pointer type, or the
  /// lambda's name, `main()::{lambda()#1}`), or "callback" where the
  /// program's symbol table cannot say; `<Handle cancelled>` and
  /// `<TimerHandle cancelled when=1.5>` once cancelled. `when` is loop time
  /// in seconds ("never" for a deadline past loop time's range).
  friend std::ostream& operator<<(std::ostream& os, const handle& h);

 protected:
  detail::handle_node* n_ = nullptr;
};

/// A callback scheduled with call_later / call_at (Python: asyncio.TimerHandle).
class timer_handle : public handle {
 public:
  using handle::handle;
  /// Python: TimerHandle.when(), in loop time.
  time_point when() const noexcept;
};

/// Python: asyncio event loop. One loop per thread, used from that thread
/// only (docs/design.md, principle 2); call_soon_threadsafe is the door in from
/// other threads.
class event_loop : private detail::loop_core {
 public:
  event_loop() : event_loop(loop_options{}) {}
  explicit event_loop(const loop_options& opts);
  /// Closes the loop if it is not closed yet. Must not be running.
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  // -- scheduling callbacks (EL-01..EL-08) --------------------------------------

  /// Python: loop.call_soon(fn, *args). Runs fn(args...) in a later loop
  /// iteration, in FIFO order with other callbacks.
  template <class F, class... A>
  handle call_soon(F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                  "corio::event_loop::call_soon: fn must be callable with the given arguments");
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, std::decay_t<A>&...>(),
                  "corio::event_loop::call_soon: fn returns a coroutine, which would never run; "
                  "schedule it with create_task (in the callback, or instead of it)");
    check_open();
    check_thread("call_soon");
    auto* n = detail::make_handle_node<detail::handle_node>(bind(std::forward<F>(fn), std::forward<A>(args)...));
    schedule_handle(n);
    return handle(n);
  }

  /// Python: loop.call_soon_threadsafe(fn, *args). Safe from any thread;
  /// wakes the loop if it is waiting (TH-01).
  template <class F, class... A>
  handle call_soon_threadsafe(F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                  "corio::event_loop::call_soon_threadsafe: fn must be callable with the given arguments");
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, std::decay_t<A>&...>(),
                  "corio::event_loop::call_soon_threadsafe: fn returns a coroutine, which would never run; "
                  "use run_coroutine_threadsafe, or call create_task in the callback");
    auto* n = detail::make_handle_node<detail::handle_node>(bind(std::forward<F>(fn), std::forward<A>(args)...));
    n->kind = detail::node_kind::threadsafe_handle;
    schedule_threadsafe(n);
    return handle(n);
  }

  /// Python: loop.call_later(delay, fn, *args). A negative delay means "due
  /// now"; a delay too long for loop time (past the year 2262 of the loop's
  /// clock, say hours::max()) means never: the handle exists, its when() is
  /// time_point::max(), and the callback never runs.
  template <class Rep, class Period, class F, class... A>
  timer_handle call_later(std::chrono::duration<Rep, Period> delay, F&& fn, A&&... args) {
    return schedule_at(detail::add_saturated(now_ns(), detail::ns_ceil_saturated(delay)), "call_later",
                       std::forward<F>(fn), std::forward<A>(args)...);
  }

  /// Python: loop.call_at(when, fn, *args), `when` in loop time (any
  /// steady_clock time_point; time_point::max() means never).
  template <class Duration, class F, class... A>
  timer_handle call_at(std::chrono::time_point<clock, Duration> when, F&& fn, A&&... args) {
    return schedule_at(detail::time_point_ns(when), "call_at", std::forward<F>(fn), std::forward<A>(args)...);
  }

  /// Python: loop.time(). Monotonic; with clock_kind::virtual_ it starts at 0.
  time_point time() const noexcept { return time_point(duration(now_ns())); }

  // -- running (EL-13..EL-19) ---------------------------------------------------

  /// Python: loop.run_forever(). Runs until stop().
  void run_forever() { loop_core::run_forever(); }
  /// Python: loop.run_until_complete(aw). A coroutine (task<T>) is wrapped in
  /// a task; returns the result or rethrows the exception. Defined in tasks.hpp.
  template <class A>
  decltype(auto) run_until_complete(A&& aw);
  /// Python: loop.stop(). The current iteration finishes first (EL-16).
  void stop() noexcept { loop_core::stop(); }
  /// Python: loop.close(). Discards pending callbacks; pending tasks the loop
  /// alone held are destroyed and reported (EL-19, TK-13).
  void close() { loop_core::close(); }
  bool is_running() const noexcept { return loop_core::is_running(); }
  bool is_closed() const noexcept { return loop_core::is_closed(); }

  // -- futures and tasks ---------------------------------------------------------

  /// Python: loop.create_future(). Defined in futures.hpp.
  template <class T = void>
  future<T> create_future();
  /// Python: loop.create_task(coro, name=...). Defined in tasks.hpp.
  // (No defaulted options argument: GCC 12 miscompiles a defaulted argument
  // holding a std::string inside a co_await operand, and
  // `co_await loop.create_task(f())` is the everyday idiom.)
  template <class T>
  task<T> create_task(task<T> coro, task_options opts);
  template <class T>
  task<T> create_task(task<T> coro);

  /// Python: loop.set_task_factory(). The factory sees every task created
  /// on this loop before it is scheduled and may change its options (name,
  /// eager start). An empty function restores the default.
  using task_factory = std::function<void(event_loop&, any_task&, task_options&)>;
  void set_task_factory(task_factory f) { factory_ = std::move(f); }
  const task_factory& get_task_factory() const noexcept { return factory_; }

  // -- executors (TH-05, TH-06, TH-10): defined in threads.hpp ----------------------

  /// Python: loop.run_in_executor(executor, fn, *args): runs fn(args...) in
  /// `executor` (nullptr: the loop's default thread pool, made on first use)
  /// and returns a loop future for its result. Cancelling that future cancels
  /// the job if it has not started; a running job finishes, and its result
  /// is dropped (TH-07). Needs <corio/threads.hpp>.
  template <class F, class... A>
  auto run_in_executor(futures::executor* executor, F&& fn, A&&... args);
  /// The same with an executor of a derived type: its own submit() is
  /// called, so an executor whose calls cross a process (a
  /// process_pool_executor, whose submit encodes the call) works too.
  template <class Ex, class F, class... A>
    requires(std::is_base_of_v<futures::executor, Ex> && !std::is_same_v<std::remove_cv_t<Ex>, futures::executor>)
  auto run_in_executor(Ex* executor, F&& fn, A&&... args);
  /// Python: loop.set_default_executor(executor). Only a thread pool is
  /// accepted (TH-06), which the type says here.
  void set_default_executor(std::shared_ptr<futures::thread_pool_executor> executor);
  /// The executor run_in_executor(nullptr, ...) uses; made on first use.
  /// Throws std::runtime_error after shutdown_default_executor() (TH-10).
  futures::executor& default_executor();
  /// Python: `await loop.shutdown_default_executor()`: waits, from a helper
  /// thread, until the default executor's threads have finished (TH-10).
  /// corio::run calls it.
  task<void> shutdown_default_executor();

  // -- async generators (async_generator.cpp) --------------------------------------

  /// Python: `await loop.shutdown_asyncgens()` (EL-25). Closes every async
  /// generator first iterated on this loop that has not finished and still
  /// exists: each one's aclose() runs in the awaiting task, the most recently
  /// started first (one owned by another's frame is closed before its owner),
  /// one after another. What an aclose() raises goes to the exception handler
  /// ("an error occurred during closing of asynchronous generator ..."); a
  /// cancellation of the awaiting task stops the shutdown. A generator first
  /// iterated afterwards is reported to the exception handler. corio::run and
  /// runner::close call it after cancelling the remaining tasks.
  task<void> shutdown_asyncgens();

  // -- Unix signals (signals.cpp) -------------------------------------------------

  /// Python: loop.add_signal_handler(sig, callback, *args). Each time `sig`
  /// is caught, fn(args...) is queued like call_soon and runs on this loop's
  /// thread (never inside the signal handler). Replaces this loop's earlier
  /// handler for `sig`. Works in any thread, with the loop running or not;
  /// one signal belongs to one loop at a time. Throws std::invalid_argument
  /// for a signal number that does not exist or cannot be caught (SIGKILL,
  /// SIGSTOP), std::runtime_error if the loop is closed or another loop
  /// handles `sig`.
  template <class F, class... A>
  void add_signal_handler(int sig, F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                  "corio::event_loop::add_signal_handler: fn must be callable with the given arguments");
    static_assert(std::is_copy_constructible_v<std::decay_t<F>>,
                  "corio::event_loop::add_signal_handler: fn must be copyable (it is kept in a std::function)");
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, std::decay_t<A>&...>(),
                  "corio::event_loop::add_signal_handler: fn returns a coroutine, which would never run; "
                  "call create_task in the callback");
    set_signal_handler(sig, std::function<void()>(bind(std::forward<F>(fn), std::forward<A>(args)...)));
  }
  /// Python: loop.remove_signal_handler(sig). Restores the disposition `sig`
  /// had before this loop took it; false if this loop had no handler for it.
  /// Throws std::invalid_argument for a signal number that does not exist.
  bool remove_signal_handler(int sig);

  // -- watching file descriptors (fd_watchers.cpp) -------------------------------

  /// Python: loop.add_reader(fd, callback, *args). While `fd` is readable
  /// (or at end of file, or in error) fn(args...) is queued like call_soon,
  /// once per loop iteration, until remove_reader(fd): level-triggered, as
  /// with Python's selectors. One reader per fd: a second add_reader
  /// replaces the first. The fd stays the caller's; remove the reader
  /// before closing it. Throws std::invalid_argument for a negative fd,
  /// std::runtime_error if the loop is closed.
  template <class F, class... A>
  void add_reader(int fd, F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                  "corio::event_loop::add_reader: fn must be callable with the given arguments");
    static_assert(std::is_copy_constructible_v<std::decay_t<F>>,
                  "corio::event_loop::add_reader: fn must be copyable (it is kept in a std::function)");
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, std::decay_t<A>&...>(),
                  "corio::event_loop::add_reader: fn returns a coroutine, which would never run; "
                  "call create_task in the callback");
    set_fd_watcher(fd, false, std::function<void()>(bind(std::forward<F>(fn), std::forward<A>(args)...)));
  }
  /// Python: loop.remove_reader(fd): false if no reader was registered.
  bool remove_reader(int fd) { return clear_fd_watcher(fd, false); }
  /// Python: loop.add_writer(fd, callback, *args): as add_reader, while
  /// `fd` is writable.
  template <class F, class... A>
  void add_writer(int fd, F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                  "corio::event_loop::add_writer: fn must be callable with the given arguments");
    static_assert(std::is_copy_constructible_v<std::decay_t<F>>,
                  "corio::event_loop::add_writer: fn must be copyable (it is kept in a std::function)");
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, std::decay_t<A>&...>(),
                  "corio::event_loop::add_writer: fn returns a coroutine, which would never run; "
                  "call create_task in the callback");
    set_fd_watcher(fd, true, std::function<void()>(bind(std::forward<F>(fn), std::forward<A>(args)...)));
  }
  /// Python: loop.remove_writer(fd): false if no writer was registered.
  bool remove_writer(int fd) { return clear_fd_watcher(fd, true); }

  // -- errors (EL-10, EL-11) --------------------------------------------------

  using exception_handler = std::function<void(event_loop&, const exception_context&)>;
  /// Python: loop.set_exception_handler(). An empty function restores the default.
  void set_exception_handler(exception_handler h) { handler_ = std::move(h); }
  const exception_handler& get_exception_handler() const noexcept { return handler_; }
  /// Python: loop.call_exception_handler(context).
  void call_exception_handler(const exception_context& ctx) noexcept { loop_core::call_exception_handler(ctx); }
  /// Python: loop.default_exception_handler(context). Logs to stderr.
  void default_exception_handler(const exception_context& ctx) noexcept {
    loop_core::default_exception_handler(ctx);
  }

  // -- debug mode (EL-20, EL-22) ------------------------------------------------

  /// Python: loop.set_debug(). Also on when CORIO_DEBUG=1.
  void set_debug(bool on) noexcept { loop_core::set_debug(on); }
  bool get_debug() const noexcept { return loop_core::debug(); }
  /// Python: loop.slow_callback_duration (0.1 s by default).
  duration slow_callback_duration() const noexcept { return duration(slow_callback_ns_); }
  void set_slow_callback_duration(duration d) noexcept { slow_callback_ns_ = d.count(); }

  /// Number of tasks of this loop that are not done.
  std::size_t pending_task_count() const noexcept { return registry().size(); }
  /// Name of the I/O backend in use ("epoll", "io_uring").
  const char* backend_name() const noexcept;

  /// With clock_kind::virtual_: moves loop time forward by d.
  void advance_time(duration d);

 private:
  using loop_core::check_can_run;
  friend detail::loop_core& detail_core(event_loop& l) noexcept;
  friend event_loop& detail_loop(detail::loop_core& c) noexcept;

  void set_signal_handler(int sig, std::function<void()> fn);
  void set_fd_watcher(int fd, bool write, std::function<void()> fn);
  bool clear_fd_watcher(int fd, bool write);

  template <class F, class... A>
  timer_handle schedule_at(std::int64_t when_ns, const char* what, F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&, std::decay_t<A>&...>,
                  "corio::event_loop::call_at / call_later: fn must be callable with the given arguments");
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, std::decay_t<A>&...>(),
                  "corio::event_loop::call_at / call_later: fn returns a coroutine, which would never run; "
                  "call create_task in the callback");
    check_open();
    check_thread(what);
    auto* n = detail::make_handle_node<detail::timer_handle_node>(bind(std::forward<F>(fn), std::forward<A>(args)...));
    n->when = when_ns;
    schedule_timer_handle(n);
    return timer_handle(n);
  }

  template <class F, class... A>
  static auto bind(F&& fn, A&&... args) {
    if constexpr (sizeof...(A) == 0) {
      return std::forward<F>(fn);
    } else {
      return [f = std::forward<F>(fn), ... a = std::forward<A>(args)]() mutable { std::invoke(f, a...); };
    }
  }

  task_factory factory_;
};

inline detail::loop_core& detail_core(event_loop& l) noexcept { return l; }
inline event_loop& detail_loop(detail::loop_core& c) noexcept { return static_cast<event_loop&>(c); }

/// Python: asyncio.get_running_loop(). Throws std::runtime_error when no loop
/// runs in this thread (EL-21).
event_loop& get_running_loop();

namespace detail {
/// `d` as loop-time nanoseconds, rounded up and saturated (see saturate.hpp).
template <class Rep, class Period>
constexpr duration to_duration_saturated(std::chrono::duration<Rep, Period> d) noexcept {
  return duration(ns_ceil_saturated(d));
}
/// The running loop's time + `d`, saturated: time_point::max() means never.
inline time_point deadline_after(duration d) {
  return time_point(duration(add_saturated(get_running_loop().time().time_since_epoch().count(), d.count())));
}
}  // namespace detail

/// Python: asyncio.get_event_loop(): the running loop, else the loop set for
/// this thread with set_event_loop(); throws std::runtime_error if neither
/// (it never creates one, as Python 3.14; 3.11 to 3.13 did, see the
/// departures in python-mapping.md).
event_loop& get_event_loop();
/// Python: asyncio.set_event_loop(). Null clears it. Not owning.
void set_event_loop(event_loop* loop) noexcept;

}  // namespace corio

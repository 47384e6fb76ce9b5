// Python: concurrent.futures.Future (concurrent/futures/_base.py).
//
// A thread-safe slot for the outcome of a call that runs somewhere else (an
// executor's worker, another thread): a value, an exception, or cancellation.
// Unlike corio::future (asyncio), it is bound to no loop, every member may
// be called from any thread, and result() blocks the calling thread.
#pragma once

#include <corio/detail/coroutine_callback.hpp>
#include <corio/detail/repr.hpp>
#include <corio/exceptions.hpp>
#include <corio/futures/detail/future_state.hpp>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <iosfwd>
#include <type_traits>
#include <typeinfo>
#include <utility>

namespace corio::futures {

namespace detail {
template <class T>
struct result_ref {
  using type = const T&;
};
template <>
struct result_ref<void> {
  using type = void;
};
// Python: concurrent.futures.Future.__repr__ (future.cpp); `value_type`
// names what a finished future returned.
void write_future(std::ostream& os, const state_base* s, const std::type_info& value_type);
}  // namespace detail

/// Python: concurrent.futures.Future. A copyable handle to shared state, like
/// a Python reference: copies are the same future (operator== compares
/// identity). Thread-safe: any member may be called from any thread at any
/// time, except that take_result() must not race with result() on a value.
///
/// States (CF-01): PENDING, RUNNING (an executor started the call), then done:
/// CANCELLED or FINISHED (with a value or an exception).
///
/// `T` is void, a value type, or a move-only type. A moved-from handle is
/// empty: only assignment, destruction and valid() may be used on it.
template <class T = void>
class future {
  static_assert(!std::is_reference_v<T>, "corio::futures::future<T>: T must not be a reference; use a pointer or std::reference_wrapper");
  static_assert(std::is_void_v<T> || std::is_destructible_v<T>, "corio::futures::future<T>: T must be destructible");
  using state = detail::state<T>;
  using result_ref = typename detail::result_ref<T>::type;

 public:
  using value_type = T;

  /// Python: Future(): a new PENDING future, to be completed by set_result()
  /// or set_exception().
  future() : s_(new state()) {}
  future(const future& o) noexcept : s_(o.s_) {
    if (s_) s_->retain();
  }
  future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  future& operator=(const future& o) noexcept {
    future(o).swap(*this);
    return *this;
  }
  future& operator=(future&& o) noexcept {
    future(std::move(o)).swap(*this);
    return *this;
  }
  ~future() {
    if (s_) s_->release();
  }
  void swap(future& o) noexcept { std::swap(s_, o.s_); }

  /// False for a moved-from handle.
  bool valid() const noexcept { return s_ != nullptr; }
  explicit operator bool() const noexcept { return s_ != nullptr; }

  /// Python: Future.done(): cancelled or finished (CF-01).
  bool done() const noexcept { return s_->done(); }
  /// Python: Future.running(): an executor is running the call (CF-01).
  bool running() const noexcept { return s_->running(); }
  /// Python: Future.cancelled() (CF-01).
  bool cancelled() const noexcept { return s_->cancelled(); }

  /// Python: Future.cancel(). True if the future was PENDING (it is now
  /// cancelled, and its callbacks ran in this thread) or already cancelled;
  /// false if it is running or finished: a running call cannot be stopped
  /// (CF-02, CF-05).
  bool cancel() noexcept { return s_->cancel(); }

  /// Python: Future.result(timeout=None). Blocks until done, then returns the
  /// value or throws: the stored exception, corio::cancelled_error if
  /// cancelled, corio::invalid_state_error if the value was taken (CF-03).
  result_ref result() const {
    s_->wait_done(nullptr);
    return get();
  }
  /// Python: Future.result(timeout). corio::timeout_error if not done within
  /// `timeout` (which does not cancel anything); a timeout <= 0 only checks.
  template <class Rep, class Period>
  result_ref result(std::chrono::duration<Rep, Period> timeout) const {
    const detail::clock::time_point deadline = detail::deadline_after_or_now(timeout);
    if (!s_->wait_done(&deadline)) detail::throw_timeout("future.result()");
    return get();
  }

  /// Waits like result(), then moves the value out (for move-only T). A later
  /// result() or take_result() throws corio::invalid_state_error.
  T take_result() {
    s_->wait_done(nullptr);
    return take();
  }
  template <class Rep, class Period>
  T take_result(std::chrono::duration<Rep, Period> timeout) {
    const detail::clock::time_point deadline = detail::deadline_after_or_now(timeout);
    if (!s_->wait_done(&deadline)) detail::throw_timeout("future.take_result()");
    return take();
  }

  /// Python: Future.exception(timeout=None). Blocks until done; the stored
  /// exception, or nullptr on success; corio::cancelled_error if cancelled
  /// (CF-03).
  std::exception_ptr exception() const {
    s_->wait_done(nullptr);
    return s_->exception_of();
  }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    const detail::clock::time_point deadline = detail::deadline_after_or_now(timeout);
    if (!s_->wait_done(&deadline)) detail::throw_timeout("future.exception()");
    return s_->exception_of();
  }

  /// Python: Future.add_done_callback(fn). `fn(const future&)` (or
  /// `fn(future)`) runs once the future is done: in the thread that completes
  /// or cancels it, in registration order (CF-05), or at once in this thread
  /// if it is already done (CF-06). An exception from fn is reported to
  /// stderr and the other callbacks still run (CF-07). fn may be move-only.
  template <class F>
  void add_done_callback(F&& fn) {
    using Fn = std::decay_t<F>;
    static_assert(std::is_invocable_v<Fn&, const future&>,
                  "corio::futures::future::add_done_callback: fn must be callable as fn(const future<T>&)");
    static_assert(!corio::detail::returns_coroutine<Fn&, const future&>(),
                  "corio::futures::future::add_done_callback: fn returns a coroutine, which would never run "
                  "(and the callback may run on any thread); use run_coroutine_threadsafe in it");
    if (s_->done()) {
      Fn local(std::forward<F>(fn));
      call_logged(local, *this);
      return;
    }
    auto* node = new callback<Fn>(std::forward<F>(fn));
    if (!s_->add_callback(node)) node->fire(node, s_);  // done meanwhile: run it here
  }

  // -- producer side (Python: "for Executor implementations and unit tests") --

  /// Python: Future.set_running_or_notify_cancel(). PENDING -> RUNNING and
  /// true; if cancelled, remembers that the cancellation was seen and returns
  /// false. corio::invalid_state_error if running or finished.
  bool set_running_or_notify_cancel() { return s_->set_running_or_notify_cancel(); }

  /// Python: Future.set_result(result). Builds the value from `value`; wakes
  /// the waiters and runs the callbacks in this thread. invalid_state_error
  /// if already done (CF-04).
  template <class... U>
  void set_result(U&&... value) {
    if constexpr (std::is_void_v<T>) {
      static_assert(sizeof...(U) == 0, "corio::futures::future<void>::set_result takes no value");
      if (!s_->finish_plain()) detail::throw_invalid_state("set_result: the future is already done");
    } else {
      static_assert(std::is_constructible_v<T, U&&...>, "corio::futures::future<T>::set_result: T is not constructible from these arguments");
      if (!s_->lock_if_settable()) detail::throw_invalid_state("set_result: the future is already done");
      s_->emplace_and_publish(std::forward<U>(value)...);
    }
  }
  /// Python: Future.set_exception(exception). invalid_state_error if already
  /// done (CF-04); std::invalid_argument for a null exception_ptr.
  void set_exception(std::exception_ptr e) { s_->set_exception(std::move(e)); }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  void set_exception(E&& e) {
    s_->set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }

  /// Identity of the shared state: equal for copies of one future.
  const void* id() const noexcept { return s_; }
  /// Python: repr(future) of concurrent.futures: `<Future at 0x... state=running>`,
  /// `<Future at 0x... state=finished returned int>`, `<Future at 0x...
  /// state=finished raised std::runtime_error>` (types only, as Python's).
  /// Any thread.
  friend std::ostream& operator<<(std::ostream& os, const future& f) {
    if constexpr (std::is_void_v<T>)
      detail::write_future(os, f.s_, typeid(void));
    else
      detail::write_future(os, f.s_, typeid(T));
    return os;
  }
  friend bool operator==(const future& a, const future& b) noexcept { return a.s_ == b.s_; }

 private:
  friend struct detail::access;
  struct adopt_t {};
  future(state* s, adopt_t) noexcept : s_(s) {}

  result_ref get() const {
    s_->check_value();
    if constexpr (!std::is_void_v<T>) return s_->value;
  }
  T take() {
    s_->check_value();
    if constexpr (!std::is_void_v<T>) {
      s_->mark_taken();
      return T(std::move(s_->value));
    }
  }

  template <class Fn>
  static void call_logged(Fn& fn, const future& f) noexcept {
    try {
      std::invoke(fn, f);
    } catch (...) {
      detail::log_callback_exception(f.id(), std::current_exception());
    }
  }

  template <class Fn>
  struct callback final : detail::callback_node {
    Fn fn;
    template <class F>
    explicit callback(F&& f) : fn(std::forward<F>(f)) {
      this->fire = &fire_impl;
    }
    static void fire_impl(detail::callback_node* n, detail::state_base* s) noexcept {
      auto* self = static_cast<callback*>(n);
      if (s) {
        s->retain();
        const future f(static_cast<state*>(s), adopt_t{});
        call_logged(self->fn, f);
      }
      delete self;
    }
  };

  state* s_;
};

namespace detail {
// Internal access to a handle's state, for wait(), as_completed() and executors.
struct access {
  template <class T>
  static state<T>* get(const future<T>& f) noexcept {
    return f.s_;
  }
  // Wraps `s`, taking over one reference.
  template <class T>
  static future<T> adopt(state<T>* s) noexcept {
    return future<T>(s, typename future<T>::adopt_t{});
  }
  // Empties `f`, handing its reference to the caller.
  template <class T>
  static state<T>* release(future<T>& f) noexcept {
    return std::exchange(f.s_, nullptr);
  }
};
}  // namespace detail

}  // namespace corio::futures

/// Hashes a future by identity, so futures can be kept in unordered sets (as
/// Python code keeps them in sets).
template <class T>
struct std::hash<corio::futures::future<T>> {
  std::size_t operator()(const corio::futures::future<T>& f) const noexcept { return std::hash<const void*>()(f.id()); }
};

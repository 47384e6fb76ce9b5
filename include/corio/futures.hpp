// Python: asyncio.Future (asyncio/futures.py).
#pragma once

#include <corio/detail/core_waiter.hpp>
#include <corio/detail/coroutine_callback.hpp>
#include <corio/detail/repr.hpp>
#include <corio/detail/result_slot.hpp>
#include <corio/events.hpp>

#include <cstdint>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

template <class T>
struct future_state : future_state_base {
  result_slot<T> slot;

  explicit future_state(std::uint32_t loop_ref) noexcept {
    loop_ref_ = loop_ref;
    destroy_fn = [](future_state_base* b) noexcept {
      auto* self = static_cast<future_state*>(b);
      self->~future_state();
      pool_deallocate(self, sizeof(future_state));
    };
  }
  ~future_state() { slot.destroy(state()); }

  static future_state* make(loop_core& loop) {
    return ::new (pool_allocate(sizeof(future_state))) future_state(loop.ref());
  }
};

[[noreturn]] void throw_invalid_state(const char* what);
[[noreturn]] void throw_already_done(const char* what);
inline void check_settable(const future_core* f, const char* what) {
  if (CORIO_UNLIKELY(f->done())) throw_already_done(what);  // FU-04
}
void check_exception_arg(const std::exception_ptr& e);

// Python: Future.result() / Future.exception() on any future_core whose
// slot is given (FU-02, FU-03).
template <class T>
std::add_lvalue_reference_t<T> core_result(future_core* f, result_slot<T>& slot) {
  if (!f->done()) throw_invalid_state("Result is not ready.");
  f->set(future_core::f_retrieved);
  if (f->state() != future_core::st_result) std::rethrow_exception(slot.exc);
  if constexpr (!std::is_void_v<T>) return slot.get();
}
std::exception_ptr core_exception(future_core* f);

// Python: repr(future) (future_core.cpp); `result` writes the value.
void write_future(std::ostream& os, const future_core* f, void (*result)(std::ostream&, const future_core*));
template <class T>
void write_future_result(std::ostream& os, const future_core* f) {
  if constexpr (std::is_void_v<T>) {
    os << "None";
  } else {
    auto* st = const_cast<future_state<T>*>(static_cast<const future_state<T>*>(f));
    write_value(os, st->slot.get());
  }
}

}  // namespace detail

/// Python: asyncio.Future. A loop-bound, awaitable slot for one outcome: a
/// value, an exception, or cancellation. Copies share the same future.
/// Create with loop.create_future<T>() or corio::create_future<T>().
///
/// Awaiting (FU-12): returns at once if done, else suspends the task until it
/// is; the task resumes on the loop's thread. Cancelling the awaiting task
/// cancels this future (CX-03). An lvalue await returns T&, an rvalue await
/// moves the value out.
template <class T>
class future {
  using state = detail::future_state<T>;

 public:
  using value_type = T;

  future() noexcept = default;
  explicit future(state* s) noexcept : s_(s) {}
  future(const future& o) noexcept : s_(o.s_) {
    if (s_) s_->retain();
  }
  future(future&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  future& operator=(future o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~future() {
    if (s_) s_->release();
  }

  /// Python: Future.done() (FU-01).
  bool done() const noexcept { return s_->done(); }
  /// Python: Future.cancelled().
  bool cancelled() const noexcept { return s_->cancelled(); }
  /// Python: Future.result(): the value, or throws the stored exception,
  /// cancelled_error, or invalid_state_error while pending (FU-02).
  std::add_lvalue_reference_t<T> result() const { return detail::core_result<T>(s_, s_->slot); }
  /// Python: Future.exception(): null on success; throws cancelled_error if
  /// cancelled and invalid_state_error while pending (FU-03).
  std::exception_ptr exception() const { return detail::core_exception(s_); }

  /// Python: Future.set_result(). invalid_state_error if already done (FU-04).
  template <class... A>
  void set_result(A&&... a) {
    detail::check_settable(s_, "set_result");
    detail::check_completable(s_, "future.set_result");
    if constexpr (!std::is_void_v<T>) s_->slot.emplace(std::forward<A>(a)...);
    s_->finish(detail::future_core::st_result);
  }
  /// Python: Future.set_exception(). Rejects a null exception_ptr (FU-05).
  void set_exception(std::exception_ptr e) {
    detail::check_settable(s_, "set_exception");
    detail::check_exception_arg(e);
    detail::check_completable(s_, "future.set_exception");
    ::new (&s_->slot.exc) std::exception_ptr(std::move(e));
    s_->finish(detail::future_core::st_exception);
  }
  template <class E>
  void set_exception(E&& e) {
    set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }
  /// Python: Future.cancel(msg). False if already done (FU-06).
  bool cancel(const std::string& msg) { return detail::future_cancel(s_, msg); }
  bool cancel() { return detail::future_cancel(s_, std::string()); }

  /// Python: Future.add_done_callback(fn). fn(future&) runs through call_soon
  /// once the future is done, never inline (FU-08, FU-09). Returns an id for
  /// remove_done_callback.
  template <class F>
  std::uintptr_t add_done_callback(F&& fn) {
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, future&>(),
                  "corio::future::add_done_callback: fn returns a coroutine, which would never run; "
                  "call create_task in the callback");
    return detail::add_done_callback(s_, [f = std::forward<F>(fn)](detail::future_core* c) mutable {
      auto* st = static_cast<state*>(c);
      st->retain();
      future self(st);
      f(self);
    });
  }
  /// Python: Future.remove_done_callback(). Returns how many were removed.
  std::size_t remove_done_callback(std::uintptr_t id) noexcept { return detail::remove_done_callback_node(s_, id); }

  /// Python: Future.get_loop().
  event_loop& get_loop() const;

  explicit operator bool() const noexcept { return s_ != nullptr; }
  friend bool operator==(const future& a, const future& b) noexcept { return a.s_ == b.s_; }
  detail::future_core* core() const noexcept { return s_; }

  template <bool Move>
  struct awaiter : detail::core_waiter {
    state* st;
    explicit awaiter(state* s) noexcept : core_waiter(s), st(s) {}
    bool await_ready() const noexcept { return st->done(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    decltype(auto) await_resume() {
      resumed();
      return detail::take_outcome<T, Move>(st, st->slot);
    }
  };
  using corio_awaitable = void;
  awaiter<false> operator co_await() const& noexcept { return awaiter<false>(s_); }
  awaiter<true> operator co_await() && noexcept { return awaiter<true>(s_); }

 private:
  state* s_ = nullptr;
};

/// Python: repr(future) / print(future): `<Future pending>`,
/// `<Future finished result=42>`, `<Future finished
/// exception=std::runtime_error('boom')>`, `<Future cancelled>`. Reading
/// the outcome here does not count as retrieving it.
template <class T>
std::ostream& operator<<(std::ostream& os, const future<T>& f) {
  detail::write_future(os, f.core(), &detail::write_future_result<T>);
  return os;
}

template <class T>
future<T> event_loop::create_future() {
  check_open();
  return future<T>(detail::future_state<T>::make(*this));
}

template <class T>
event_loop& future<T>::get_loop() const {
  detail::loop_core* l = s_->loop();
  if (!l) throw std::runtime_error("corio: the future's event loop is gone");
  return detail_loop(*l);
}

/// Python: asyncio.get_running_loop().create_future().
template <class T = void>
future<T> create_future() {
  return get_running_loop().create_future<T>();
}

}  // namespace corio

// Python: asyncio.Future as the common base of Future and Task, which is what
// asyncio.wait and asyncio.as_completed accept: one handle type for a mix of
// futures and tasks of different result types.
//
//   done, pending = await asyncio.wait([task, fut], timeout=1)
//
//   std::vector<corio::any_future> fs{task, fut};      // task<int>, future<std::string>
//   auto [done, pending] = co_await corio::wait(fs, 1s);
#pragma once

#include <corio/detail/core_waiter.hpp>
#include <corio/futures.hpp>
#include <corio/tasks.hpp>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>

namespace corio {

namespace detail {
[[noreturn]] void throw_unscheduled_any_future();
}  // namespace detail

/// Python: asyncio.Future seen as the base of Task: a handle to a
/// corio::future<T> or a scheduled task<T>, of any T. It sees what every
/// future has (done, cancelled, the exception, cancel) but not the value,
/// whose type it does not know: read that through the typed handle. Made
/// implicitly from either, so a std::vector<any_future> holds a mix for
/// wait() and as_completed(). Copies refer to the same future.
class any_future {
 public:
  any_future() noexcept = default;
  /// From a loop future.
  template <class T>
  any_future(const future<T>& f) noexcept : c_(f.core()) {
    if (c_) c_->retain();
  }
  /// From a task (task<T> or any_task). A coroutine not scheduled as a task
  /// throws std::invalid_argument: nothing would ever run it.
  any_future(const any_task& t) : c_(t.core()) {
    if (c_ == nullptr) return;
    if (!c_->has(detail::future_core::f_root)) detail::throw_unscheduled_any_future();
    c_->retain();
  }
  any_future(const any_future& o) noexcept : c_(o.c_) {
    if (c_) c_->retain();
  }
  any_future(any_future&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  any_future& operator=(any_future o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~any_future() {
    if (c_) c_->release();
  }

  /// Python: Future.done().
  bool done() const noexcept { return c_->done(); }
  /// Python: Future.cancelled().
  bool cancelled() const noexcept { return c_->cancelled(); }
  /// Python: Future.cancel(msg) / Task.cancel(msg), whichever it is.
  bool cancel(const std::string& msg) { return detail::future_cancel(c_, msg); }
  bool cancel() { return detail::future_cancel(c_, std::string()); }
  /// Python: Future.result() without the value: returns if it succeeded,
  /// throws its exception, cancelled_error, or invalid_state_error while
  /// pending.
  void result() const {
    if (!c_->done()) detail::throw_invalid_state("Result is not ready.");
    c_->set(detail::future_core::f_retrieved);
    if (c_->state() != detail::future_core::st_result) std::rethrow_exception(c_->exc_slot());
  }
  /// Python: Future.exception(): null on success; throws cancelled_error if
  /// cancelled and invalid_state_error while pending.
  std::exception_ptr exception() const { return detail::core_exception(c_); }
  /// Python: Future.get_loop().
  event_loop& get_loop() const {
    detail::loop_core* l = c_->loop();
    if (!l) throw std::runtime_error("corio: the future's event loop is gone");
    return detail_loop(*l);
  }

  explicit operator bool() const noexcept { return c_ != nullptr; }
  /// The same future or task (a typed handle converts for the comparison).
  friend bool operator==(const any_future& a, const any_future& b) noexcept { return a.c_ == b.c_; }
  detail::future_core* core() const noexcept { return c_; }
  using value_type = void;

  /// Awaiting waits until it is done and rethrows its exception, if any.
  struct awaiter : detail::core_waiter {
    explicit awaiter(detail::future_core* c) noexcept : core_waiter(c) {}
    bool await_ready() const noexcept { return core->done(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    void await_resume() {
      resumed();
      core->set(detail::future_core::f_retrieved);
      if (core->state() != detail::future_core::st_result) std::rethrow_exception(core->exc_slot());
    }
  };
  using corio_awaitable = void;
  awaiter operator co_await() const noexcept { return awaiter(c_); }

 private:
  detail::future_core* c_ = nullptr;
};

}  // namespace corio

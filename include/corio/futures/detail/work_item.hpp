// A submitted call: the future's shared state with the callable and its
// arguments stored in the same block, and the owning reference an executor
// queues. Not for users.
//
// The callable and its arguments are destroyed as soon as the call returns,
// before the future is completed, so an executor never keeps what a finished
// call captured (CF-15), and a thread that saw result() return knows they
// are gone.
#pragma once

#include <corio/futures/detail/future_state.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

namespace corio::futures::detail {

// Given by a worker to run(): `before_complete` is called once the call has
// returned (or thrown), or was skipped as cancelled, and before the future
// completes, so a pool can count the worker idle before anyone sees the
// result.
struct run_context {
  void (*before_complete)(run_context* self) noexcept = nullptr;
};

// The result type of submit(fn, args...): what the stored callable returns
// when called with its stored arguments as rvalues; a returned reference is
// stored as a copy of the value.
template <class F, class... A>
using submit_result_t = std::remove_cvref_t<std::invoke_result_t<std::decay_t<F>&&, std::decay_t<A>&&...>>;

template <class R, class Fn, class... Args>
struct task_state final : state<R> {
  using call_t = std::tuple<Fn, Args...>;
  union {
    call_t call;
  };

  template <class F, class... A>
  explicit task_state(F&& f, A&&... a) : state<R>(&manage_task) {
    ::new (static_cast<void*>(std::addressof(call))) call_t(std::forward<F>(f), std::forward<A>(a)...);
    this->has_work = true;
    // One reference for the future handed to the caller, one for the queue.
    this->refs.store(2, std::memory_order_relaxed);
  }
  ~task_state() { drop_call(); }

  void drop_call() noexcept {
    if (this->has_work) {
      this->has_work = false;
      call.~call_t();
    }
  }

  decltype(auto) invoke() {
    return std::apply([](auto&&... xs) -> decltype(auto) { return std::invoke(std::forward<decltype(xs)>(xs)...); },
                      std::move(call));
  }

  void run(run_context* ctx) noexcept {
    bool go = false;
    try {
      go = this->set_running_or_notify_cancel();
    } catch (...) {
      // Completed directly through the future: nothing left to run.
    }
    if (!go) {
      drop_call();
      if (ctx) ctx->before_complete(ctx);
      return;
    }
    if constexpr (std::is_void_v<R>) {
      std::exception_ptr e;
      try {
        invoke();
      } catch (...) {
        e = std::current_exception();
      }
      drop_call();
      if (ctx) ctx->before_complete(ctx);
      if (e)
        this->try_set_exception(std::move(e));
      else
        this->finish_plain();
    } else {
      // The value waits in a local while the callable is destroyed; built in
      // place from the call (no move), moved once into the future.
      alignas(R) unsigned char buf[sizeof(R)];
      R* r = nullptr;
      std::exception_ptr e;
      try {
        r = ::new (static_cast<void*>(buf)) R(invoke());
      } catch (...) {
        e = std::current_exception();
      }
      drop_call();
      if (ctx) ctx->before_complete(ctx);
      if (r) {
        if (this->lock_if_settable()) {
          try {
            this->emplace_and_publish(std::move(*r));
          } catch (...) {
            e = std::current_exception();  // R's move constructor threw
          }
        }
        r->~R();
      }
      if (e) this->try_set_exception(std::move(e));
    }
  }

  static void manage_task(state_base* b, op o, void* arg) noexcept {
    auto* self = static_cast<task_state*>(b);
    switch (o) {
      case op::run:
        self->run(static_cast<run_context*>(arg));
        break;
      case op::discard:
        self->drop_call();
        break;
      case op::destroy:
        delete self;
        break;
    }
  }
};

/// An owning reference to one submitted work item: what executor::schedule()
/// receives. Run it, fail it or cancel it exactly once; dropping it unrun
/// leaves the future pending (the executor should cancel or fail it instead).
class work_ref {
 public:
  work_ref() noexcept = default;
  explicit work_ref(state_base* s) noexcept : s_(s) {}
  work_ref(work_ref&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  work_ref& operator=(work_ref&& o) noexcept {
    work_ref(std::move(o)).swap(*this);
    return *this;
  }
  ~work_ref() {
    if (s_) s_->release();
  }
  void swap(work_ref& o) noexcept { std::swap(s_, o.s_); }
  explicit operator bool() const noexcept { return s_ != nullptr; }

  /// Python: _WorkItem.run(): in this thread, marks the future running (or
  /// skips a cancelled one), calls the callable and completes the future with
  /// its value or exception. Never throws; done callbacks run here.
  void run(run_context* ctx = nullptr) noexcept { s_->manage(s_, op::run, ctx); }
  /// Cancels the future (its callbacks run here) and drops the callable.
  void cancel() noexcept {
    s_->cancel();
    s_->manage(s_, op::discard, nullptr);
  }
  /// Completes the future with `e` unless it is done, and drops the callable.
  void fail(std::exception_ptr e) noexcept {
    s_->try_set_exception(std::move(e));
    s_->manage(s_, op::discard, nullptr);
  }
  /// Identity of the item's future.
  const void* id() const noexcept { return s_; }

  /// For intrusive queues: hands the reference over as a raw pointer.
  state_base* release() noexcept { return std::exchange(s_, nullptr); }

 private:
  state_base* s_ = nullptr;
};

}  // namespace corio::futures::detail

// Python: asyncio.Task, create_task, current_task, all_tasks, sleep
// (asyncio/tasks.py).
#pragma once

#include <corio/detail/core_waiter.hpp>
#include <corio/detail/coroutine_callback.hpp>
#include <corio/detail/repr.hpp>
#include <corio/detail/result_slot.hpp>
#include <corio/detail/task_base.hpp>
#include <corio/events.hpp>
#include <corio/futures.hpp>

#include <coroutine>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio {

/// True for what a corio coroutine may co_await: corio's own awaitables, and
/// user types that declare `using corio_awaitable = void;` and follow the
/// protocol of corio/detail/task_base.hpp. Anything else is rejected at
/// compile time, because an awaiter that resumes the coroutine on its own
/// terms (on another thread, say) would corrupt the loop (TK-16).
template <class A>
concept awaitable = requires { typename std::remove_cvref_t<A>::corio_awaitable; };

namespace detail {

template <class T>
struct task_promise;

template <class T>
struct task_promise_value : task_base {
  result_slot<T> slot;
  template <class U = T>
  void return_value(U&& v) {
    slot.emplace(std::forward<U>(v));
    bits |= st_result;
  }
};
template <>
struct task_promise_value<void> : task_base {
  result_slot<void> slot;
  void return_void() noexcept { bits |= st_result; }
};

struct task_final_awaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
    auto& p = h.promise();
    if (p.has(future_core::f_root)) {
      if (CORIO_UNLIKELY(p.has(future_core::f_must_cancel)) && p.state() == future_core::st_result) {
        // CX-06: a cancel still pending when the body returns wins.
        p.slot.destroy(future_core::st_result);
        ::new (&p.slot.exc) std::exception_ptr(pending_cancel_exception(&p));
        p.bits = static_cast<std::uint16_t>((p.bits & ~future_core::st_mask) | future_core::st_cancelled);
      }
      task_complete(&p);  // may destroy the frame
      return std::noop_coroutine();
    }
    return p.leaf;  // the coroutine that awaited this one inline
  }
  void await_resume() const noexcept {}
};

template <class T>
struct task_promise final : task_promise_value<T> {
  task_promise() noexcept {
    const auto* frame = static_cast<const char*>(std::coroutine_handle<task_promise>::from_promise(*this).address());
    this->frame_off = static_cast<std::uint8_t>(reinterpret_cast<const char*>(static_cast<task_base*>(this)) - frame);
  }
  // Sees the coroutine's parameters (and the object of a member or lambda
  // coroutine): debug mode checks where references point (stack_refs.hpp).
  template <class... A>
    requires(sizeof...(A) > 0)
  explicit task_promise(A&... params) noexcept : task_promise() {
    note_params(this, params...);
  }
  ~task_promise() { this->slot.destroy(this->state()); }

  static void* operator new(std::size_t n) { return pool_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { pool_deallocate(p, n); }

  task<T> get_return_object() noexcept;
  // Lazy: the body runs when the task's first step runs, or when awaited (TK-02).
  std::suspend_always initial_suspend() const noexcept { return {}; }
  task_final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept {
    if (this->has(future_core::f_root)) {
      task_fail(this, std::current_exception());
    } else {
      ::new (&this->slot.exc) std::exception_ptr(std::current_exception());
      this->bits |= future_core::st_exception;
    }
  }
  template <class A>
  A&& await_transform(A&& a) const noexcept {
    static_assert(awaitable<A>,
                  "corio: this type cannot be awaited inside a corio::task: it is not a corio "
                  "awaitable (see corio::awaitable in <corio/tasks.hpp>)");
    return std::forward<A>(a);
  }
};

}  // namespace detail

/// A handle to a task of any result type (Python: asyncio.Task as returned by
/// current_task() and all_tasks()). Copies refer to the same task.
class any_task {
 public:
  any_task() noexcept = default;
  explicit any_task(detail::task_base* t, bool adopt = false) noexcept : t_(t) {
    if (t_ && !adopt) t_->retain();
  }
  any_task(const any_task& o) noexcept : any_task(o.t_) {}
  any_task(any_task&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  any_task& operator=(any_task o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~any_task() {
    if (t_) t_->release();
  }

  /// Python: Task.done().
  bool done() const noexcept { return t_->done(); }
  /// Python: Task.cancelled().
  bool cancelled() const noexcept { return t_->cancelled(); }
  /// Python: Task.cancel(msg). Requests that cancelled_error(msg) be thrown
  /// at the task's current or next suspension point, and cancels what the
  /// task awaits (CX-01..CX-05). False if the task is done.
  bool cancel(const std::string& msg) { return detail::task_cancel(t_, msg); }
  bool cancel() { return detail::task_cancel(t_, std::string()); }
  /// Python: Task.cancelling(): cancel requests not yet withdrawn (CX-12).
  std::uint32_t cancelling() const noexcept { return detail::task_cancelling(t_); }
  /// Python: Task.uncancel() (CX-12, CX-14).
  std::uint32_t uncancel() noexcept { return detail::task_uncancel(t_); }
  /// Python: Task.get_name() ("Task-<n>" unless set, TK-06).
  const std::string& get_name() const { return detail::task_name(t_); }
  /// Python: Task.set_name().
  void set_name(std::string name) { detail::task_set_name(t_, std::move(name)); }
  /// Python: Task.exception(): null on success; throws cancelled_error if
  /// cancelled, invalid_state_error while pending.
  std::exception_ptr exception() const { return detail::core_exception(t_); }
  /// Python: Task.get_loop().
  event_loop& get_loop() const;

  /// Python: Task.add_done_callback(fn): fn(any_task&) through call_soon.
  template <class F>
  std::uintptr_t add_done_callback(F&& fn) {
    static_assert(!detail::returns_coroutine<std::decay_t<F>&, any_task&>(),
                  "corio::any_task::add_done_callback: fn returns a coroutine, which would never run; "
                  "call create_task in the callback");
    return detail::add_done_callback(t_, [f = std::forward<F>(fn)](detail::future_core* c) mutable {
      any_task self(static_cast<detail::task_base*>(c));
      f(self);
    });
  }
  /// Python: Task.remove_done_callback().
  std::size_t remove_done_callback(std::uintptr_t id) noexcept { return detail::remove_done_callback_node(t_, id); }

  explicit operator bool() const noexcept { return t_ != nullptr; }
  friend bool operator==(const any_task& a, const any_task& b) noexcept { return a.t_ == b.t_; }
  detail::task_base* base() const noexcept { return t_; }
  detail::future_core* core() const noexcept { return t_; }

  /// Awaiting waits for the task to finish and rethrows its exception, if any.
  struct awaiter : detail::core_waiter {
    explicit awaiter(detail::task_base* t) noexcept : core_waiter(t) {}
    bool await_ready() const noexcept { return core->done(); }
    void await_suspend(std::coroutine_handle<> h) { suspend(h); }
    void await_resume() {
      resumed();
      core->set(detail::future_core::f_retrieved);
      if (core->state() != detail::future_core::st_result) std::rethrow_exception(core->exc_slot());
    }
  };
  using corio_awaitable = void;
  awaiter operator co_await() const noexcept { return awaiter(t_); }

 protected:
  detail::task_base* t_ = nullptr;
};

/// Python: a coroutine object and the asyncio.Task that runs it, in one type.
///
/// A function returning task<T> is a coroutine: calling it creates the frame
/// and runs nothing (lazy, like calling an `async def`). Then either
///   - `co_await f()` runs it inline as part of the awaiting task (Python:
///     `await coro`), or
///   - `create_task(f())` schedules it as a task of its own (Python:
///     `asyncio.create_task(coro)`); the returned handle can be awaited,
///     cancelled and inspected, and copies refer to the same task.
/// Dropping every handle of a scheduled task does not stop it: the loop holds
/// it until it finishes (TK-13). Dropping an unscheduled coroutine destroys it
/// without running it.
///
/// Awaiting a scheduled task suspends until it is done and resumes on the
/// loop's thread; cancelling the awaiting task cancels the awaited one
/// (CX-04). An lvalue await returns T&, an rvalue await moves the value out.
template <class T>
class task : public any_task {
 public:
  using promise_type = detail::task_promise<T>;
  using value_type = T;

  task() noexcept = default;
  explicit task(promise_type* p, bool adopt) noexcept : any_task(p, adopt) {}

  /// Python: Task.result(): the value, or throws the stored exception,
  /// cancelled_error, or invalid_state_error while pending.
  std::add_lvalue_reference_t<T> result() const { return detail::core_result<T>(t_, promise()->slot); }
  /// True once create_task (or gather, or run) scheduled it.
  bool scheduled() const noexcept { return t_->has(detail::future_core::f_root); }

  template <bool Move>
  struct awaiter : detail::core_waiter {
    promise_type* p;
    explicit awaiter(promise_type* pr) noexcept : core_waiter(pr), p(pr) {}
    bool await_ready() const noexcept { return p->done(); }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      if (!p->has(detail::future_core::f_root)) return start_inline(h);
      suspend(h);
      return std::noop_coroutine();
    }
    decltype(auto) await_resume() {
      resumed();
      return detail::take_outcome<T, Move>(p, p->slot);
    }

   private:
    std::coroutine_handle<> start_inline(std::coroutine_handle<> h) {
      if (p->has(detail::future_core::f_started))
        throw std::runtime_error("corio: coroutine is already being awaited");
      p->set(detail::future_core::f_started);
      p->leaf = h;
      return std::coroutine_handle<promise_type>::from_promise(*p);
    }
  };
  using corio_awaitable = void;
  awaiter<false> operator co_await() const& noexcept { return awaiter<false>(promise()); }
  awaiter<true> operator co_await() && noexcept { return awaiter<true>(promise()); }

  promise_type* promise() const noexcept { return static_cast<promise_type*>(t_); }
};

/// Python: repr(task) / print(task), as CPython 3.11 writes it:
/// `<Task pending name='Task-1' coro=<amain()> wait=sleep>`; when done,
/// `finished` with `exception=std::runtime_error('boom')` (for any_task, whose
/// result type is not known, the result is not shown), or `cancelled`;
/// `cancelling` while a cancel request is pending. `wait=` says what a
/// suspended task waits on: sleep, future, task 'name', futures (wait,
/// wait_for, a task_group's end), Lock, Event, Condition, Semaphore,
/// Queue.get, Queue.put, StreamReader, or an I/O operation with its fd
/// (recv(fd=7)). A coroutine not scheduled as a task prints as Python's
/// coroutine object, `<coroutine object amain() at 0x...>`. Printing a task
/// gives it its "Task-<n>" name if it has none yet, as get_name() does.
std::ostream& operator<<(std::ostream& os, const any_task& t);

namespace detail {
template <class T>
void write_task_result(std::ostream& os, const task_base* t) {
  if constexpr (std::is_void_v<T>) {
    os << "None";
  } else {
    auto* p = const_cast<task_promise<T>*>(static_cast<const task_promise<T>*>(t));
    write_value(os, p->slot.get());
  }
}
}  // namespace detail

/// Python: repr(task), with `result=` once it returned: any_task's form and
/// the value (Python's reprlib shortens long values; see detail/repr.hpp).
template <class T>
std::ostream& operator<<(std::ostream& os, const task<T>& t) {
  detail::write_task(os, t.base(), &detail::write_task_result<T>);
  return os;
}

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>(this, true);
}
[[noreturn]] void throw_not_schedulable(const task_base* t);
// Checks that `t` can become a task: a fresh coroutine.
inline void check_schedulable(const task_base* t) {
  if (CORIO_UNLIKELY(t == nullptr || t->has(future_core::f_root | future_core::f_started))) throw_not_schedulable(t);
}
// The implementation of a corio::context (contextvars.cpp); null for null.
context_impl* impl_of(const context* c) noexcept;
}  // namespace detail

template <class T>
task<T> event_loop::create_task(task<T> coro, task_options opts) {
  detail::check_schedulable(coro.base());
  check_open();  // EL-24: on a closed loop the coroutine is dropped unrun
  check_thread("create_task");
  if (factory_) {
    any_task view(coro.base());
    task_factory f = factory_;  // the factory may replace itself
    f(*this, view, opts);
  }
  detail::task_start(coro.base(), this, &opts);
  return coro;
}

template <class T>
task<T> event_loop::create_task(task<T> coro) {
  if (CORIO_UNLIKELY(factory_ != nullptr)) return create_task(std::move(coro), task_options{});
  detail::check_schedulable(coro.base());
  check_open();
  check_thread("create_task");
  detail::task_start(coro.base(), this, nullptr);  // the common case: no options to build
  return coro;
}

/// Python: asyncio.create_task(coro, name=...) on the running loop.
template <class T>
task<T> create_task(task<T> coro) {
  return get_running_loop().create_task(std::move(coro));
}
template <class T>
task<T> create_task(task<T> coro, task_options opts) {
  return get_running_loop().create_task(std::move(coro), std::move(opts));
}
template <class T>
task<T> create_task(task<T> coro, std::string name) {
  task_options opts;
  opts.name = std::move(name);
  return get_running_loop().create_task(std::move(coro), std::move(opts));
}

/// Python: asyncio.ensure_future(aw): schedules a fresh coroutine, returns a
/// scheduled task or a future as it is (TK-01).
template <class T>
task<T> ensure_future(task<T> t) {
  if (t.scheduled()) return t;
  return create_task(std::move(t));
}
template <class T>
future<T> ensure_future(future<T> f) {
  return f;
}

/// Python: asyncio.current_task(): the task whose step is running, or an
/// empty handle outside a task. Throws std::runtime_error without a running loop.
any_task current_task();
/// Python: asyncio.all_tasks(): the running loop's tasks that are not done.
std::vector<any_task> all_tasks();
/// The same for a given loop (need not be running).
std::vector<any_task> all_tasks(event_loop& loop);

// -- sleep ---------------------------------------------------------------------

namespace detail {
// What a sleeping task waits on: its timer (in the frame) and the cancel hook.
struct sleep_awaiter : timer_node, suspend_point {
  task_base* task = nullptr;

  explicit sleep_awaiter(std::int64_t delay_ns) noexcept {
    when = delay_ns;  // until armed, `when` holds the delay
    cancel = &cancel_sleep;
  }
  sleep_awaiter(sleep_awaiter&& o) noexcept : sleep_awaiter(o.when) {}  // only before use
  ~sleep_awaiter() {
    if (armed()) task->loop()->remove_timer(this);
  }
  bool await_ready() const noexcept { return false; }  // sleep(0) yields (CB-01)
  CORIO_ALWAYS_INLINE void await_suspend(std::coroutine_handle<> h) {
    task_base* t = current_task_or_throw("sleep");
    task = t;
    loop_core* loop = tls.running_loop;
    if (when <= 0) {  // a bare yield: back of the ready queue
      t->leaf = h;
      loop->wake(t);
      return;
    }
    when = add_saturated(when, loop->now_ns());  // kNeverNs: a timer that never fires
    fire = &on_fire;
    loop->add_timer(this);
    suspend_current(t, h, this);
  }
  void await_resume() {
    resume_check(task);
    if (CORIO_UNLIKELY(fire == &on_cancelled)) throw_pending_cancel(task);
  }

 private:
  friend void write_task_wait(std::ostream& os, const task_base* t);  // compares cancel_sleep
  static void on_fire(timer_node* n) noexcept { tls.running_loop->wake(static_cast<sleep_awaiter*>(n)->task); }
  static void on_cancelled(timer_node*) noexcept {}  // marker: the sleep was cancelled
  // CX-19: cancelling a sleep cancels its timer; the task sees cancelled_error.
  static bool cancel_sleep(suspend_point* sp, task_base* t, const std::string&) {
    auto* self = static_cast<sleep_awaiter*>(sp);
    t->loop()->remove_timer(self);
    self->fire = &on_cancelled;
    t->loop()->wake(t);
    return true;
  }
};

// The value sleep() returns: small, so that the frame keeps one awaiter.
struct sleep_op {
  std::int64_t delay_ns;
  using corio_awaitable = void;
  sleep_awaiter operator co_await() const noexcept { return sleep_awaiter(delay_ns); }
};

template <class T>
struct sleep_value_op {
  std::int64_t delay_ns;
  T value;
  struct awaiter : sleep_awaiter {
    T* value;
    T await_resume() {
      sleep_awaiter::await_resume();
      return std::move(*value);
    }
  };
  using corio_awaitable = void;
  awaiter operator co_await() noexcept { return awaiter{sleep_awaiter(delay_ns), &value}; }
};
}  // namespace detail

/// Python: asyncio.sleep(delay). Suspends the task for at least `d` of loop
/// time; sleep(0) (or any d <= 0) yields to the loop once (CB-01). A `d`
/// past what loop time can count (seconds::max(), 300 years) sleeps until
/// cancelled. Cancellation removes the timer and throws cancelled_error
/// (CX-19).
template <class Rep, class Period>
detail::sleep_op sleep(std::chrono::duration<Rep, Period> d) noexcept {
  return {detail::ns_ceil_saturated(d)};
}
/// Python: asyncio.sleep(delay, result): returns `value` afterwards (CB-02).
template <class Rep, class Period, class T>
detail::sleep_value_op<T> sleep(std::chrono::duration<Rep, Period> d, T value) {
  return {detail::ns_ceil_saturated(d), std::move(value)};
}

// -- run_until_complete --------------------------------------------------------

namespace detail {
template <class A>
struct is_task : std::false_type {};
template <class T>
struct is_task<task<T>> : std::true_type {};
template <class A>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};
}  // namespace detail

template <class A>
decltype(auto) event_loop::run_until_complete(A&& aw) {
  using D = std::remove_cvref_t<A>;
  check_can_run();  // EL-18: refuse before the coroutine is scheduled
  if constexpr (detail::is_task<D>::value) {
    // EL-13: a coroutine is wrapped in a task.
    D t = aw.scheduled() ? D(aw) : create_task(D(std::forward<A>(aw)));
    loop_core::run_until_done(t.core());
    using T = typename D::value_type;
    if constexpr (std::is_void_v<T>) {
      t.result();
    } else if constexpr (std::is_reference_v<T>) {
      return t.result();
    } else {
      return T(std::move(t.result()));
    }
  } else if constexpr (detail::is_future<D>::value) {
    D f = aw;
    loop_core::run_until_done(f.core());
    using T = typename D::value_type;
    if constexpr (std::is_void_v<T>) {
      f.result();
    } else if constexpr (std::is_reference_v<T>) {
      return f.result();
    } else {
      return T(f.result());
    }
  } else {
    static_assert(detail::is_task<D>::value,
                  "corio::event_loop::run_until_complete takes a corio::task<T> or corio::future<T>");
  }
}

}  // namespace corio

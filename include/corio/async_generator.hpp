// Python: asynchronous generators (PEP 525): `async def` bodies that both
// await and yield, consumed with `async for` or `await anext(agen)`.
//
//   async def ticks(n):                   corio::async_generator<int> ticks(int n) {
//       for i in range(n):                  for (int i = 0; i < n; ++i) {
//           await asyncio.sleep(1)            co_await corio::sleep(1s);
//           yield i                           co_yield i;
//                                           }
//                                         }
//   async for t in ticks(3): print(t)     co_await corio::for_each(ticks(3), [](int t) { print(t); });
//
// The body runs inside the task that awaits next(), as Python runs it inside
// the task awaiting __anext__: what it awaits suspends that task, cancelling
// that task raises cancelled_error at the body's await, and context
// variables are that task's.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/detail/frame_pool.hpp>
#include <corio/exceptions.hpp>
#include <corio/generator.hpp>
#include <corio/tasks.hpp>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace corio {

template <class T>
class async_generator;

namespace detail {

// How a step of an async generator resumes its awaiting coroutine. While the
// step runs inside the awaiter's await_suspend (`inline_`), a yield returns
// there and the awaiting coroutine continues without being resumed from
// inside the generator, so a long loop over a generator that never suspends
// uses no stack per item even where symmetric transfer is not a tail call.
// Once the body has suspended on the loop, the loop resumes it and a yield
// transfers to the awaiting coroutine.
struct agen_promise_base {
  std::coroutine_handle<> self_;
  std::coroutine_handle<> consumer_;  // the coroutine awaiting next(), athrow() or aclose()
  std::exception_ptr throw_;          // to raise at the body's co_yield (athrow, aclose)
  std::exception_ptr error_;          // what escaped the body
  generator_state state_ = generator_state::created;
  bool inline_ = false;

  std::coroutine_handle<> back_to_consumer() const noexcept {
    return inline_ ? std::noop_coroutine() : consumer_;
  }
};

template <class T>
struct agen_promise final : agen_promise_base {
  T* value_ = nullptr;

  agen_promise() noexcept { self_ = std::coroutine_handle<agen_promise>::from_promise(*this); }
  static void* operator new(std::size_t n) { return pool_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { pool_deallocate(p, n); }

  async_generator<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }
  void return_void() noexcept {}

  struct yield_awaiter {
    agen_promise* p;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) const noexcept {
      p->state_ = generator_state::suspended;
      return p->back_to_consumer();
    }
    void await_resume() const {
      if (CORIO_UNLIKELY(p->throw_ != nullptr)) std::rethrow_exception(std::exchange(p->throw_, nullptr));
    }
  };
  struct copy_yield_awaiter : yield_awaiter {
    T copy;
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) noexcept {
      this->p->value_ = std::addressof(copy);
      return yield_awaiter::await_suspend(h);
    }
  };
  yield_awaiter yield_value(T&& v) noexcept {
    value_ = std::addressof(v);
    return {this};
  }
  copy_yield_awaiter yield_value(const T& v) noexcept(std::is_nothrow_copy_constructible_v<T>) {
    return {{this}, v};
  }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<agen_promise> h) const noexcept {
      agen_promise& p = h.promise();
      p.state_ = generator_state::closed;
      return p.back_to_consumer();
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }

  template <class A>
  A&& await_transform(A&& a) const noexcept {
    static_assert(awaitable<A>,
                  "corio: this type cannot be awaited inside a corio::async_generator: it is not a corio "
                  "awaitable (see corio::awaitable in <corio/tasks.hpp>)");
    return std::forward<A>(a);
  }
};

enum class agen_op : std::uint8_t { next, athrow, aclose };

// The awaiter of next(), athrow() and aclose(): runs one step of the body.
template <class T, agen_op Op>
struct agen_step {
  agen_promise<T>* p;       // null for an empty generator
  std::exception_ptr exc;   // athrow: what to raise
  bool ran = false;         // a step of the body ran
  bool raise_here = false;  // athrow on a generator not started: `exc` goes to the caller

  bool await_ready() {
    if (p == nullptr) return true;
    switch (p->state_) {
      case generator_state::running:
        throw_generator_running(Op == agen_op::next     ? "corio: anext(): asynchronous generator is already running"
                                : Op == agen_op::athrow ? "corio: athrow(): asynchronous generator is already running"
                                                        : "corio: aclose(): asynchronous generator is already running");
      case generator_state::suspended:
        return false;
      case generator_state::created:
        if constexpr (Op == agen_op::next) return false;
        // Python: athrow() raises at the body's first line, so no handler
        // sees it; aclose() just closes.
        p->state_ = generator_state::closed;
        raise_here = Op == agen_op::athrow;
        return true;
      case generator_state::closed:
        break;
    }
    return true;
  }
  bool await_suspend(std::coroutine_handle<> h) {
    if constexpr (Op == agen_op::athrow) p->throw_ = exc;
    if constexpr (Op == agen_op::aclose) p->throw_ = generator_exit_ptr();
    p->consumer_ = h;
    p->state_ = generator_state::running;
    p->inline_ = true;
    ran = true;
    p->self_.resume();
    if (p->state_ != generator_state::running) return false;  // yielded or finished without suspending
    p->inline_ = false;  // it waits on the loop; its next yield resumes `h`
    return true;
  }
  auto await_resume() {
    if constexpr (Op == agen_op::aclose) {
      if (!ran) return;
      if (p->error_) {
        std::exception_ptr e = std::exchange(p->error_, nullptr);
        if (!exception_is<generator_exit>(e)) std::rethrow_exception(e);
        return;
      }
      if (p->state_ == generator_state::suspended) throw_generator_ignored_exit("async generator");
    } else {
      if (!ran) {
        if (raise_here) std::rethrow_exception(exc);
        return std::optional<T>();
      }
      if (p->error_) std::rethrow_exception(std::exchange(p->error_, nullptr));
      if (p->state_ == generator_state::suspended) return std::optional<T>(std::move(*p->value_));
      return std::optional<T>();
    }
  }
  using corio_awaitable = void;
};

}  // namespace detail

/// Python: an async generator function and the async generator it returns.
///
/// Calling the function creates the frame and runs nothing. Each
/// `co_await gen.next()` (Python: `await anext(agen)`) runs the body in the
/// awaiting task up to its next `co_yield` and gives the value, or an empty
/// optional once the body has finished (Python: StopAsyncIteration). The body
/// may co_await any corio awaitable (sleeps, queues, I/O, tasks) between
/// yields.
///
/// Cancellation: cancelling the task awaiting next() raises cancelled_error
/// at the await where the body is suspended; if the body lets it escape, the
/// generator finishes and next() rethrows it. The caller resumes on the
/// loop's thread. Destroying a generator destroys its frame: destructors of
/// its locals run, without a generator_exit and without awaiting; `co_await
/// aclose()` (or for_each, which calls it) gives the body the chance to
/// clean up with awaits. corio::run does not track async generators
/// (Python's loop.shutdown_asyncgens): each is closed or destroyed by its
/// owner. Used by one task at a time.
template <class T>
class [[nodiscard]] async_generator {
  static_assert(std::is_same_v<T, std::remove_cvref_t<T>> && !std::is_void_v<T>,
                "corio::async_generator<T>: T must be an object type (no reference, no const, not void)");

 public:
  using promise_type = detail::agen_promise<T>;
  using value_type = T;

  async_generator() noexcept = default;
  async_generator(async_generator&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  async_generator& operator=(async_generator o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~async_generator() {
    if (h_) h_.destroy();
  }

  /// Python: `await anext(agen)` (agen.__anext__()). Gives the next value,
  /// or empty once the generator has finished. Throws generator_running if
  /// another next(), athrow() or aclose() of it is in progress (Python:
  /// RuntimeError), and whatever escapes the body.
  detail::agen_step<T, detail::agen_op::next> next() noexcept { return {promise(), nullptr}; }

  /// Python: `await agen.athrow(exc)`: raises `e` in the body at its
  /// `co_yield`; gives what it yields next, or empty if it returns. On a
  /// generator not started yet, `e` is thrown here and the generator closes;
  /// on a finished one this gives empty.
  detail::agen_step<T, detail::agen_op::athrow> athrow(std::exception_ptr e) {
    if (!e) throw std::invalid_argument("corio: async_generator::athrow: the exception_ptr is null");
    return {promise(), std::move(e)};
  }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  detail::agen_step<T, detail::agen_op::athrow> athrow(E&& e) {
    return athrow(std::make_exception_ptr(std::forward<E>(e)));
  }

  /// Python: `await agen.aclose()`: raises generator_exit in the body at its
  /// `co_yield`, and lets it finish, awaiting what its cleanup awaits.
  /// Rethrows another exception escaping the body; throws
  /// std::runtime_error if the body yields instead (Python: RuntimeError
  /// "async generator ignored GeneratorExit"). No-op on a generator not
  /// started (which is then closed) or finished.
  detail::agen_step<T, detail::agen_op::aclose> aclose() noexcept { return {promise(), nullptr}; }

  /// Python: inspect.getasyncgenstate(agen). An empty (moved-from) generator is closed.
  generator_state state() const noexcept { return h_ ? h_.promise().state_ : generator_state::closed; }

  /// Python: repr(agen) with inspect.getasyncgenstate(agen):
  /// `<async_generator object ticks() at 0x... [AGEN_SUSPENDED]>`.
  friend std::ostream& operator<<(std::ostream& os, const async_generator& g) {
    detail::write_generator(os, "async_generator", g.h_, g.state());
    return os;
  }

 private:
  friend struct detail::agen_promise<T>;
  explicit async_generator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  promise_type* promise() const noexcept { return h_ ? &h_.promise() : nullptr; }

  std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
async_generator<T> agen_promise<T>::get_return_object() noexcept {
  return async_generator<T>(std::coroutine_handle<agen_promise>::from_promise(*this));
}
}  // namespace detail

/// Python: `async with contextlib.aclosing(agen): async for x in agen: fn(x)`.
/// Calls `fn(value&)` for each value the generator yields; `fn` may return
/// void, bool (false stops, like `break`), or a corio::task<void> or
/// task<bool> that is awaited. The generator is aclose()d when the loop ends
/// for any reason, cancellation included, then the reason is rethrown.
template <class T, class F>
task<> for_each(async_generator<T> gen, F fn) {
  using R = std::invoke_result_t<F&, T&>;
  std::exception_ptr err;
  try {
    for (;;) {
      std::optional<T> item = co_await gen.next();
      if (!item) break;
      if constexpr (detail::is_task<R>::value) {
        if constexpr (std::is_void_v<typename R::value_type>) {
          co_await fn(*item);
        } else {
          const bool go = co_await fn(*item);
          if (!go) break;
        }
      } else if constexpr (std::is_void_v<R>) {
        fn(*item);
      } else {
        const bool go = fn(*item);
        if (!go) break;
      }
    }
  } catch (...) {
    err = std::current_exception();
  }
  co_await gen.aclose();
  if (err) std::rethrow_exception(err);
}

}  // namespace corio

// The doors between a running loop and other threads (Python: asyncio.threads
// for to_thread, asyncio.futures.wrap_future, asyncio.tasks.
// run_coroutine_threadsafe, loop.run_in_executor).
//
// Whatever crosses back into a loop goes through its call_soon_threadsafe
// queue and runs on the loop's thread: a coroutine is never resumed on a
// foreign thread, and loop futures and tasks, which are not thread-safe, are
// only ever touched there (docs/semantics.md section 10).
#pragma once

#include <corio/contextvars.hpp>
#include <corio/events.hpp>
#include <corio/futures.hpp>
#include <corio/futures/executor.hpp>
#include <corio/futures/future.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/tasks.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

// Copies a finished concurrent future's outcome into a loop future (Python:
// futures._copy_future_state). Move-only values are moved out of the source.
template <class T>
void copy_outcome(futures::future<T>& src, corio::future<T>& dst) {
  if (src.cancelled()) {
    dst.cancel();
  } else if (std::exception_ptr e = src.exception()) {
    dst.set_exception(std::move(e));
  } else if constexpr (std::is_void_v<T>) {
    dst.set_result();
  } else if constexpr (std::is_copy_constructible_v<T>) {
    dst.set_result(src.result());
  } else {
    dst.set_result(src.take_result());
  }
}

// The loop side of wrap_future: delivers the concurrent future's outcome
// on the loop's thread, unless the loop future was cancelled meanwhile.
template <class T>
struct future_bridge final : remote_completion {
  std::optional<corio::future<T>> dest;  // loop thread only
  futures::future<T> src;

  future_bridge(corio::future<T> d, futures::future<T> s) : dest(std::move(d)), src(std::move(s)) {
    complete = [](remote_completion* r) noexcept {
      auto* b = static_cast<future_bridge*>(r);
      if (!b->dest->done()) {
        try {
          copy_outcome(b->src, *b->dest);
        } catch (...) {
          if (!b->dest->done()) b->dest->set_exception(std::current_exception());
        }
      }
      b->dest.reset();
    };
    abandon = [](remote_completion* r) noexcept { static_cast<future_bridge*>(r)->dest.reset(); };
    destroy = [](remote_completion* r) noexcept { delete static_cast<future_bridge*>(r); };
  }
};

}  // namespace detail

/// Python: asyncio.wrap_future(future, loop=loop): a loop future that
/// follows a concurrent future. Its outcome arrives through the loop's
/// call_soon_threadsafe queue; cancelling the loop future cancels the
/// concurrent one (which succeeds only if its job has not started). A
/// move-only result is moved out of the concurrent future.
template <class T>
corio::future<T> wrap_future(futures::future<T> src, event_loop& loop) {
  corio::future<T> dest = loop.template create_future<T>();
  auto* b = new detail::future_bridge<T>(dest, src);
  detail_core(loop).register_remote(b);
  dest.add_done_callback([src](corio::future<T>& f) mutable {
    if (f.cancelled()) src.cancel();
  });
  src.add_done_callback([p = detail::remote_poster(b)](const futures::future<T>&) mutable { p.post(); });
  return dest;
}
/// Python: asyncio.wrap_future(future) on the running loop.
template <class T>
corio::future<T> wrap_future(futures::future<T> src) {
  return wrap_future(std::move(src), get_running_loop());
}

template <class F, class... A>
auto event_loop::run_in_executor(futures::executor* executor, F&& fn, A&&... args) {
  check_open();
  futures::executor& ex = executor ? *executor : default_executor();
  return wrap_future(ex.submit(std::forward<F>(fn), std::forward<A>(args)...), *this);
}

template <class Ex, class F, class... A>
  requires(std::is_base_of_v<futures::executor, Ex> && !std::is_same_v<std::remove_cv_t<Ex>, futures::executor>)
auto event_loop::run_in_executor(Ex* executor, F&& fn, A&&... args) {
  check_open();
  if (!executor) return run_in_executor(static_cast<futures::executor*>(nullptr), std::forward<F>(fn), std::forward<A>(args)...);
  return wrap_future(executor->submit(std::forward<F>(fn), std::forward<A>(args)...), *this);
}

namespace detail {

// What to_thread runs on the worker: fn(args...) inside a copy of the
// caller's context (TH-08), with a stop token first if fn takes one (TH-09).
template <class F, class... A>
auto to_thread_job(context ctx, std::optional<std::stop_source>& src, F&& fn, A&&... args) {
  using Fd = std::decay_t<F>;
  if constexpr (std::is_invocable_v<Fd&, std::stop_token, std::decay_t<A>&...>) {
    src.emplace();
    return [ctx = std::move(ctx), tok = src->get_token(), f = std::forward<F>(fn),
            tup = std::make_tuple(std::forward<A>(args)...)]() mutable {
      return ctx.run([&]() -> decltype(auto) {
        return std::apply([&](auto&... a) -> decltype(auto) { return std::invoke(f, tok, a...); }, tup);
      });
    };
  } else {
    return [ctx = std::move(ctx), f = std::forward<F>(fn), tup = std::make_tuple(std::forward<A>(args)...)]() mutable {
      return ctx.run([&]() -> decltype(auto) {
        return std::apply([&](auto&... a) -> decltype(auto) { return std::invoke(f, a...); }, tup);
      });
    };
  }
}

}  // namespace detail

/// Python: `await asyncio.to_thread(fn, *args)`: runs fn(args...) in the
/// running loop's default executor, inside a copy of the caller's context
/// (TH-08), and returns a loop future for its result. The job starts at
/// once (Python's starts when the coroutine is first awaited). Cancelling
/// the future cancels only the waiting side: a thread cannot be interrupted
/// (TH-09); but if fn takes a std::stop_token first, that token is
/// requested to stop when the future is cancelled.
template <class F, class... A>
auto to_thread(F&& fn, A&&... args) {
  event_loop& loop = get_running_loop();
  std::optional<std::stop_source> stop;
  auto job = detail::to_thread_job(copy_context(), stop, std::forward<F>(fn), std::forward<A>(args)...);
  auto fut = loop.run_in_executor(nullptr, std::move(job));
  if (stop) {
    fut.add_done_callback([s = std::move(*stop)](auto& f) mutable {
      if (f.cancelled()) s.request_stop();
    });
  }
  return fut;
}

namespace detail {

// Lets a cancel of the concurrent future reach the task, on the loop's
// thread (TH-03). If the loop closes first, the task never finishes: the
// caller's future ends cancelled, and the task, let go of here, is
// destroyed and reported like any task pending at close (TK-13).
template <class T>
struct task_canceller final : remote_completion {
  std::optional<task<T>> t;  // loop thread only
  futures::future<T> out;
  task_canceller(task<T> tk, futures::future<T> o) : t(std::move(tk)), out(std::move(o)) {
    is_work = false;  // the task itself keeps the loop's clock honest
    complete = [](remote_completion* r) noexcept {
      auto* c = static_cast<task_canceller*>(r);
      try {
        c->t->cancel();  // a no-op once the task is done
      } catch (...) {
        // The loop closed under the task: abandon() settles the caller's future.
      }
      c->t.reset();
    };
    abandon = [](remote_completion* r) noexcept {
      auto* c = static_cast<task_canceller*>(r);
      c->t.reset();
      c->out.cancel();  // a no-op if the task's outcome got there first
    };
    destroy = [](remote_completion* r) noexcept { delete static_cast<task_canceller*>(r); };
  }
};

// On the loop's thread: creates the task and ties its outcome to `out`.
template <class T>
void start_threadsafe(event_loop& loop, task<T>& coro, futures::future<T>& out) {
  // The concurrent future stays pending (never "running"), so that a cancel
  // from the caller can still reach the task, as in Python.
  if (out.done()) return;  // cancelled before the loop got to it
  std::optional<task<T>> t;
  try {
    t.emplace(loop.create_task(std::move(coro)));
  } catch (...) {
    // TH-04: the caller gets the error, and the loop reports it once.
    exception_context ctx;
    ctx.message = "Exception in callback run_coroutine_threadsafe";
    ctx.exception = std::current_exception();
    loop.call_exception_handler(ctx);  // first, so the caller sees it reported
    out.set_exception(ctx.exception);
    return;
  }
  auto* c = new task_canceller<T>(*t, out);
  detail_core(loop).register_remote(c);
  // However `out` ends (the task's outcome, or a cancel from any thread),
  // the canceller goes to the loop once: there it cancels a task still
  // running and lets go of it.
  out.add_done_callback([p = remote_poster(c)](const futures::future<T>&) mutable { p.post(); });
  // The callback takes the task from its argument: a handle captured here
  // would keep the task alive from its own listener list (a cycle that a
  // loop closing under the task could never break).
  t->add_done_callback([out](any_task& done) mutable {
    if (out.done()) return;  // cancelled from the caller's side
    task<T> tk(static_cast<typename task<T>::promise_type*>(done.base()), false);
    try {
      if (tk.cancelled()) {
        out.cancel();
      } else if (std::exception_ptr e = tk.exception()) {
        out.set_exception(std::move(e));
      } else if constexpr (std::is_void_v<T>) {
        out.set_result();
      } else {
        out.set_result(std::move(tk.result()));
      }
    } catch (const invalid_state_error&) {
      // cancelled meanwhile from another thread: that outcome stands
    }
  });
}

}  // namespace detail

/// Python: asyncio.run_coroutine_threadsafe(coro, loop): from another
/// thread, runs `coro` as a task on `loop` and returns a concurrent future
/// for its outcome (TH-02). Cancelling that future cancels the task (TH-03);
/// a result(timeout) that times out does not. If the loop is closed,
/// throws std::runtime_error.
template <class T>
futures::future<T> run_coroutine_threadsafe(task<T> coro, event_loop& loop) {
  futures::future<T> out;
  loop.call_soon_threadsafe([&loop, c = std::move(coro), out]() mutable { detail::start_threadsafe(loop, c, out); });
  return out;
}

}  // namespace corio

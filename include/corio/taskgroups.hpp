// Python: asyncio.TaskGroup (asyncio/taskgroups.py).
#pragma once

#include <corio/detail/scope_body.hpp>
#include <corio/tasks.hpp>

#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

namespace corio {

/// Python: asyncio.TaskGroup. Structured concurrency: the scope does not end
/// until every task created in it has finished.
///
///   co_await corio::task_group::run([&](corio::task_group& tg) {
///     tg.create_task(fetch(a));
///     tg.create_task(fetch(b));
///   });
///
/// A body that awaits is a coroutine, `-> corio::task<T>`; one that only
/// starts tasks is a plain function returning void. (Spelled `-> task<>`
/// without any co_await or co_return, it would be a plain function that
/// returns nothing where it promised a task: undefined behaviour, which g++
/// and clang only warn about with -Wreturn-type.)
///
/// The first child to fail with an exception cancels the other children and
/// the body (CB-38); when all have settled, run() throws one exception_group
/// holding every child's exception, and the body's (CB-39). Cancelling the
/// task that runs the group cancels the children and, if none failed, throws
/// cancelled_error (CB-40). keyboard_interrupt and system_exit pass through
/// ungrouped (CB-43). Afterwards the parent's cancelling() count is what it
/// was (CB-45).
class task_group {
 public:
  task_group() = default;
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group();

  /// Runs body(task_group&) (or body()), a coroutine, inline in the current
  /// task as the group's scope, and returns its value; or a plain function
  /// returning void, called at once. See the class comment.
  template <class F>
  static auto run(F body);

  /// Python: TaskGroup.create_task(coro, name=...). Throws std::runtime_error
  /// if the group was not entered, is finished, or is shutting down after a
  /// failure; the coroutine then never runs (CB-44).
  template <class T>
  task<T> create_task(task<T> coro) {
    return create_task(std::move(coro), task_options{});
  }
  template <class T>
  task<T> create_task(task<T> coro, task_options opts) {
    check_can_create();
    task<T> t = detail_loop(*parent_->loop()).create_task(std::move(coro), std::move(opts));
    adopt(t);
    return t;
  }
  template <class T>
  task<T> create_task(task<T> coro, std::string name) {
    return create_task(std::move(coro), task_options{std::move(name)});
  }

  // -- the protocol of `async with`, for code that builds its own scopes ----
  void enter();
  // The body ended; `body_error` is its exception (null if none). Waits for
  // the children, then throws what the group must throw, if anything.
  task<> exit(std::exception_ptr body_error);

 private:
  struct lone_listener : detail::listener {
    task_group* owner;
  };
  void check_can_create() const;
  void adopt(const any_task& t);
  void abort() noexcept;
  void on_child_done(detail::future_core* f) noexcept;

  bool entered_ = false;
  bool exiting_ = false;
  bool aborting_ = false;
  bool parent_cancel_requested_ = false;
  detail::task_base* parent_ = nullptr;  // not owning: the group lives in it
  std::unordered_set<detail::task_base*> children_;  // each holds a reference
  std::vector<std::exception_ptr> errors_;
  std::exception_ptr base_error_;
  std::optional<future<>> on_completed_;
  lone_listener lone_{};
};

namespace detail {
// What task_group::run's body returns: task<T> gives T; void (a body that
// only starts tasks) gives void.
template <class B>
struct scope_body_value {
  static_assert(is_coroutine_v<B>,
                "corio::task_group::run: the body must return corio::task<T> (a coroutine) or void");
  using type = typename B::value_type;
};
template <>
struct scope_body_value<void> {
  using type = void;
};
}  // namespace detail

template <class F>
auto task_group::run(F body) {
  using B = decltype(detail::call_scope_body(std::declval<F&>(), std::declval<task_group&>()));
  using R = typename detail::scope_body_value<B>::type;
  return [](F b) -> task<R> {
    task_group tg;
    tg.enter();
    std::exception_ptr err;
    std::optional<std::conditional_t<std::is_void_v<R>, int, std::conditional_t<std::is_reference_v<R>, std::reference_wrapper<std::remove_reference_t<R>>, R>>> value;
    try {
      if constexpr (std::is_void_v<B>) {
        detail::call_scope_body(b, tg);
        value.emplace(0);
      } else if constexpr (std::is_void_v<R>) {
        co_await detail::call_scope_body(b, tg);
        value.emplace(0);
      } else {
        value.emplace(co_await detail::call_scope_body(b, tg));
      }
    } catch (...) {
      err = std::current_exception();
    }
    co_await tg.exit(err);
    if (!value) std::rethrow_exception(err);
    if constexpr (!std::is_void_v<R>) {
      if constexpr (std::is_reference_v<R>)
        co_return value->get();
      else
        co_return std::move(*value);
    }
  }(std::move(body));
}

}  // namespace corio

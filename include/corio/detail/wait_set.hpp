// Suspends the current task until a condition over a set of futures holds,
// without ever cancelling them: cancelling the waiting task only stops the
// wait (docs/semantics.md CX-20). The engine of wait(), wait_for's
// cancel-and-wait, and task_group's exit. Not for users.
#pragma once

#include <corio/detail/task_base.hpp>

#include <coroutine>
#include <cstdint>
#include <vector>

namespace corio::detail {

enum class wake_when : std::uint8_t { first_completed, first_exception, all_completed };

struct wait_set : suspend_point {
  struct lone_listener : listener {
    wait_set* owner;
  } lone;
  struct deadline_timer : timer_node {
    wait_set* owner;
  } timer;                        // optional timeout
  std::vector<future_core*> fs;   // not owned: the caller keeps them alive
  std::size_t pending = 0;
  task_base* task = nullptr;
  wake_when when = wake_when::all_completed;
  bool woken = false;
  bool cancelled = false;
  bool timed_out = false;

  wait_set(std::vector<future_core*> futures, wake_when w) noexcept;
  wait_set(const wait_set&) = delete;
  wait_set(wait_set&& o) noexcept : wait_set(std::move(o.fs), o.when) {
    timer.when = o.timer.when;
    has_deadline_ = o.has_deadline_;
  }
  ~wait_set();

  // Optional deadline, in loop time (ns); set before awaiting.
  void set_deadline(std::int64_t when_ns) noexcept { timer.when = when_ns; has_deadline_ = true; }

  bool await_ready();
  void await_suspend(std::coroutine_handle<> h);
  // True if it woke because the condition holds (false: timed out).
  bool await_resume();
  using corio_awaitable = void;

 private:
  friend void write_task_wait(std::ostream& os, const task_base* t);  // compares on_cancel
  bool satisfied_by(future_core* f) noexcept;
  void detach() noexcept;
  void wake() noexcept;
  static void on_child(listener* l, future_core* f) noexcept;
  static void on_timeout(timer_node* t) noexcept;
  static bool on_cancel(suspend_point* sp, task_base* t, const std::string& msg);
  bool has_deadline_ = false;
  bool registered_ = false;
};

}  // namespace corio::detail

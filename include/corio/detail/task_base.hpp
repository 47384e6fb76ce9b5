// The untyped part of a task and the suspend/resume protocol every corio
// awaiter follows. Not for users.
//
// A task is a coroutine frame whose promise derives from task_base. When one
// of its coroutines (the task's own, or one awaited inline) suspends on a
// corio awaitable, the awaiter calls suspend_current(): the task remembers
// the innermost frame to resume (`leaf`) and what it waits on (`awaiting`,
// so cancel() can reach it). When the awaited thing completes, the task is
// put at the tail of the loop's ready queue (loop_core::wake); the loop then
// resumes `leaf` with the task as current_task. The awaiter's await_resume
// calls resume_check(), which throws cancelled_error if a cancel is pending
// (Python: Task.__step throwing CancelledError into the coroutine).
#pragma once

#include <corio/detail/future_core.hpp>
#include <corio/detail/loop_core.hpp>

#include <coroutine>
#include <iosfwd>
#include <string>

namespace corio {
struct task_options;
}

namespace corio::detail {

struct task_base : future_core {
  // Root task: the innermost suspended coroutine. Coroutine awaited inline:
  // the coroutine to continue when it finishes.
  std::coroutine_handle<> leaf;

  task_base() noexcept : future_core(node_kind::task) {}

  std::coroutine_handle<> frame() const noexcept {
    return std::coroutine_handle<>::from_address(
        const_cast<char*>(reinterpret_cast<const char*>(this)) - frame_off);
  }
};
static_assert(sizeof(task_base) == 48, "task_base grew: W1 memory per task depends on it");

CORIO_ALWAYS_INLINE void loop_core::register_task(task_base* t) {
  t->reg_idx_ = registry_.add(t);
  t->bits |= future_core::f_registered;
  ++t->refs;  // the loop holds every pending task (TK-13)
}

CORIO_ALWAYS_INLINE void loop_core::wake(task_base* t) noexcept {
  t->bits = static_cast<std::uint16_t>((t->bits & ~future_core::f_suspended) | future_core::f_queued);
  ready_.push(t);
}

// -- operations on tasks (tasks.cpp) ------------------------------------------
// Makes `t` a scheduled task of `loop` (Python: loop.create_task). Without
// options (null) it runs in a copy of the current context, lazily started.
void task_start(task_base* t, loop_core* loop, const task_options* opts);
// Python: Task.cancel(msg).
bool task_cancel(task_base* t, const std::string& msg);
// final_suspend of a root task: publish the outcome, wake listeners, let go.
void task_complete(task_base* t) noexcept;
// unhandled_exception of a root task: store and classify the exception.
void task_fail(task_base* t, std::exception_ptr e) noexcept;
// The first step of a task cancelled before it started (CX-07).
void task_cancel_unstarted(task_base* t) noexcept;
// Debug mode: instead of its first step, the task ends with an error saying
// that a reference parameter points into a returned stack frame.
void task_fail_dangling(task_base* t) noexcept;
std::uint32_t task_cancelling(const task_base* t) noexcept;
// The name of the coroutine function of a frame, demangled, for debug
// reports ("amain(int)"); its address in the program where the symbol
// table cannot say.
std::string coroutine_name(std::coroutine_handle<> frame);
// The same without the word "coroutine": "amain(int)", or the address in
// the program where the symbol table cannot say. For reprs.
std::string coroutine_function(std::coroutine_handle<> frame);
// Python: repr(task) (tasks.cpp). `result` writes the value of a task that
// returned one; null where the type is not known (any_task).
void write_task(std::ostream& os, const task_base* t, void (*result)(std::ostream&, const task_base*));
// " wait=..." for what suspended task `t` waits on, if that can be told
// (a friend of the awaiters whose cancel hooks it compares).
void write_task_wait(std::ostream& os, const task_base* t);
std::uint32_t task_uncancel(task_base* t) noexcept;
const std::string& task_name(task_base* t);
void task_set_name(task_base* t, std::string name);
// Python: fut.cancel(msg) for any future_core (task, future or combinator).
bool future_cancel(future_core* f, const std::string& msg);

[[noreturn]] void deliver_cancel(task_base* t);
// Throws cancelled_error with the message of the task's latest cancel: for
// suspend points that deliver a cancellation themselves (sleep, wait).
[[noreturn]] void throw_pending_cancel(const task_base* t);
// cancelled_error carrying the message of the task's pending cancel.
std::exception_ptr pending_cancel_exception(const task_base* t) noexcept;
void suspend_with_pending_cancel(task_base* t, suspend_point* sp);

CORIO_ALWAYS_INLINE task_base* current_task_or_throw(const char* what) {
  task_base* t = tls.current_task;
  if (CORIO_UNLIKELY(t == nullptr)) throw_no_running_task(what);
  return t;
}

// Records that task `t` stops at `h`, waiting on `sp` (null: nothing to
// cancel, e.g. a plain yield).
CORIO_ALWAYS_INLINE void suspend_current(task_base* t, std::coroutine_handle<> h, suspend_point* sp) {
  t->leaf = h;
  t->awaiting = sp;
  t->bits |= future_core::f_suspended;
  if (CORIO_UNLIKELY(t->bits & future_core::f_must_cancel)) suspend_with_pending_cancel(t, sp);
}

// First thing in await_resume after a suspension through the loop.
CORIO_ALWAYS_INLINE void resume_check(task_base* t) {
  if (CORIO_UNLIKELY(t->bits & future_core::f_must_cancel)) deliver_cancel(t);
}

}  // namespace corio::detail

// Awaiting one single-shot io_op from a task. Not for users.
//
// The op lives in the awaiter, in the coroutine's frame: awaiting I/O
// allocates nothing. A cancel asks the backend to stop the op and the task
// resumes when the backend reports it finished: with -ECANCELED the task
// sees cancelled_error. If the op completed anyway, its result is kept when
// dropping it would lose something (received bytes, an accepted connection,
// a count of bytes sent) and the cancel is delivered at the task's next
// suspension, as Python delivers a cancel that arrives after the awaited
// future is done. A connect or a readiness wait loses nothing: the cancel,
// which came before the loop saw the result, wins. (io_uring learns of a
// cancel only when it next submits, often together with the op itself, so
// a loopback connect would otherwise complete and let the task run on, send
// a request and only then unwind, keeping its socket open a step longer
// than on epoll, whose cancels act at once.)
#pragma once

#include <corio/detail/task_base.hpp>

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <string>

namespace corio::detail {

struct io_awaiter : suspend_point {
  struct op_t : io_op {
    io_awaiter* self;
  } op;
  task_base* task = nullptr;
  loop_core* loop = nullptr;
  std::uint32_t loop_ref = 0;
  bool cancel_requested = false;

  io_awaiter() noexcept {
    cancel = &on_cancel;
    op.done = &on_done;
    op.self = this;
  }
  io_awaiter(const io_awaiter&) = delete;
  io_awaiter& operator=(const io_awaiter&) = delete;
  ~io_awaiter() {
    // A frame destroyed with its op in flight (its loop closed under it):
    // the backend lets go of the op, unless the loop is gone altogether.
    if (CORIO_UNLIKELY(op.in_flight()))
      if (loop_core* l = loop_from_ref(loop_ref)) l->backend().abandon(&op);
  }

  bool await_ready() const noexcept { return false; }
  // Starts the op; false (no suspension) if it finished at once.
  bool start(std::coroutine_handle<> h, const char* what) {
    task_base* t = current_task_or_throw(what);
    loop = tls.running_loop;
    if (loop->backend().start(&op)) return false;
    loop_ref = loop->ref();
    task = t;
    suspend_current(t, h, this);
    return true;
  }
  // The op's result (>= 0, or -errno); throws cancelled_error if a cancel
  // stopped it, or came first and the result can be dropped.
  std::int32_t result() {
    if (CORIO_UNLIKELY(cancel_requested)) {
      if (op.res == -ECANCELED || op.kind == io_kind::connect || op.kind == io_kind::poll)
        throw_pending_cancel(task);
      task->set(future_core::f_must_cancel);
    }
    return op.res;
  }

 private:
  friend void write_task_wait(std::ostream& os, const task_base* t);  // compares on_cancel
  static void on_done(io_op* o) noexcept {
    io_awaiter* self = static_cast<op_t*>(o)->self;
    self->loop->wake(self->task);
  }
  static bool on_cancel(suspend_point* sp, task_base*, const std::string&) {
    auto* self = static_cast<io_awaiter*>(sp);
    self->cancel_requested = true;
    self->loop->backend().cancel(&self->op);
    return true;
  }
};

}  // namespace corio::detail

// Awaiting a future_core (a future, or a scheduled task) from a task, and the
// done-callback node behind add_done_callback. Not for users.
#pragma once

#include <corio/detail/handle_node.hpp>
#include <corio/detail/task_base.hpp>

#include <coroutine>
#include <cstdint>

namespace corio::detail {

// Lives in the awaiting coroutine's frame for the duration of the co_await:
// the listener node the future wakes, and the suspend point cancel() reaches.
struct core_waiter : listener_node, suspend_point {
  future_core* core;
  task_base* task = nullptr;  // non-null while registered
  bool suspended = false;     // went through the loop (so a cancel may be due)

  explicit core_waiter(future_core* c) noexcept : core(c) {
    on_done = &woken;
    cancel = &cancel_awaited;
  }
  // Moved only before being awaited (compilers may move the temporary).
  core_waiter(core_waiter&& o) noexcept : core_waiter(o.core) {}
  core_waiter& operator=(const core_waiter&) = delete;
  ~core_waiter() {
    if (task) core->remove_listener(this);  // frame destroyed while suspended
  }

  void suspend(std::coroutine_handle<> h) {
    task_base* t = current_task_or_throw("await a future");
    if (CORIO_UNLIKELY(static_cast<future_core*>(t) == core || core->loop_ref_ != t->loop_ref_)) check_awaitable(t);
    if (CORIO_LIKELY(core->waiters_ == 0)) {
      next = this;  // the first listener: a (circular) list of one
      core->waiters_ = reinterpret_cast<std::uintptr_t>(static_cast<listener_node*>(this));
    } else {
      core->add_listener(this);
    }
    task = t;
    suspended = true;
    suspend_current(t, h, this);
  }
  // First thing in await_resume: after a real suspension, delivers a cancel
  // that is still pending (an await of a done future is no cancel point, FU-12).
  void resumed() {
    if (suspended) resume_check(tls.current_task);
  }

 private:
  friend void write_task_wait(std::ostream& os, const task_base* t);  // compares cancel_awaited
  void check_awaitable(task_base* t) const;  // TK-09, FU-13
  static void woken(listener* l, future_core*) noexcept {
    auto* w = static_cast<core_waiter*>(static_cast<listener_node*>(l));
    task_base* t = w->task;
    w->task = nullptr;
    // Futures finish on their loop's thread, mostly while it runs: the
    // running loop saves the lookup through the loop table.
    loop_core* lp = tls.running_loop;
    if (CORIO_UNLIKELY(lp == nullptr || lp->ref() != t->loop_ref_)) {
      lp = t->loop();
      if (lp == nullptr) return;  // the loop is gone: the task never runs again
    }
    lp->wake(t);
  }
  static bool cancel_awaited(suspend_point* sp, task_base*, const std::string& msg) {
    // Python: Task.cancel() cancels self._fut_waiter (CX-03, CX-04).
    return future_cancel(static_cast<core_waiter*>(sp)->core, msg);
  }
};

// A done callback (Python: fut.add_done_callback(fn)): a listener while the
// future is pending, then a call_soon handle once it is done (FU-08). While
// pending it is owned by the future's listener list and holds no reference
// to the future (no cycle); once scheduled it holds one until it has run.
struct done_callback_node : handle_node, listener_node {
  future_core* core = nullptr;
  bool holds_core = false;

  done_callback_node() noexcept : handle_node(node_kind::handle) { on_done = &fire; }
  ~done_callback_node() {
    if (holds_core) core->release();
  }
  done_callback_node(const done_callback_node&) = delete;
  done_callback_node& operator=(const done_callback_node&) = delete;

  // Moves the callback to the ready queue of the future's loop.
  void schedule() noexcept {
    loop_core* l = core->loop();
    if (l == nullptr || l->is_closed()) {
      release();  // nowhere to run it
      return;
    }
    core->retain();
    holds_core = true;
    loop = l;
    l->push(this);
  }
  static void fire(listener* l, future_core*) noexcept {
    static_cast<done_callback_node*>(static_cast<listener_node*>(l))->schedule();
  }
};

// Registers fn(core) to run through call_soon once `core` is done; runs it
// through call_soon at once if it already is (FU-09). Returns an id for
// remove_done_callback.
std::uintptr_t add_done_callback_node(future_core* core, done_callback_node* n);
std::size_t remove_done_callback_node(future_core* core, std::uintptr_t id) noexcept;

template <class F>
std::uintptr_t add_done_callback(future_core* core, F&& fn) {
  auto* n = make_handle_node<done_callback_node>([core, f = std::forward<F>(fn)]() mutable { f(core); });
  n->core = core;
  return add_done_callback_node(core, n);
}

}  // namespace corio::detail

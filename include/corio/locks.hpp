// Python: asyncio.Event (asyncio/locks.py).
#pragma once

#include <corio/detail/task_base.hpp>
#include <corio/tasks.hpp>

#include <coroutine>
#include <cstdint>

namespace corio {

namespace detail {

// A task waiting on a primitive: an intrusive node in the primitive's FIFO,
// living in the waiting coroutine's frame, so waiting allocates nothing.
struct sync_waiter : suspend_point {
  task_base* task = nullptr;
  sync_waiter* prev = nullptr;
  sync_waiter* next = nullptr;
  bool queued = false;     // in the primitive's list
  bool cancelled = false;  // woken by a cancel, not by the primitive
};

// FIFO of waiters with O(1) removal (a cancelled waiter leaves no trace).
struct waiter_list {
  sync_waiter* head = nullptr;
  sync_waiter* tail = nullptr;

  bool empty() const noexcept { return head == nullptr; }
  void push_back(sync_waiter* w) noexcept {
    w->prev = tail;
    w->next = nullptr;
    if (tail)
      tail->next = w;
    else
      head = w;
    tail = w;
    w->queued = true;
  }
  void remove(sync_waiter* w) noexcept {
    if (!w->queued) return;
    if (w->prev)
      w->prev->next = w->next;
    else
      head = w->next;
    if (w->next)
      w->next->prev = w->prev;
    else
      tail = w->prev;
    w->prev = w->next = nullptr;
    w->queued = false;
  }
  sync_waiter* pop_front() noexcept {
    sync_waiter* w = head;
    if (w) remove(w);
    return w;
  }
};

// Binds a primitive to the loop of its first blocking user (SY-01); throws
// std::runtime_error if it is already bound to another loop.
void bind_primitive(std::uint32_t& bound, std::uint32_t loop_ref, const char* what);

}  // namespace detail

/// Python: asyncio.Event. wait() blocks until set(); set() wakes every
/// waiter, in the order they came (SY-07); clear() does not un-wake them.
/// Bound to the loop it is first waited on (SY-01). Used from the loop's
/// thread only.
class event {
 public:
  event() = default;
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  /// Python: Event.is_set().
  bool is_set() const noexcept { return value_; }
  /// Python: Event.set(). Wakes all waiters; harmless if already set.
  void set() noexcept {
    if (value_) return;
    value_ = true;
    while (detail::sync_waiter* w = waiters_.pop_front()) w->task->loop()->wake(w->task);
  }
  /// Python: Event.clear().
  void clear() noexcept { value_ = false; }

  struct awaiter : detail::sync_waiter {
    event* ev;
    explicit awaiter(event* e) noexcept : ev(e) { cancel = &on_cancel; }
    awaiter(awaiter&& o) noexcept : awaiter(o.ev) {}
    ~awaiter() { ev->waiters_.remove(this); }
    bool await_ready() const noexcept { return ev->value_; }
    void await_suspend(std::coroutine_handle<> h) {
      task = detail::current_task_or_throw("event.wait");
      if (CORIO_UNLIKELY(ev->loop_ref_ != task->loop_ref_)) detail::bind_primitive(ev->loop_ref_, task->loop_ref_, "Event");
      ev->waiters_.push_back(this);
      detail::suspend_current(task, h, this);
    }
    /// Python: `await event.wait()` returns True.
    bool await_resume() {
      if (task) {
        detail::resume_check(task);
        if (CORIO_UNLIKELY(cancelled)) detail::throw_pending_cancel(task);
      }
      return true;
    }

   private:
    // SY-08: a cancelled wait removes its waiter and throws cancelled_error.
    static bool on_cancel(detail::suspend_point* sp, detail::task_base* t, const std::string&) {
      auto* self = static_cast<awaiter*>(sp);
      self->ev->waiters_.remove(self);
      self->cancelled = true;
      t->loop()->wake(t);
      return true;
    }
  };

  /// Python: `await event.wait()`. A cancellation point unless already set.
  struct wait_op {
    event* ev;
    using corio_awaitable = void;
    awaiter operator co_await() const noexcept { return awaiter(ev); }
  };
  wait_op wait() noexcept { return {this}; }

 private:
  bool value_ = false;
  std::uint32_t loop_ref_ = 0;
  detail::waiter_list waiters_;
};

}  // namespace corio

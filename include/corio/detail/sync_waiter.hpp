// Waiting on a synchronization primitive or queue: the intrusive FIFO of
// waiting tasks and the protocol a waiter follows. Not for users.
//
// A waiter node lives in the waiting coroutine's frame (the awaiter object),
// so waiting allocates nothing. A primitive wakes a waiter by marking it
// `woken` and scheduling its task; the node stays in the list until the task
// runs and removes it, so the primitive can tell "a wake-up is on its way"
// from "nobody is waiting" (Python keeps done futures in its deques for the
// same reason). A cancel that arrives before the wake-up removes the node at
// once; one that arrives after it is delivered when the task resumes, and
// the primitive then passes the wake-up on (docs/semantics.md SY-06, SY-17,
// QU-06, QU-07).
#pragma once

#include <corio/detail/task_base.hpp>

#include <coroutine>
#include <cstdint>
#include <string>

namespace corio::detail {

struct waiter_list;

// What a waiting task waits on, for its repr ("wait=Lock"). Each kind has a
// cancel hook of its own (sync_waiter::on_cancel_in<K>), so the address in
// suspend_point::cancel tells the kind: the wait path stores the same one
// pointer it always did. (The hooks' bodies are alike: a linker's
// --icf=all, which folds functions whose address is taken, would merge the
// kinds; GCC's and the default linkers' folding keeps them apart.)
enum class wait_kind : std::uint8_t { lock, event, condition, semaphore, queue_get, queue_put, stream_reader };

// Only `task` and `list` are set up front: an await that completes without
// waiting (the fast path of put, get, acquire) touches nothing else.
struct sync_waiter : suspend_point {
  task_base* task = nullptr;    // set when it waits
  waiter_list* list = nullptr;  // while queued
  sync_waiter* prev;
  sync_waiter* next;
  bool woken;      // the primitive scheduled this task
  bool cancelled;  // a cancel arrived before the wake-up

  sync_waiter() noexcept {}
  sync_waiter(const sync_waiter&) noexcept {}  // only before use

  // True if the task must not take what it waited for: a cancel is due.
  bool cancel_due() const noexcept { return cancelled || task->has(future_core::f_must_cancel); }
  // Throws the due cancellation (call after the primitive is consistent).
  [[noreturn]] void throw_cancel() const;

  static bool on_cancel(suspend_point* sp, task_base* t, const std::string& msg);
  template <wait_kind K>
  static bool on_cancel_in(suspend_point* sp, task_base* t, const std::string& msg) {
    return on_cancel(sp, t, msg);
  }
};
// The kind whose hook `cancel` is; false for a hook of no sync_waiter.
bool sync_wait_kind(bool (*cancel)(suspend_point*, task_base*, const std::string&), wait_kind& out) noexcept;

// FIFO of waiters with O(1) removal.
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
    w->list = this;
  }
  void remove(sync_waiter* w) noexcept {
    if (w->list != this) return;
    if (w->prev)
      w->prev->next = w->next;
    else
      head = w->next;
    if (w->next)
      w->next->prev = w->prev;
    else
      tail = w->prev;
    w->prev = w->next = nullptr;
    w->list = nullptr;
  }
  // Wakes the head waiter unless a wake-up is already on its way to it
  // (Python: Lock._wake_up_first looks at the first waiter only).
  void wake_head() noexcept {
    if (head && !head->woken) wake(head);
  }
  // Wakes the first waiter not woken yet; false if there is none.
  bool wake_first() noexcept {
    for (sync_waiter* w = head; w; w = w->next) {
      if (!w->woken) {
        wake(w);
        return true;
      }
    }
    return false;
  }
  // Unlinks and wakes the head waiter (for primitives whose woken waiters
  // need no place in the line, like queues); null if there is none.
  sync_waiter* pop_and_wake() noexcept {
    sync_waiter* w = head;
    if (w) {
      remove(w);
      wake(w);
    }
    return w;
  }
  // Wakes every waiter not woken yet.
  void wake_all() noexcept {
    for (sync_waiter* w = head; w; w = w->next)
      if (!w->woken) wake(w);
  }
  static void wake(sync_waiter* w) noexcept {
    w->woken = true;
    w->task->loop()->wake(w->task);
  }
};

// Binds a primitive to the loop of its first blocking user (SY-01); throws
// std::runtime_error if it is already bound to another loop.
void bind_primitive(std::uint32_t& bound, std::uint32_t loop_ref, const char* what);

// Queues `w` on `list` and suspends the current task there.
template <wait_kind K>
CORIO_ALWAYS_INLINE void wait_on(waiter_list& list, sync_waiter* w, std::coroutine_handle<> h, std::uint32_t& bound,
                                 const char* what) {
  task_base* t = current_task_or_throw(what);
  if (CORIO_UNLIKELY(bound != t->loop_ref_)) bind_primitive(bound, t->loop_ref_, what);
  w->task = t;
  w->woken = false;
  w->cancelled = false;
  w->cancel = &sync_waiter::on_cancel_in<K>;
  list.push_back(w);
  suspend_current(t, h, w);
}

}  // namespace corio::detail

// The untyped core shared by futures and tasks: completion state, the list of
// listeners to tell on completion, and the intrusive ready-queue link.
// Not for users.
//
// Layout matters here: a task's promise is a future_core plus a little, and
// W1 (one million tasks) needs the whole frame under 100 bytes. Rarely used
// fields (names, cancel messages, cancel counts) live in a lazily allocated
// `core_extra`, in the same word as the task's context pointer.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/exceptions.hpp>

#include <coroutine>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>

namespace corio {
class event_loop;
}

namespace corio::detail {

class loop_core;
struct future_core;
struct task_base;
class context_impl;

// ---------------------------------------------------------------------------
// Things the ready queue can hold.

enum class node_kind : std::uint8_t { task, future, handle, timer_handle, threadsafe_handle };

// Common header of every object the loop can schedule or reference-count.
struct runnable {
  std::uint32_t refs = 1;
  node_kind kind;
  std::uint8_t frame_off = 0;  // tasks: offset of the promise inside the frame
  std::uint16_t bits = 0;      // state and flags, see future_core
  union {
    runnable* next = nullptr;      // while in a ready queue
    struct suspend_point* awaiting;  // tasks: while suspended (for cancel)
  };

  explicit runnable(node_kind k) noexcept : kind(k) {}
};

// Intrusive FIFO of runnables (docs/semantics.md EL-01).
struct ready_queue {
  runnable* head = nullptr;
  runnable* tail = nullptr;

  CORIO_ALWAYS_INLINE void push(runnable* n) noexcept {
    n->next = nullptr;
    if (tail)
      tail->next = n;
    else
      head = n;
    tail = n;
  }
  bool empty() const noexcept { return head == nullptr; }
};

// ---------------------------------------------------------------------------
// Listeners: who to tell when a future_core completes.

struct listener {
  void (*on_done)(listener* self, future_core* done) = nullptr;
};
// A listener that can sit in a future's list. One listener may also be
// registered "alone" on many futures at once without a node (gather over a
// million tasks registers one shared listener, not a million nodes).
struct listener_node : listener {
  listener_node* next = nullptr;
};

// Where a suspended task waits; lets task.cancel() reach what it waits on
// (Python: Task._fut_waiter). `cancel` returns true if the wake-up that follows
// will deliver the cancellation (Python: `self._fut_waiter.cancel()` was True).
struct suspend_point {
  bool (*cancel)(suspend_point* self, task_base* t, const std::string& msg) = nullptr;
};

// ---------------------------------------------------------------------------

// Rare per-future data, allocated on first need.
struct core_extra {
  std::uintptr_t ctx = 0;       // tasks: their context word (see context.hpp)
  std::string name;             // tasks: set_name / lazily "Task-<n>"
  std::string cancel_msg;       // tasks: message of a not yet delivered cancel
  std::uint32_t cancelling = 0; // tasks: Task.cancelling()
  bool named = false;
};

// Resolves a loop reference stored in a future; null once that loop is gone.
// Defined in loop_core.hpp.
inline loop_core* loop_from_ref(std::uint32_t ref) noexcept;

struct future_core : runnable {
  // bits: low two bits are the state; the rest are flags.
  enum : std::uint16_t {
    st_pending = 0,
    st_result = 1,
    st_exception = 2,
    st_cancelled = 3,
    st_mask = 3,
    f_retrieved = 1u << 2,     // result()/exception() was called, or it was awaited
    f_root = 1u << 3,          // tasks: scheduled as a task (not awaited inline)
    f_must_cancel = 1u << 4,   // tasks: a cancel waits for the next suspension
    f_queued = 1u << 5,        // tasks: in the ready queue
    f_suspended = 1u << 6,     // tasks: suspended (awaiting is meaningful)
    f_registered = 1u << 7,    // tasks: in the loop's registry (holds a ref)
    f_started = 1u << 8,       // tasks: first step has run
    f_eager = 1u << 9,         // tasks: run the first step inside create_task
    f_has_extra = 1u << 10,    // ctx_or_extra_ points to a core_extra
    f_running = 1u << 11,      // tasks: a step is executing
  };

  std::uintptr_t waiters_ = 0;     // 0, the tail of a circular listener_node list, or (listener* | 1)
  std::uintptr_t ctx_or_extra_ = 0;
  std::uint32_t loop_ref_ = 0;
  std::uint32_t reg_idx_ = 0;      // tasks: slot in the loop registry

  explicit future_core(node_kind k) noexcept : runnable(k) {}

  std::uint16_t state() const noexcept { return bits & st_mask; }
  bool done() const noexcept { return state() != st_pending; }
  bool cancelled() const noexcept { return state() == st_cancelled; }
  bool has(std::uint16_t f) const noexcept { return (bits & f) != 0; }
  void set(std::uint16_t f) noexcept { bits |= f; }
  void clear(std::uint16_t f) noexcept { bits = static_cast<std::uint16_t>(bits & ~f); }
  bool is_task() const noexcept { return kind == node_kind::task; }

  loop_core* loop() const noexcept { return loop_from_ref(loop_ref_); }

  core_extra& extra();
  core_extra* extra_if() const noexcept {
    return has(f_has_extra) ? reinterpret_cast<core_extra*>(ctx_or_extra_) : nullptr;
  }
  // Where a task's context word lives (see context.hpp).
  std::uintptr_t* ctx_slot() noexcept {
    if (has(f_has_extra)) return &reinterpret_cast<core_extra*>(ctx_or_extra_)->ctx;
    return &ctx_or_extra_;
  }

  // The exception_ptr slot (shared with the value in a union) sits right after
  // the typed base; the typed layers static_assert that.
  std::exception_ptr& exc_slot() noexcept;

  // -- listeners -----------------------------------------------------------
  void add_listener(listener_node* n);
  void add_lone_listener(listener* l);  // no node: see listener_node
  // Removes a registration; returns true if it was there.
  bool remove_listener(listener_node* n) noexcept;
  bool remove_lone_listener(listener* l) noexcept;
  bool has_listeners() const noexcept { return waiters_ != 0; }

  // -- completion (futures: set_*; tasks: on return) -----------------------
  // Stores the outcome and tells every listener, in registration order.
  void finish(std::uint16_t st) noexcept;
  // Marks cancelled with a cancelled_error(msg); runs listeners. False if done.
  bool cancel_now(const std::string& msg) noexcept;

  void retain() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) destroy();
  }
  void destroy() noexcept;  // kind-specific teardown; see future_state_base

  // Called when the last reference goes: "exception was never retrieved".
  void report_unretrieved() noexcept;
};

// Bookkeeping that typed futures (future_state<T> and the combinators' states)
// add on top of future_core. 64 bytes so the value storage that follows is
// 16-aligned for every T with alignof(T) <= 16.
struct future_state_base : future_core {
  void (*destroy_fn)(future_state_base*) noexcept = nullptr;
  // Custom cancel (gather cancels its children); null: plain cancel_now.
  bool (*cancel_fn)(future_state_base*, const std::string& msg) = nullptr;
  void* reserved_[1] = {};

  future_state_base() noexcept : future_core(node_kind::future) {}
};
static_assert(sizeof(future_state_base) == 64);

// An owning reference to a future_core.
class core_ref {
 public:
  core_ref() noexcept = default;
  explicit core_ref(future_core* c) noexcept : c_(c) {
    if (c_) c_->retain();
  }
  core_ref(const core_ref& o) noexcept : core_ref(o.c_) {}
  core_ref(core_ref&& o) noexcept : c_(o.c_) { o.c_ = nullptr; }
  core_ref& operator=(core_ref o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~core_ref() {
    if (c_) c_->release();
  }
  future_core* get() const noexcept { return c_; }

 private:
  future_core* c_ = nullptr;
};

// Per-thread state read on every resume.
struct thread_state {
  loop_core* running_loop = nullptr;
  task_base* current_task = nullptr;
  std::uintptr_t* ctx_slot = nullptr;  // the current context word; null: thread_ctx
  std::uintptr_t thread_ctx = 0;       // the thread's own context (threads start empty, CV-09)
};
extern thread_local thread_state tls CORIO_TLS_MODEL;

// Exceptions that leave the loop rather than being stored or reported
// (EL-12, TK-15): keyboard_interrupt, system_exit, and std::bad_alloc.
bool is_fatal(const std::exception_ptr& e) noexcept;

// Throws cancelled_error with `msg`.
[[noreturn]] void throw_cancelled(const std::string& msg);
// cancelled_error(msg) as an exception_ptr.
std::exception_ptr make_cancelled(const std::string& msg);

}  // namespace corio::detail

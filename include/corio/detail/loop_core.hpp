// The event loop's machinery: ready queue, timers, task registry, the I/O
// backend seam and the cross-thread door. corio::event_loop is the public face
// of this class. Not for users.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/detail/fork.hpp>
#include <corio/detail/future_core.hpp>
#include <corio/detail/handle_node.hpp>
#include <corio/detail/io_op.hpp>
#include <corio/detail/saturate.hpp>
#include <corio/detail/stack_refs.hpp>
#include <corio/detail/task_registry.hpp>
#include <corio/detail/timer_wheel.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace corio {

class event_loop;

/// Python: the `context` dict given to a loop's exception handler.
struct exception_context {
  std::string message;
  std::exception_ptr exception;  ///< may be null
  std::string task;              ///< name of the task involved, if any
  std::string future;            ///< description of the future involved, if any
  std::string handle;            ///< description of the callback involved, if any
};

/// How a loop keeps time.
enum class clock_kind {
  steady,   ///< std::chrono::steady_clock (Python: time.monotonic)
  virtual_  ///< starts at 0 and jumps to the next timer whenever the loop would
            ///< block (Trio's autojump MockClock); for deterministic tests
};

/// Options for a new event_loop.
struct loop_options {
  clock_kind clock = clock_kind::steady;
  /// Debug mode (Python: loop.set_debug / PYTHONASYNCIODEBUG); the default
  /// comes from the CORIO_DEBUG environment variable.
  std::optional<bool> debug;
};

}  // namespace corio

namespace corio::detail {

// The seam where I/O backends plug in (io_uring, epoll); see io_op.hpp for
// the operations. The loop asks the backend to wait only when it has nothing
// ready to run, or to poll (timeout 0) between batches while operations are
// in flight, so a loop busy with ready work and no I/O makes no system call.
class io_backend {
 public:
  virtual ~io_backend() = default;
  virtual const char* name() const noexcept = 0;
  // Waits up to timeout_ns (0: poll; negative: no limit) for completions or
  // wake(), and calls the `done` of what completed.
  virtual void wait(loop_core& loop, std::int64_t timeout_ns) = 0;
  // Thread-safe: makes a concurrent or the next wait() return promptly.
  virtual void wake() noexcept = 0;
  // The eventfd wake() writes to. Signal handlers write to it themselves:
  // write(2) is async-signal-safe, a virtual call on a loop that another
  // thread may be destroying is not (see signals.cpp).
  virtual int wake_fd() const noexcept = 0;
  // Operations in flight or completions not yet delivered (read on every
  // loop iteration, hence a plain field the backend keeps up to date).
  std::size_t pending() const noexcept { return pending_; }
  // Starts `op`. True: it finished at once (res is set, done is not called).
  // False: done is called from a later wait(), never from inside start().
  virtual bool start(io_op* op) = 0;
  // Asks an in-flight op to finish early. Its last done still comes from a
  // later wait(), with res -ECANCELED unless it completed first.
  virtual void cancel(io_op* op) noexcept = 0;
  // The op's owner is going away: once this returns the backend never
  // touches the op, nor the memory it points to, again; done is not called.
  // Results it still produces are dropped: a received buffer goes back, a
  // connection it accepted (a new fd nobody was handed) is closed.
  virtual void abandon(io_op* op) noexcept = 0;
  // `fd` is about to be closed and has no op in flight: forget it.
  virtual void forget_fd(int fd) noexcept = 0;

 protected:
  std::size_t pending_ = 0;
  // The process the backend's kernel objects belong to: after a fork, the
  // child may not submit or wait (detail/fork.hpp), nor cancel or forget.
  fork_origin origin_;
};
std::unique_ptr<io_backend> make_default_backend();
// Debug mode: says on stderr, once per process, which backend was chosen and why.
void note_backend_choice(const io_backend& chosen) noexcept;

class signal_set;     // add_signal_handler (signals.cpp)
class fd_watch_set;   // add_reader / add_writer (fd_watchers.cpp)
// Bumped by every caught signal a loop handles (after the signal's own
// count): a loop that owns signals compares it once per iteration.
extern std::atomic<std::uint32_t> g_signal_epoch;

// Something that holds I/O on a loop (a transport, a server) and must let
// go of it when the loop closes: its operations in flight, its fds, the
// references those operations hold.
struct loop_resource {
  virtual void on_loop_close() noexcept = 0;
  loop_resource* res_prev = nullptr;
  loop_resource* res_next = nullptr;

 protected:
  ~loop_resource() = default;
};

// An async generator first iterated on a loop, in that loop's list until it
// finishes or is destroyed (Python: the loop's _asyncgens weak set, filled by
// the firstiter hook). Loop thread only; close() unlinks what is left.
struct asyncgen_link {
  asyncgen_link* asyncgen_prev = nullptr;
  asyncgen_link* asyncgen_next = nullptr;
  loop_core* asyncgen_loop = nullptr;  // null: not in a list
  bool asyncgen_to_close = false;      // in shutdown_asyncgens' snapshot, not closed yet
};
void unregister_asyncgen(asyncgen_link* g) noexcept;

// What outlives a loop for the threads that post to it: the loop's address
// while it exists. Posting holds the mutex, so the loop cannot be destroyed
// (nor its backend, which the post wakes) in the middle of a post.
struct loop_link {
  std::mutex mu;
  loop_core* loop = nullptr;
};

// A completion another thread delivers to a loop: an executor job's result,
// a concurrent future's outcome, a cancel for a task. Made and registered on
// the loop's thread; posted once from any thread; then run, or, if the loop
// closes first, abandoned, on the loop's thread, so the loop-side state it
// holds (futures and tasks, which are not thread-safe) is only ever touched
// there. Two references: the loop's (while registered) and the poster's.
struct remote_completion {
  void (*complete)(remote_completion*) noexcept = nullptr;  // loop thread: deliver
  void (*abandon)(remote_completion*) noexcept = nullptr;   // loop thread: drop loop-side state
  void (*destroy)(remote_completion*) noexcept = nullptr;   // any thread: free
  std::atomic<std::uint32_t> refs{2};
  // Work in progress elsewhere (a job in a thread): a virtual clock does not
  // jump past it. False for what may never be posted (a canceller).
  bool is_work = true;
  std::shared_ptr<loop_link> link;
  remote_completion* prev = nullptr;  // in the loop's list (loop thread only)
  remote_completion* next = nullptr;
  bool registered = false;

  // Any thread, at most once: hands this to the loop, or, if the loop is
  // closed or gone, only lets go of the poster's reference.
  void post() noexcept;
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(this);
  }
};

// Owns the poster's reference of a remote completion, so that a callback
// that never runs (its future is dropped unfinished) still lets go of it.
class remote_poster {
 public:
  explicit remote_poster(remote_completion* r) noexcept : r_(r) {}
  remote_poster(remote_poster&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  remote_poster& operator=(remote_poster&&) = delete;
  ~remote_poster() {
    if (r_) r_->release();
  }
  void post() noexcept {
    remote_completion* r = r_;
    r_ = nullptr;
    if (r) r->post();
  }

 private:
  remote_completion* r_;
};

class loop_core {
 public:
  explicit loop_core(const loop_options& opts);
  ~loop_core();
  loop_core(const loop_core&) = delete;
  loop_core& operator=(const loop_core&) = delete;

  // -- hot path, used inline by awaiters ------------------------------------
  // Schedules the next step of suspended task `t` (Python: the __wakeup done
  // callback, run through call_soon).
  CORIO_ALWAYS_INLINE void wake(task_base* t) noexcept;
  CORIO_ALWAYS_INLINE void push(runnable* n) noexcept { ready_.push(n); }

  std::int64_t now_ns() const noexcept {
    if (CORIO_UNLIKELY(virtual_clock_)) return virtual_now_;
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void add_timer(timer_node* n) { timers_.insert(n); }
  void remove_timer(timer_node* n) noexcept {
    if (n->armed()) timers_.remove(n);
  }

  // -- tasks -----------------------------------------------------------------
  CORIO_ALWAYS_INLINE void register_task(task_base* t);
  void unregister_task(task_base* t) noexcept;
  const task_registry& registry() const noexcept { return registry_; }

  // -- scheduling callbacks ----------------------------------------------------
  void schedule_handle(handle_node* h);  // call_soon
  void schedule_timer_handle(timer_handle_node* h);  // call_later / call_at
  void schedule_threadsafe(handle_node* h);  // call_soon_threadsafe
  // Registers a remote completion (loop thread) and links it to this loop.
  void register_remote(remote_completion* r);
  void run_remote(remote_completion* r) noexcept;  // loop thread, from the posted handle
  void add_resource(loop_resource* r) noexcept;
  void remove_resource(loop_resource* r) noexcept;
  void check_thread(const char* what) const;  // debug: EL-20
  // Any thread: the loop runs, in a thread other than the caller's (read
  // with relaxed atomics, for debug mode's confinement checks).
  bool running_elsewhere() const noexcept {
    const std::thread::id o = owner_.load(std::memory_order_relaxed);
    return o != std::thread::id() && o != std::this_thread::get_id();
  }
  void check_open() const {
    if (CORIO_UNLIKELY(is_closed())) throw_closed();
  }
  [[noreturn]] static void throw_closed();
  // EL-18, EL-19: throws if this loop cannot start running now (closed,
  // already running, or another loop runs in this thread).
  void check_can_run() const;

  // -- running -----------------------------------------------------------------
  void run_forever();
  void run_until_done(future_core* f);
  void stop() noexcept { stopping_ = true; }
  void close();
  bool is_running() const noexcept { return running_; }
  bool is_closed() const noexcept { return closed_.load(std::memory_order_relaxed); }

  // -- errors ------------------------------------------------------------------
  using handler_fn = std::function<void(event_loop&, const exception_context&)>;
  void call_exception_handler(const exception_context& ctx) noexcept;
  void default_exception_handler(const exception_context& ctx) noexcept;
  void set_fatal(std::exception_ptr e) noexcept {
    if (!fatal_) fatal_ = std::move(e);
  }

  // -- state the public API reads and writes -----------------------------------
  event_loop& self() noexcept;
  std::uint32_t ref() const noexcept { return ref_; }
  bool debug() const noexcept { return debug_.load(std::memory_order_relaxed); }
  void set_debug(bool on) noexcept {
    if (debug_.exchange(on, std::memory_order_relaxed) != on)
      g_debug_loops.fetch_add(on ? 1 : -1, std::memory_order_relaxed);
  }
  std::int64_t slow_callback_ns_ = 100'000'000;  // 0.1 s (EL-22)
  std::int64_t clock_resolution_ns_ = 1;
  handler_fn handler_;
  std::function<void(event_loop&, task_base*)> task_factory_;
  bool is_virtual_clock() const noexcept { return virtual_clock_; }
  const char* backend_name() const noexcept { return is_closed() ? "closed" : backend_->name(); }
  io_backend& backend() noexcept { return *backend_; }
  void advance_virtual(std::int64_t ns) noexcept { virtual_now_ += ns; }
  // Signal handlers and fd watchers of this loop; null until first used.
  signal_set* signals_ = nullptr;
  fd_watch_set* watchers_ = nullptr;

 private:
  void run_once();
  void dispatch(runnable* n);
  void run_task(task_base* t);
  void run_handle(handle_node* h);
  void drain_remote(std::uintptr_t replace_with = 0) noexcept;
  void take_signals();  // signals.cpp
  void fire_timers();
  void report_slow(task_base* t, std::int64_t ns) noexcept;

  fork_origin origin_;  // a child of a fork may not run this loop (detail/fork.hpp)
  bool virtual_clock_ = false;
  std::int64_t virtual_now_ = 0;
  ready_queue ready_;
  timer_wheel timers_;
  task_registry registry_;
  std::uint32_t ref_ = 0;
  bool running_ = false;
  bool stopping_ = false;
  // A local of run_forever: stack below it belongs to steps that have
  // returned (the stack_refs.hpp check).
  const void* stack_mark_ = nullptr;
  std::atomic<bool> debug_{false};  // read by other threads' confinement checks
  std::uint32_t signal_epoch_seen_ = 0;
  std::atomic<bool> closed_{false};
  std::exception_ptr fatal_;
  std::atomic<std::thread::id> owner_{};  // the running thread; empty while not running
  std::unique_ptr<io_backend> backend_;

  // call_soon_threadsafe: posters push onto a lock-free stack (one CAS);
  // the loop takes the whole stack at once. kRemoteClosed marks a closed loop.
  static constexpr std::uintptr_t kRemoteClosed = 1;
  std::atomic<std::uintptr_t> remote_head_{0};
  std::atomic<bool> sleeping_{false};

  // Remote completions still expected: a virtual clock does not jump past
  // them, and close() abandons them.
  std::shared_ptr<loop_link> link_;
  remote_completion* remote_ops_ = nullptr;
  loop_resource* resources_ = nullptr;
  std::size_t remote_op_count_ = 0;

 public:
  // The default executor of run_in_executor(nullptr, ...) (TH-05), made on
  // first use by the futures layer; shut down by shutdown_default_executor.
  std::shared_ptr<void> default_executor_;
  bool executor_shutdown_called_ = false;
  // Async generators first iterated here and not finished, newest first
  // (async_generator.cpp); shutdown_asyncgens() closes them.
  asyncgen_link* asyncgens_ = nullptr;
  bool asyncgens_shutdown_called_ = false;
};

// The loop table: a future names its loop by (generation << 14 | slot), so a
// future that outlives its loop finds no loop rather than a dangling pointer.
// Slots are reused oldest-first, so a reference can only be mistaken for a
// later loop after 2^32 loops have come and gone.
inline constexpr unsigned kLoopSlotBits = 14;
inline constexpr std::uint32_t kLoopSlots = 1u << kLoopSlotBits;
extern std::atomic<loop_core*> g_loops[kLoopSlots];

inline loop_core* loop_from_ref(std::uint32_t ref) noexcept {
  loop_core* l = g_loops[ref & (kLoopSlots - 1)].load(std::memory_order_acquire);
  return (l && l->ref() == ref) ? l : nullptr;
}

// CORIO_DEBUG is set (and not "0"): the default of every loop's debug mode.
bool debug_env() noexcept;

// Throws the RuntimeError Python raises for an await outside a task.
[[noreturn]] void throw_no_running_task(const char* what);

// -- confinement (design rule 5, EL-20) -------------------------------------
// Loop-bound objects are used from their loop's thread. On that thread,
// while the loop runs, these checks cost a load and a compare; elsewhere
// they look the loop up, and in debug mode raise Python's "Non-thread-safe
// operation" error when another thread runs it (the wake-up of a task
// pushed from a foreign thread would otherwise be lost in a sleeping loop).
[[noreturn]] void throw_not_confined(const char* what);
void check_confined_slow(std::uint32_t loop_ref, const char* what);
void check_completable_slow(const future_core* f, const char* what);

// A loop-bound object (lock, queue, event, stream) whose loop is `loop_ref`
// (0: not bound yet) is being changed.
CORIO_ALWAYS_INLINE void check_confined(std::uint32_t loop_ref, const char* what) {
  const loop_core* l = tls.running_loop;
  if (CORIO_LIKELY(loop_ref == 0 || (l != nullptr && l->ref() == loop_ref))) return;
  check_confined_slow(loop_ref, what);
}

// Future `f` is about to complete (set_result, set_exception, cancel):
// as check_confined, and if a task awaits it while its loop is closed or
// gone, Python's RuntimeError("Event loop is closed"), before anything changes.
CORIO_ALWAYS_INLINE void check_completable(const future_core* f, const char* what) {
  const loop_core* l = tls.running_loop;
  if (CORIO_LIKELY(l != nullptr && l->ref() == f->loop_ref_)) return;
  check_completable_slow(f, what);
}

}  // namespace corio::detail

// Python: threading.Thread and the module functions about threads:
// current_thread, main_thread, enumerate, active_count, get_ident,
// get_native_id, excepthook.
//
// Daemon threads, in C++ terms. A thread is a daemon or not from the start
// (by default: as the thread that creates it; the main thread is not a
// daemon, and threads corio did not start count as daemons, as Python's
// dummy threads do). The flag decides what happens when a started thread's
// object is destroyed, and at exit:
// - non-daemon: the destructor joins the thread (never std::terminate, as a
//   joinable std::thread would), and at exit() the process waits for every
//   non-daemon thread still running whose object was never destroyed
//   (Python: the interpreter waits for non-daemon threads at shutdown);
// - daemon: the destructor detaches the thread, which runs on with its own
//   copy of the target and arguments, and the process does not wait for it
//   at exit (it is stopped, mid-work, when the process ends).
// The wait at exit is an atexit handler registered by the first start(), so
// std::quick_exit and _exit skip it, and a thread calling exit() does not
// wait for itself.
//
// A subclass that overrides run() runs on its object, so the object must
// outlive the run: join the thread before the object goes, or call settle()
// first in the subclass's destructor, which joins (or, for a daemon, waits
// until run() returns) before members go. The base destructor cannot do it
// for the subclass (its members are gone by then): it finds a subclass
// object started and neither joined nor settled, and stops the process with
// a message naming the thread, in every build (as std::thread does for a
// joinable thread).
#pragma once

#include <corio/detail/repr.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/thread_target.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::threading {

namespace detail {
struct thread_state;
struct handle_access;
}  // namespace detail

/// Python: threading.get_ident(): the calling thread's identifier (its
/// pthread_t). Never 0; may be reused once the thread has ended.
std::uint64_t get_ident() noexcept;
/// Python: threading.get_native_id(): the kernel's thread id (gettid()).
std::uint64_t get_native_id() noexcept;

/// A thread as threading's module functions report it (Python: the Thread
/// object that current_thread() and enumerate() return): a corio thread, the
/// main thread, or a "dummy" for a thread corio did not start. Cheap to copy;
/// keeps what it reports alive after the thread ends. Two handles compare
/// equal when they refer to the same thread.
class thread_handle {
 public:
  /// Python: Thread.name.
  std::string name() const;
  /// Python: `Thread.name = ...`. For a running corio thread this also sets
  /// the OS thread name (first 15 bytes).
  void set_name(std::string name);
  /// Python: Thread.ident (None before the thread started).
  std::optional<std::uint64_t> ident() const noexcept;
  /// Python: Thread.native_id (None before the thread started).
  std::optional<std::uint64_t> native_id() const noexcept;
  /// Python: Thread.is_alive(): started and not yet ended.
  bool is_alive() const noexcept;
  /// Python: Thread.daemon.
  bool daemon() const noexcept;

  friend bool operator==(const thread_handle& a, const thread_handle& b) noexcept { return a.state_ == b.state_; }
  /// Python: repr(thread): `<Thread(Thread-1, started 140234)>`,
  /// `<Thread(worker, started daemon 140234)>`, `<Thread(Thread-2, initial)>`,
  /// `<Thread(Thread-1, stopped 140234)>` (the number is ident()); the class
  /// is `_MainThread`, `_DummyThread`, `Timer`, or a subclass's type name,
  /// as Python prints the object's class. Callable from any thread.
  friend std::ostream& operator<<(std::ostream& os, const thread_handle& t);

 private:
  friend struct detail::handle_access;
  explicit thread_handle(std::shared_ptr<detail::thread_state> s) noexcept : state_(std::move(s)) {}
  std::shared_ptr<detail::thread_state> state_;
};

/// Python: threading.current_thread(). For a thread corio did not start, a
/// "Dummy-N" entry (a daemon) is made on the first call and dropped when that
/// thread exits (Python: _DummyThread).
thread_handle current_thread();
/// Python: threading.main_thread(): the thread that runs main() ("MainThread").
thread_handle main_thread();
/// Python: threading.enumerate(): every thread alive now: the main thread,
/// started corio threads that have not ended, and dummies.
std::vector<thread_handle> enumerate();
/// Python: threading.active_count() == enumerate().size().
std::size_t active_count();

/// Python: threading.ExceptHookArgs.
struct excepthook_args {
  std::exception_ptr exc;  ///< exc_type, exc_value and exc_traceback in one
  thread_handle thread;    ///< the thread whose run() threw
};
using excepthook_fn = std::function<void(const excepthook_args&)>;

/// Python: threading.excepthook(args): called with whatever escapes a
/// thread's run(); calls the hook set by set_excepthook(), default_excepthook
/// if none. An exception from the hook itself is printed, not propagated.
void excepthook(const excepthook_args& args);
/// Python: threading.__excepthook__: prints "Exception in thread <name>:"
/// and the exception to stderr; ignores corio::system_exit, as Python ignores
/// SystemExit.
void default_excepthook(const excepthook_args& args);
/// Python: `threading.excepthook = fn`. An empty fn restores the default.
/// Returns the hook it replaces.
excepthook_fn set_excepthook(excepthook_fn fn);

/// Options for a thread (Python: Thread's name= and daemon= arguments).
struct thread_options {
  std::string name = {};            ///< empty: "Thread-N"
  std::optional<bool> daemon = {};  ///< empty: inherited from the creating thread
};

/// Python: threading.Thread. Either runs a target with arguments, copied
/// into the thread like std::thread's, or is subclassed with run()
/// overridden. Nothing runs until start(). Whatever escapes run() goes to
/// excepthook(); it never ends the process. Not copyable or movable (run()
/// may refer to the object). See the top of this header for daemon threads.
class thread {
 public:
  /// A thread with no target, to subclass: run() does nothing unless
  /// overridden.
  thread() : thread(thread_options{}) {}
  explicit thread(thread_options opts);
  /// Python: Thread(target=f, args=args).
  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, thread_options> &&
             !std::is_base_of_v<thread, std::remove_cvref_t<F>>)
  explicit thread(F&& f, Args&&... args)
      : thread(thread_options{}, std::forward<F>(f), std::forward<Args>(args)...) {}
  /// Python: Thread(target=f, args=args, name=..., daemon=...).
  template <class F, class... Args>
  thread(thread_options opts, F&& f, Args&&... args)
      : thread(detail::adopt_target_t{}, std::move(opts),
               detail::make_target(std::forward<F>(f), std::forward<Args>(args)...)) {}
  thread(const thread&) = delete;
  thread& operator=(const thread&) = delete;
  /// Joins a non-daemon thread, detaches a daemon one (see the header). For
  /// an object of a subclass, started and neither joined nor settled by the
  /// subclass's destructor: prints what went wrong and std::terminate().
  virtual ~thread();

  /// Python: Thread.start(). Returns once the thread runs (is_alive(),
  /// ident() set, listed by enumerate()). A second call throws
  /// std::runtime_error("threads can only be started once").
  void start();
  /// Python: Thread.join(). std::runtime_error for a thread not started, or
  /// when called by the thread itself.
  void join();
  /// Python: Thread.join(timeout). True if the thread has ended. Throws as
  /// join(), and std::invalid_argument if `timeout` is negative.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(detail::deadline_after(timeout, "thread.join"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool join(N) = delete;
  /// Python: Thread.is_alive().
  bool is_alive() const noexcept;

  /// Python: Thread.ident (None until started).
  std::optional<std::uint64_t> ident() const noexcept;
  /// Python: Thread.native_id (None until started).
  std::optional<std::uint64_t> native_id() const noexcept;
  /// Python: Thread.name ("Thread-N" unless given).
  std::string name() const;
  /// Python: `Thread.name = ...`; also the OS thread name (first 15 bytes)
  /// once it runs.
  void set_name(std::string name);
  /// Python: Thread.daemon.
  bool daemon() const noexcept;
  /// Python: `Thread.daemon = ...`. std::runtime_error once started.
  void set_daemon(bool daemon);
  /// This thread as current_thread() reports it.
  thread_handle handle() const noexcept;
  /// Python: repr(thread), as for thread_handle: `<Thread(Thread-1, started
  /// 140234)>`, with the object's dynamic type for a subclass (`Timer` for a
  /// timer). Callable from any thread.
  friend std::ostream& operator<<(std::ostream& os, const thread& t);

  /// Python: Thread.run(): calls the target with its arguments, once, then
  /// drops them. Overridden by subclasses. start() calls it in the new thread.
  virtual void run();

 protected:
  /// What the destructor does, earlier: joins a non-daemon thread; for a
  /// daemon, waits until run() no longer uses this object, then detaches.
  /// A subclass calls it first in its destructor (unless the thread is
  /// always joined before), see the header. Idempotent; nothing for a
  /// thread never started.
  void settle() noexcept;

 private:
  thread(detail::adopt_target_t, thread_options opts, std::unique_ptr<detail::thread_target> target);
  bool join_until(detail::clock::time_point deadline);
  static void bootstrap(thread* self, std::shared_ptr<detail::thread_state> st);

  std::shared_ptr<detail::thread_state> state_;
};

}  // namespace corio::threading

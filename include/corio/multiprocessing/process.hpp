// Python: multiprocessing.Process and the module functions about processes:
// current_process, parent_process, active_children, cpu_count,
// freeze_support.
//
// What a process runs, per start method (context.hpp):
// - fork: anything. The child is a copy of the parent at start(), running
//   the target (any callable, a lambda with captures included) or the
//   subclass's run() on its copy of the object.
// - spawn, forkserver: a function. The child is a fresh copy of the program
//   (/proc/self/exe), which must call freeze_support() first thing in
//   main(); it runs the target, a function or a capture-less lambda, found
//   by its offset in its module (the program or a shared library, through
//   dladdr: nothing to register), with its arguments decoded by the codec.
//   A callable with captures, or a subclass's run(), cannot go there:
//   start() raises std::invalid_argument naming the target's type.
// Arguments given beside the target (`process(f, 1, "x")`) always go
// through the codec's types: one that cannot cross a process is a
// compile-time error naming it, whatever the start method (with fork,
// capture what cannot cross in the callable instead).
//
// Exit codes (MP-03): 0 when run() returns, the code of a system_exit
// escaping it, 1 for any other exception (printed on the child's stderr
// after "Process <name>:"), -N when signal N ended the child. A child ends
// as Python's fork children do: it first terminates its daemonic children
// and waits for the others, then for its non-daemon threads, flushes
// stdio, and leaves with _exit (a fork child must not run the parent's
// static destructors and atexit handlers); a spawned child calls exit().
//
// When the main program exits normally (exit(), or returning from main),
// its daemonic children still running get SIGTERM, then every child is
// waited for (MP-11), from an atexit handler registered by the first
// start().
//
// Misuse raises in every build (Python asserts, MP-06): starting twice,
// joining a process never started or that another process started,
// changing daemon after the start, and a daemonic process starting one.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/tasks.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::multiprocessing {

class context;

namespace detail {

struct process_state;
using any_fn = void (*)();

// What a spawn or forkserver child needs to call the target: the function
// and the trampoline that decodes the arguments and calls it (both as
// addresses in this process, turned into module offsets at start()).
struct spawn_call {
  any_fn trampoline = nullptr;
  any_fn fn = nullptr;
  std::string args;      // the encoded argument tuple
  std::vector<int> fds;  // fds the arguments hold (connections), passed along
};

// The target and its arguments, type-erased.
struct target_base {
  virtual ~target_base() = default;
  virtual void call() = 0;  // in a fork child
  // For spawn and forkserver: none if the callable is not a function.
  virtual std::optional<spawn_call> spawnable() const = 0;
  virtual std::string describe() const = 0;  // the callable's type, for errors
};

template <class Fn, class... A>
void trampoline(any_fn fn, std::string_view args) {
  auto tup = decode<std::tuple<A...>>(args);
  std::apply(reinterpret_cast<Fn>(fn), std::move(tup));
}

template <class F>
concept function_like = requires(F f) {
  { +f } -> std::convertible_to<decltype(+f)>;
  requires std::is_pointer_v<decltype(+f)>;
  requires std::is_function_v<std::remove_pointer_t<decltype(+f)>>;
};

std::string type_name_of(const std::type_info& t);

template <class F, class... A>
struct target final : target_base {
  F f;
  std::tuple<A...> args;
  template <class G, class... B>
  explicit target(G&& g, B&&... b) : f(std::forward<G>(g)), args(std::forward<B>(b)...) {}
  void call() override { std::apply(f, std::move(args)); }  // once, in the child
  std::optional<spawn_call> spawnable() const override {
    // Instantiated with the class: an argument type without a codec fails
    // to compile here, in codec<T>, which names it.
    fd_collector fds;
    std::string enc = encode(args);
    if constexpr (function_like<const F&>) {
      using Fn = decltype(+f);
      return spawn_call{reinterpret_cast<any_fn>(&trampoline<Fn, A...>), reinterpret_cast<any_fn>(+f), std::move(enc),
                        std::move(fds.fds)};
    } else {
      return std::nullopt;
    }
  }
  std::string describe() const override { return type_name_of(typeid(F)); }
};

}  // namespace detail

/// Python: Process(name=..., daemon=...).
struct process_options {
  std::string name = {};            ///< empty: "<Class>-<i>" (MP-10)
  std::optional<bool> daemon = {};  ///< empty: the creating process's flag
};

/// A process as the module functions report it (Python: the Process objects
/// of current_process(), parent_process() and active_children()). Cheap to
/// copy; keeps what it reports alive.
class process_handle {
 public:
  using duration = std::chrono::duration<double>;
  /// Python: name.
  std::string name() const;
  /// Python: pid (and ident): none before the start.
  std::optional<pid_t> pid() const;
  std::optional<pid_t> ident() const { return pid(); }
  /// Python: daemon.
  bool daemon() const;
  /// Python: authkey: 32 random bytes in the main process, inherited.
  std::string authkey() const;
  /// Python: exitcode: none while it runs (or for the current process).
  std::optional<int> exitcode() const;
  /// Python: is_alive().
  bool is_alive() const;
  /// Python: join(timeout): returns when the process ended or the timeout
  /// passed (read exitcode to know which, MP-04); none waits as long as needed.
  void join(std::optional<duration> timeout = std::nullopt) const;
  /// Python: terminate() (SIGTERM) and kill() (SIGKILL); nothing once ended.
  void terminate() const;
  void kill() const;
  /// Python: sentinel: an fd that becomes readable when the process ends.
  int sentinel() const;
  friend bool operator==(const process_handle& a, const process_handle& b) noexcept { return a.s_ == b.s_; }

 private:
  friend class process;
  friend struct process_access;
  explicit process_handle(std::shared_ptr<detail::process_state> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::process_state> s_;
};

/// Python: multiprocessing.Process. Runs a target with arguments, or a
/// subclass's run(), in a child process started by start(). Not copyable
/// or movable (a fork child runs the object's copy). Destroying a process
/// whose child still runs leaves the child running (as Python does), still
/// listed by active_children() and waited for at exit.
class process {
 public:
  using duration = std::chrono::duration<double>;

  /// A process to subclass: run() does nothing unless overridden.
  process() : process(process_options{}) {}
  explicit process(process_options opts);
  /// Python: Process(target=f, args=args).
  template <class F, class... Args>
    requires(!std::is_same_v<std::remove_cvref_t<F>, process_options> &&
             !std::is_base_of_v<process, std::remove_cvref_t<F>>)
  explicit process(F&& f, Args&&... args) : process(process_options{}, std::forward<F>(f), std::forward<Args>(args)...) {}
  /// Python: Process(target=f, args=args, name=..., daemon=...).
  template <class F, class... Args>
  process(process_options opts, F&& f, Args&&... args)
      : process(std::move(opts), std::unique_ptr<detail::target_base>(
                                     new detail::target<std::decay_t<F>, std::decay_t<Args>...>(
                                         std::forward<F>(f), std::forward<Args>(args)...))) {}
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  virtual ~process();

  /// Python: start(), with the default context's start method (context.hpp).
  void start();
  /// Python: join(timeout). Returns nothing (MP-04): read exitcode.
  /// std::runtime_error for a process not started, or started by another
  /// process; std::invalid_argument once closed.
  void join(std::optional<duration> timeout = std::nullopt);
  /// join() in a running loop: waits on the sentinel through the loop.
  task<void> join_async();
  /// Python: is_alive().
  bool is_alive();
  /// Python: terminate(), kill(): SIGTERM, SIGKILL; nothing once it ended.
  void terminate();
  void kill();
  /// Python: close(): releases the pidfd and the rest. std::invalid_argument
  /// while the child runs; afterwards most calls raise
  /// std::invalid_argument("process object is closed"); twice is fine.
  void close();

  /// Python: pid / ident (none before the start).
  std::optional<pid_t> pid() const;
  std::optional<pid_t> ident() const { return pid(); }
  /// Python: exitcode (MP-03), none while it runs.
  std::optional<int> exitcode();
  /// Python: sentinel. std::invalid_argument before the start.
  int sentinel() const;
  /// Python: name, `name = ...`.
  std::string name() const;
  void set_name(std::string name);
  /// Python: daemon, `daemon = ...` (std::runtime_error once started).
  bool daemon() const;
  void set_daemon(bool daemon);
  /// Python: authkey.
  std::string authkey() const;
  /// This process as active_children() reports it.
  process_handle handle() const noexcept { return process_handle(s_); }

  /// Python: run(): calls the target with its arguments. Overridden by
  /// subclasses; runs in the child.
  virtual void run();

 private:
  friend class context;
  friend struct process_access;
  process(process_options opts, std::unique_ptr<detail::target_base> target);
  void start_with(const context& ctx);
  std::shared_ptr<detail::process_state> s_;
  std::unique_ptr<detail::target_base> target_;
};

/// Python: multiprocessing.current_process(): "MainProcess" in the main
/// process, the running child's process in a child.
process_handle current_process();
/// Python: multiprocessing.parent_process(): none in the main process; in a
/// child, the parent, whose is_alive() and join(timeout) follow its end.
std::optional<process_handle> parent_process();
/// Python: multiprocessing.active_children(): the children started and not
/// yet ended, reaping the ended ones on the way (MP-09).
std::vector<process_handle> active_children();
/// Python: multiprocessing.cpu_count() (and os.process_cpu_count() below
/// it: the CPUs this process may run on).
int cpu_count();

/// Python: multiprocessing.freeze_support(). Call it first in main() of a
/// program that starts processes with spawn or forkserver: in a child of
/// those, it runs the target (or the fork server) and exits without
/// returning; elsewhere it does nothing. Forgetting it is reported, never
/// a fork bomb: the child's program runs main() as usual, its first
/// attempt to start a process raises std::runtime_error, and it exits with
/// code 1 saying what was missing.
void freeze_support();

}  // namespace corio::multiprocessing

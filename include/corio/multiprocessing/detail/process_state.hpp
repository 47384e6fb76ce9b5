// The state behind a multiprocessing process and its handles, the
// per-process bookkeeping (who we are, our parent, our children), and the
// pieces the start methods share. Not for users.
#pragma once

#include <corio/detail/fork.hpp>
#include <corio/detail/unique_fd.hpp>
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/process.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace corio::multiprocessing::detail {

enum class state_kind : std::uint8_t { child, self, parent };
enum class phase : std::uint8_t { initial, started, closed };

struct process_state {
  state_kind kind = state_kind::child;
  // Guards what active_children() and the exit handler read while the
  // owner uses the process in another thread.
  mutable std::mutex mu;
  std::string name;  // empty until start() unless given
  bool daemon = false;
  std::vector<std::uint64_t> identity;  // MP-10: the parent's identity and our index
  std::string authkey;
  phase ph = phase::initial;
  std::string method;  // the start method it was started with
  pid_t pid = -1;
  corio::detail::unique_fd pidfd;   // our child (fork, spawn), or a pidfd of a parent/forkserver child
  corio::detail::unique_fd status;  // forkserver: readable when it ended, then holds the code
  std::optional<int> returncode;
  corio::detail::fork_origin origin;  // the process that started it (MP-06: only it may join)

  // Collects the exit status if it is known, waiting until `deadline`
  // (none: as long as needed; now: not at all). Call with mu held.
  std::optional<int> poll_locked(std::optional<std::chrono::steady_clock::time_point> deadline);
  int sentinel_locked() const;
  void signal(int sig);
};

// What a spawn or forkserver child is told: who it is and what to run.
struct child_payload {
  std::string method;
  std::string name;
  bool daemon = false;
  std::vector<std::uint64_t> identity;
  std::string authkey;
  std::int64_t parent_pid = 0;
  std::string parent_name;
  int parent_fd = -1;  // a pidfd of the parent, passed to the child
  std::string fn_module;
  std::uint64_t fn_offset = 0;
  std::string trampoline_module;
  std::uint64_t trampoline_offset = 0;
  std::string args;
  std::vector<int> fds;  // spawn: the fds the arguments refer to, by index
  CORIO_CODEC(method, name, daemon, identity, authkey, parent_pid, parent_name, parent_fd, fn_module, fn_offset,
              trampoline_module, trampoline_offset, args, fds)
};

// -- this process ------------------------------------------------------------

// The current process's own state (MainProcess, or the child we are).
std::shared_ptr<process_state> self();
// The next child index (MP-10), per process.
std::uint64_t next_index();
// Registers a started child (active_children, the exit handler).
void add_child(std::shared_ptr<process_state> s);
// In a new child: becomes `me`, with `parent` (null: none), and forgets
// the parent's children.
void become_child(std::shared_ptr<process_state> me, std::shared_ptr<process_state> parent);
// MP-11: terminates the daemonic children still running, then waits for
// every child. Called at exit and by a child before it leaves.
void exit_function() noexcept;
// Runs `body` as the child's run() and ends the process with its exit
// code (MP-03, MP-12): _exit, or exit() when `use_exit`.
[[noreturn]] void bootstrap(const std::function<void()>& body, bool use_exit) noexcept;
// Throws if this process may not start a child now (MP-06: a daemon; a
// spawned child whose main() skipped freeze_support()).
void check_may_start();
// A pidfd for this process, for a child's parent_process().
corio::detail::unique_fd self_pidfd();
// Flushes std::cout, std::cerr and every stdio stream.
void flush_stdio() noexcept;
// pidfd_open(pid): -1 with errno on failure.
int pidfd_open(pid_t pid) noexcept;

// -- start methods -------------------------------------------------------------

void start_fork(process_state& s, const std::function<void()>& body);
void start_spawn(process_state& s, const spawn_call& call, const std::string& target_type);
void start_forkserver(process_state& s, const spawn_call& call, const std::string& target_type);
// Stops the fork server, if one runs, and reaps it (at exit; tests).
void stop_forkserver() noexcept;

// The name of the environment variable that tells a spawned copy of the
// program what it is ("spawn:<fd>" or "forkserver:<fd>").
inline constexpr const char* kChildEnv = "CORIO_MULTIPROCESSING_CHILD";

}  // namespace corio::multiprocessing::detail

// Starting a child process: what corio::subprocess::popen, the asyncio
// subprocesses and multiprocessing's spawn start method share. Not for
// users.
//
// How, and why:
// - The child is made with clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD), as
//   glibc's posix_spawn and CPython's _posixsubprocess (vfork) do: no page
//   table is copied, so spawning from a parent with gigabytes resident costs
//   what it costs from a small one. The calling thread sleeps until the
//   child has called execve or exited; other threads run on.
// - posix_spawn itself lacks what Python's Popen does: the PATH of the
//   child's environment, several exec candidates tried in order, close_fds
//   that spares pass_fds, and telling a failed chdir from a failed exec. So
//   the child is corio's own, a short function that only makes system calls
//   (it shares the parent's memory: no allocation, no lock, no libc state).
// - Failures in the child (chdir, exec, setsid...) come back through the
//   memory it shares with the parent, which reads them once the child is
//   gone (CLONE_VFORK): there is no error pipe to leak.
// - CLONE_PIDFD gives the child's pidfd atomically with its pid, so no other
//   code reaping children (waitpid(-1) elsewhere) can make us watch a
//   recycled pid. Exits are then learnt by polling the pidfd (a loop's poll
//   op, or poll(2) in a blocking wait) and collected with waitid(P_PIDFD):
//   no SIGCHLD handler, no watcher thread, never waitpid(-1).
// - Signal handlers would run in the child on the parent's memory: every
//   signal is blocked around clone, and the child sets each caught signal
//   back to SIG_DFL before restoring the caller's mask and calling execve.
#pragma once

#include <corio/detail/unique_fd.hpp>

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace corio::detail {

// What to start and how (Python: the arguments of Popen._execute_child).
struct spawn_request {
  // The child's argv; argv[0] is the name it sees. Not empty.
  std::vector<std::string> argv;
  // What to execute: a path containing '/' is used as it is (a relative one
  // against `cwd`), a bare name is searched in the PATH of `env` (of this
  // process when env is not given; /bin:/usr/bin without PATH).
  std::string program;
  // The child's environment as "NAME=value" strings; none: this process's.
  std::optional<std::vector<std::string>> env;
  // The child's working directory; empty: the parent's.
  std::string cwd;
  // The fds that become the child's 0, 1 and 2; -1 leaves that fd as the
  // parent has it. Any fd may be given (also 0-2 swapped).
  int stdio[3] = {-1, -1, -1};
  // Close every fd >= 3 but pass_fds in the child (Python: close_fds=True).
  bool close_fds = true;
  // Fds the child keeps, inheritable, under the same numbers.
  std::vector<int> pass_fds;
  // SIGPIPE and SIGXFSZ, if ignored here, are default in the child.
  bool restore_signals = true;
  bool start_new_session = false;  // setsid()
  int process_group = -1;          // >= 0: setpgid(0, process_group)
};

// A started child: its pid and a pidfd that refers to it alone.
struct spawned_child {
  pid_t pid = -1;
  unique_fd pidfd;
};

// Starts the child. A failed chdir or exec raises the os_error subclass of
// its errno (file_not_found_error, permission_error, ...) naming the
// program, or the cwd, which is also its filename(); the child is reaped
// and nothing is left open. std::invalid_argument for an empty argv or a
// NUL in an argument, the program, the cwd or the environment.
spawned_child spawn(const spawn_request& r);

// Builds the "NAME=value" block of a child's environment: `base` (or this
// process's environment when null), then `extra` added or overriding.
// std::invalid_argument for a name holding '=' or NUL, or a value holding
// NUL (Python: ValueError).
std::vector<std::string> environment_block(const std::map<std::string, std::string>* base,
                                           const std::map<std::string, std::string>& extra);

}  // namespace corio::detail

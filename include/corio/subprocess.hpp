// Python: asyncio.subprocess: create_subprocess_exec, create_subprocess_shell
// and Process. The child's pipes are a stream_writer (stdin) and
// stream_readers (stdout, stderr) on the running loop, on either I/O
// backend. The child's exit is learnt through its pidfd, polled by the loop:
// no SIGCHLD handler and no watcher thread, so any loop in any thread can
// run children, and only our own children are ever reaped. Spawning runs on
// the loop's thread (a vfork-style clone, no copy of the parent's memory);
// nothing blocks the loop afterwards. The stdio values are those of the
// subprocess module (Python re-exports subprocess.PIPE): subprocess::pipe,
// devnull, stdout, inherit, or an fd.
#pragma once

#include <corio/stream_reader.hpp>
#include <corio/stream_writer.hpp>
#include <corio/subprocess/options.hpp>
#include <corio/tasks.hpp>

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace corio {

namespace detail {
class process_core;
struct process_access;
}  // namespace detail

/// Python: the keyword arguments of create_subprocess_exec and
/// create_subprocess_shell (and of the Popen under them), bytes only.
/// Designated initializers follow this order.
struct process_options {
  subprocess::stdio stdin{};
  subprocess::stdio stdout{};
  subprocess::stdio stderr{};
  /// Python: limit=2**16, the stdout and stderr readers' limit.
  std::size_t limit = stream_reader::default_limit;
  std::optional<std::string> cwd{};
  /// The child's whole environment (none: this process's).
  std::optional<subprocess::environment> env{};
  /// Added to (or replacing entries of) the environment.
  subprocess::environment extra_env{};
  /// What is executed; the program name is still argv[0] (shell: replaces /bin/sh).
  std::optional<std::string> executable{};
  bool close_fds = true;
  std::vector<int> pass_fds{};
  bool restore_signals = true;
  bool start_new_session = false;
  std::optional<pid_t> process_group{};
};

/// Python: asyncio.subprocess.Process. Owns the child: destroying a process
/// whose child still runs kills it (SIGKILL) and reaps it, as Python does
/// when the subprocess transport is closed (SP-09); its pipes are closed.
/// Move-only; loop-bound like every asyncio object.
class process {
 public:
  process(process&& o) noexcept;
  process& operator=(process&& o) noexcept;
  process(const process&) = delete;
  process& operator=(const process&) = delete;
  ~process();

  /// Python: pid.
  pid_t pid() const noexcept;
  /// Python: returncode: none while the child runs, then its exit status,
  /// or -N when signal N ended it (SP-06).
  std::optional<int> returncode() const noexcept;

  /// Python: stdin, stdout, stderr: the child's pipes, or null for a stream
  /// that is not a pipe. What the child wrote before it exited stays
  /// readable after the exit (SP-10).
  stream_writer* stdin() noexcept;
  stream_reader* stdout() noexcept;
  stream_reader* stderr() noexcept;

  /// Python: `await proc.wait()`: the returncode, once the child has exited
  /// (not waiting for its pipes to close, as in Python 3.11). Cancelled,
  /// it leaves the child running and the process usable (SP-08). Throws
  /// child_process_error if the exit status could not be collected
  /// (SIGCHLD ignored in this process, or reaped elsewhere). Resumes on the
  /// loop's thread.
  task<int> wait();
  /// Python: `await proc.communicate(input=None)`: writes `input` to stdin
  /// and closes it (a child that left without reading it is not an error,
  /// SP-05), reads stdout and stderr to EOF together, waits for the exit,
  /// and returns (stdout, stderr), none for a stream that is not a pipe.
  /// Cancelled, it leaves the child running and the process usable, and
  /// what it had read is kept for the next communicate (SP-08).
  task<subprocess::communicate_result> communicate();
  task<subprocess::communicate_result> communicate(subprocess::bytes input);
  /// Python: send_signal(sig). Does nothing once the child has been reaped.
  void send_signal(int sig);
  /// Python: terminate(): SIGTERM.
  void terminate();
  /// Python: kill(): SIGKILL.
  void kill();


 private:
  friend struct detail::process_access;
  explicit process(detail::process_core* c) noexcept;
  detail::process_core* c_;
};

/// Python: `await asyncio.create_subprocess_exec(program, *args, ...)`:
/// starts `program` (searched in PATH when it has no '/') with `args`, on
/// the running loop, and returns once it has started. A program that
/// cannot start raises the os_error family from the await
/// (file_not_found_error, permission_error, ... naming it), leaving
/// nothing behind (SP-01). Overloads rather than default arguments: GCC 12
/// miscompiles defaulted arguments holding strings inside co_await (see
/// the guide, which also shows how to pass braced arguments on GCC 12).
task<process> create_subprocess_exec(std::string program);
task<process> create_subprocess_exec(std::string program, std::vector<std::string> args);
task<process> create_subprocess_exec(std::string program, std::vector<std::string> args, process_options options);
task<process> create_subprocess_exec(std::string program, process_options options);

/// Python: `await asyncio.create_subprocess_shell(cmd, ...)`: `cmd` run by
/// /bin/sh -c.
task<process> create_subprocess_shell(std::string cmd);
task<process> create_subprocess_shell(std::string cmd, process_options options);

}  // namespace corio

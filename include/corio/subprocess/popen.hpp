// Python: subprocess.Popen. A running child with pipes to it; blocking
// calls usable from any thread (wait and poll from several at once: the
// child is reaped once, SS-21). The destructor closes the pipes and waits
// for the child, as Python's `with Popen(...)` does on exit (SS-22).
#pragma once

#include <corio/subprocess/errors.hpp>
#include <corio/subprocess/options.hpp>
#include <corio/subprocess/pipe_file.hpp>

#include <sys/types.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace corio::subprocess {

/// A timeout in seconds (Python's float): any std::chrono duration.
using timeout_duration = std::chrono::duration<double>;

/// Python: subprocess.Popen(args, **options).
class popen {
 public:
  /// Starts the child. A program that cannot be started raises, here, the
  /// os_error subclass of the failure (file_not_found_error,
  /// permission_error...) naming it (filename(): the program, or the cwd
  /// when that was the trouble); nothing is left behind then. Conflicting
  /// or malformed options raise std::invalid_argument before anything
  /// starts.
  explicit popen(command args, popen_options options = {});
  /// The same for a braced list: `popen p({"ls"})` (without it, a list of
  /// one could also mean the move constructor).
  explicit popen(std::initializer_list<std::string> args, popen_options options = {})
      : popen(command(args), std::move(options)) {}
  popen(popen&&) noexcept;
  /// Waits for the child this one held (as the destructor does), then takes o's.
  popen& operator=(popen&& o) noexcept;
  /// Python: Popen.__exit__: closes stdout, stderr and stdin, then waits for
  /// the child, however long it runs (SS-22). Dropping a running child
  /// without waiting (SS-23) is not offered: kill() first to end it.
  ~popen();

  /// Python: args, as given.
  const command& args() const noexcept;
  /// Python: pid.
  pid_t pid() const noexcept;
  /// Python: returncode: none until the child has been reaped (by wait or
  /// poll), then its exit status, or -N when signal N ended it (SS-19).
  std::optional<int> returncode() const noexcept;

  /// Python: stdin / stdout / stderr: the pipe file, or null when that
  /// stream is not a pipe.
  pipe_file* stdin() noexcept;
  pipe_file* stdout() noexcept;
  pipe_file* stderr() noexcept;

  /// Python: poll(). Never blocks: the returncode, or none while it runs.
  std::optional<int> poll();
  /// Python: wait(timeout=None). The returncode; timeout_expired after
  /// `timeout`, leaving the child running and this object usable.
  int wait(std::optional<timeout_duration> timeout = std::nullopt);
  /// Python: communicate(input=None, timeout=None). Writes `input` to stdin
  /// and closes it, reads stdout and stderr together to EOF (poll(2) on the
  /// pipes: no deadlock whatever the sizes), waits for the exit and returns
  /// (stdout, stderr). A child that closes its stdin early is not an error
  /// (SS-15). After `timeout`: timeout_expired holding what was read, the
  /// child left running; a later call resumes and returns all of it (SS-16).
  /// std::invalid_argument for new input once communication started.
  communicate_result communicate(std::optional<bytes> input = std::nullopt,
                                 std::optional<timeout_duration> timeout = std::nullopt);
  /// Python: send_signal(sig). Does nothing once the child has ended (SS-20).
  void send_signal(int sig);
  /// Python: terminate(): SIGTERM.
  void terminate();
  /// Python: kill(): SIGKILL.
  void kill();

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace corio::subprocess

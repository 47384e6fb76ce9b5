// Python: subprocess.SubprocessError, CalledProcessError, TimeoutExpired.
// A program that cannot be started raises the os_error family instead
// (<corio/os_errors.hpp>: file_not_found_error, permission_error...), as in
// Python.
#pragma once

#include <corio/subprocess/options.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace corio::subprocess {

/// Python: subprocess.SubprocessError, the base of the two below.
class subprocess_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Python: subprocess.CalledProcessError(returncode, cmd, output, stderr),
/// raised by check_call, check_output and run(check=true) for a non-zero
/// exit status. what(): "Command '<cmd>' returned non-zero exit status N."
/// or, for a signal, "Command '<cmd>' died with <Signals.SIGKILL: 9>." (SS-04).
class called_process_error : public subprocess_error {
 public:
  called_process_error(int returncode, command cmd, std::optional<bytes> output = std::nullopt,
                       std::optional<bytes> stderr = std::nullopt);
  int returncode() const noexcept { return returncode_; }
  /// The args as given (Python: cmd).
  const command& cmd() const noexcept { return cmd_; }
  /// The captured stdout; none when it was not captured (Python: output).
  const std::optional<bytes>& output() const noexcept { return output_; }
  /// Python: stdout, an alias of output.
  const std::optional<bytes>& stdout() const noexcept { return output_; }
  /// The captured stderr; none when it was not captured.
  const std::optional<bytes>& stderr() const noexcept { return stderr_; }

 private:
  int returncode_;
  command cmd_;
  std::optional<bytes> output_;
  std::optional<bytes> stderr_;
};

/// Python: subprocess.TimeoutExpired(cmd, timeout, output, stderr). Raised
/// by a wait or communicate that timed out (the child is left running) and
/// by run, call and check_output (which kill and reap the child first).
/// The output read before the timeout travels with it; none, not "", when
/// nothing was read (SS-16). what(): "Command '<cmd>' timed out after
/// <timeout> seconds".
class timeout_expired : public subprocess_error {
 public:
  timeout_expired(command cmd, std::chrono::duration<double> timeout, std::optional<bytes> output = std::nullopt,
                  std::optional<bytes> stderr = std::nullopt);
  const command& cmd() const noexcept { return cmd_; }
  std::chrono::duration<double> timeout() const noexcept { return timeout_; }
  const std::optional<bytes>& output() const noexcept { return output_; }
  const std::optional<bytes>& stdout() const noexcept { return output_; }
  const std::optional<bytes>& stderr() const noexcept { return stderr_; }

 private:
  command cmd_;
  std::chrono::duration<double> timeout_;
  std::optional<bytes> output_;
  std::optional<bytes> stderr_;
};

}  // namespace corio::subprocess

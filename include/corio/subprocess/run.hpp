// Python: subprocess.run, call, check_call, check_output, getoutput,
// getstatusoutput and CompletedProcess: one call that starts a child,
// feeds it, collects what it prints and waits for it. Blocking; usable
// from any thread (from a loop's thread, run them through to_thread).
#pragma once

#include <corio/subprocess/errors.hpp>
#include <corio/subprocess/options.hpp>
#include <corio/subprocess/popen.hpp>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace corio::subprocess {

/// Python: the keyword arguments of subprocess.run (and of call,
/// check_call, check_output), in run's order: Popen's options with input,
/// capture_output, timeout and check among them. Designated initializers
/// follow this order: `{.input = "x", .capture_output = true, .timeout = 5s}`.
/// The child's fields repeat popen_options' on purpose: a designated
/// initializer cannot name a member of a base, and `{.cwd = ...}` is the
/// spelling Python's keyword arguments call for.
struct run_options {
  stdio stdin{};
  /// Python: input. Sent to the child's stdin (a pipe), which then closes.
  std::optional<bytes> input{};
  stdio stdout{};
  stdio stderr{};
  /// Python: capture_output=True: stdout and stderr are both pipes.
  bool capture_output = false;
  bool shell = false;
  std::optional<std::string> cwd{};
  /// Python: timeout. On expiry the child is killed and reaped, then
  /// timeout_expired is raised with what it printed so far (SS-17).
  std::optional<timeout_duration> timeout{};
  /// Python: check=True: a non-zero returncode raises called_process_error.
  bool check = false;
  std::optional<environment> env{};
  environment extra_env{};
  std::optional<std::string> executable{};
  bool close_fds = true;
  std::vector<int> pass_fds{};
  bool restore_signals = true;
  bool start_new_session = false;
  std::optional<pid_t> process_group{};
};

/// Python: subprocess.CompletedProcess.
struct completed_process {
  command args;
  int returncode = 0;
  /// What the child printed; none unless it was captured (a pipe).
  std::optional<bytes> stdout{};
  std::optional<bytes> stderr{};
  /// Python: check_returncode(): called_process_error if returncode != 0.
  void check_returncode() const;
};

/// Python: subprocess.run(args, ...). Starts the child, communicates, and
/// waits. std::invalid_argument, before anything starts, for `input` with
/// `stdin`, or `capture_output` with `stdout` or `stderr` (SS-02). A program
/// that cannot start raises the os_error family (file_not_found_error...).
completed_process run(command args, run_options options = {});

/// Python: subprocess.call(args, timeout=...): the returncode. On a timeout
/// the child is killed and reaped, then timeout_expired (SS-05). `input`,
/// `capture_output` and `check` are not its arguments (std::invalid_argument).
int call(command args, run_options options = {});

/// Python: subprocess.check_call: 0, or called_process_error.
int check_call(command args, run_options options = {});

/// Python: subprocess.check_output: the captured stdout, or
/// called_process_error carrying it. `stdout` and `check` are not its
/// arguments (std::invalid_argument: "stdout argument not allowed, it will
/// be overridden.").
bytes check_output(command args, run_options options = {});

/// Python: subprocess.getstatusoutput(cmd): runs `cmd` with /bin/sh, stderr
/// folded into stdout, and returns (returncode, output) with one trailing
/// newline removed and newlines made "\n" (Python's text mode). Never
/// raises for the child's status: (-15, "") for a shell ended by SIGTERM.
std::pair<int, std::string> getstatusoutput(const std::string& cmd);

/// Python: subprocess.getoutput(cmd): getstatusoutput(cmd)'s output only.
std::string getoutput(const std::string& cmd);

}  // namespace corio::subprocess

// Python: the arguments every subprocess function shares: `args` (a
// sequence, or one string), where the child's stdin/stdout/stderr go
// (PIPE, DEVNULL, STDOUT, None, an fd), and the environment. The asyncio
// subprocesses (<corio/subprocess.hpp>) use the same stdio values, as
// asyncio.subprocess re-exports subprocess.PIPE.
#pragma once

#include <sys/types.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corio::subprocess {

/// Python: the bytes the subprocess functions take and return (text mode is
/// not offered: decode the bytes where text is wanted).
using bytes = std::string;

/// What communicate returns: (stdout, stderr), each none unless that stream
/// is a pipe (Python: the tuple of Popen.communicate and Process.communicate).
using communicate_result = std::pair<std::optional<bytes>, std::optional<bytes>>;

/// Python: an `env` mapping (NAME -> value).
using environment = std::map<std::string, std::string>;

/// Python: the `args` of Popen, run and the rest: a sequence of arguments
/// (`{"ls", "-l"}`), or one string, which is a command line with
/// `shell = true` and otherwise a program name run without arguments (no
/// word splitting, as in Python).
class command {
 public:
  command(std::initializer_list<std::string> args) : args_(args) {}
  command(std::vector<std::string> args) : args_(std::move(args)) {}
  command(std::string line) : args_{std::move(line)}, string_(true) {}
  command(std::string_view line) : command(std::string(line)) {}
  command(const char* line) : command(std::string(line)) {}

  /// True for the one-string form.
  bool is_string() const noexcept { return string_; }
  /// The arguments (the string form: one item, the string).
  const std::vector<std::string>& args() const noexcept { return args_; }
  /// Python's str(args): "['ls', '-l']" for a sequence, the string itself
  /// otherwise (as CalledProcessError and TimeoutExpired print it).
  std::string str() const;

  friend bool operator==(const command&, const command&) = default;

 private:
  std::vector<std::string> args_;
  bool string_ = false;
};

/// Where one of the child's standard streams goes (Python: the values of
/// stdin=, stdout=, stderr=). Use the constants below, or an fd.
class stdio {
 public:
  enum class kind : unsigned char {
    inherit,  ///< Python: None, the parent's own stream
    pipe,     ///< Python: PIPE
    devnull,  ///< Python: DEVNULL
    stdout,   ///< Python: STDOUT, for stderr only: wherever the child's stdout goes
    fd,       ///< an fd of this process, used as it is
  };
  constexpr stdio() noexcept = default;
  constexpr stdio(kind k) noexcept : kind_(k) {}
  /// An fd of this process (Python: stdout=fd). std::invalid_argument if
  /// negative: Python's PIPE (-1) and friends are spelled subprocess::pipe.
  constexpr stdio(int fd) : kind_(kind::fd), fd_(fd) {
    if (fd < 0) throw std::invalid_argument("subprocess: a negative fd is not a stdio value (use subprocess::pipe, devnull, stdout)");
  }
  constexpr kind what() const noexcept { return kind_; }
  /// The fd, for kind::fd (-1 otherwise).
  constexpr int fd() const noexcept { return fd_; }
  friend constexpr bool operator==(const stdio&, const stdio&) = default;

 private:
  kind kind_ = kind::inherit;
  int fd_ = -1;
};

/// Python: None: the child uses the parent's stream.
inline constexpr stdio inherit{};
/// Python: subprocess.PIPE: a pipe to this process.
inline constexpr stdio pipe{stdio::kind::pipe};
/// Python: subprocess.DEVNULL: /dev/null.
inline constexpr stdio devnull{stdio::kind::devnull};
/// Python: subprocess.STDOUT: stderr goes where the child's stdout goes.
/// (With `using namespace corio::subprocess`, C's stdout is `::stdout`.)
inline constexpr stdio stdout{stdio::kind::stdout};

/// Python: the keyword arguments of subprocess.Popen, in its order (bytes
/// only: no text, encoding, errors, universal_newlines, bufsize; no
/// preexec_fn). Designated initializers must follow this order:
/// `{.stdout = subprocess::pipe, .cwd = "/tmp"}`.
struct popen_options {
  stdio stdin{};
  stdio stdout{};
  stdio stderr{};
  /// Python: shell=True: run the string as `/bin/sh -c string`; with a
  /// sequence, its first item is the command line and the others are the
  /// shell's $0, $1...
  bool shell = false;
  /// Python: cwd. The child's working directory.
  std::optional<std::string> cwd{};
  /// Python: env. The child's whole environment (none: this process's).
  std::optional<environment> env{};
  /// Added to (or replacing entries of) the environment: this process's, or
  /// `env` when given. Python's `env={**os.environ, "X": "1"}`.
  environment extra_env{};
  /// Python: executable. What is executed; args[0] is still the child's
  /// argv[0]. With shell, it replaces /bin/sh.
  std::optional<std::string> executable{};
  /// Python: close_fds=True. Every fd >= 3 but pass_fds is closed in the child.
  bool close_fds = true;
  /// Python: pass_fds. Kept open (and inheritable) in the child, same numbers.
  std::vector<int> pass_fds{};
  /// Python: restore_signals=True. SIGPIPE and SIGXFSZ, if ignored here, are
  /// default in the child.
  bool restore_signals = true;
  /// Python: start_new_session. The child calls setsid().
  bool start_new_session = false;
  /// Python: process_group (3.11). The child calls setpgid(0, pgid).
  std::optional<pid_t> process_group{};
};

}  // namespace corio::subprocess

// Python's OSError family, as std::system_error subclasses. Every error an
// I/O call raises is one of these; its message names the call and what it
// was applied to (fd, address, path), and code() holds the errno.
#pragma once

#include <cerrno>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

namespace corio {

/// Python: OSError. what() is "<context>: <strerror>", code() the errno.
class os_error : public std::system_error {
 public:
  os_error(int err, const std::string& context) : std::system_error(err, std::generic_category(), context) {}
  os_error(std::error_code ec, const std::string& context) : std::system_error(ec, context) {}
  /// With the path the call was given (Python: OSError(errno, strerror, filename)).
  os_error(int err, const std::string& context, std::string filename)
      : std::system_error(err, std::generic_category(), context), filename_(std::move(filename)) {}
  /// Python: OSError.errno.
  int error_number() const noexcept { return code().value(); }
  /// Python: OSError.filename: the path involved ("" when none was).
  const std::string& filename() const noexcept { return filename_; }

 private:
  std::string filename_;
};

/// Python: ConnectionError (base of the four below).
class connection_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: ConnectionResetError (ECONNRESET).
class connection_reset_error : public connection_error {
 public:
  using connection_error::connection_error;
};
/// Python: ConnectionRefusedError (ECONNREFUSED).
class connection_refused_error : public connection_error {
 public:
  using connection_error::connection_error;
};
/// Python: ConnectionAbortedError (ECONNABORTED).
class connection_aborted_error : public connection_error {
 public:
  using connection_error::connection_error;
};
/// Python: BrokenPipeError (EPIPE, ESHUTDOWN).
class broken_pipe_error : public connection_error {
 public:
  using connection_error::connection_error;
};
/// Python: FileNotFoundError (ENOENT).
class file_not_found_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: FileExistsError (EEXIST).
class file_exists_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: PermissionError (EACCES, EPERM).
class permission_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: IsADirectoryError (EISDIR).
class is_a_directory_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: NotADirectoryError (ENOTDIR).
class not_a_directory_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: ChildProcessError (ECHILD): a child's exit status could not be
/// collected.
class child_process_error : public os_error {
 public:
  using os_error::os_error;
};
/// Python: ProcessLookupError (ESRCH): no such process.
class process_lookup_error : public os_error {
 public:
  using os_error::os_error;
};
/// The error category of getaddrinfo's EAI_* codes (message: gai_strerror).
const std::error_category& gai_category() noexcept;

/// Python: socket.gaierror. code() is the EAI_* value in gai_category().
class gai_error : public os_error {
 public:
  gai_error(int eai, const std::string& context) : os_error(std::error_code(eai, gai_category()), context) {}
};

/// The OSError subclass Python picks for errno `err`, with `context` as
/// the message prefix (e.g. "connect to 127.0.0.1:80").
std::exception_ptr make_os_error(int err, const std::string& context);
/// The same, carrying `filename` (Python: OSError.filename).
std::exception_ptr make_os_error(int err, const std::string& context, const std::string& filename);
/// Throws make_os_error(err, context).
[[noreturn]] void throw_os_error(int err, const std::string& context);
/// Throws make_os_error(errno, context).
[[noreturn]] inline void throw_errno(const std::string& context) { throw_os_error(errno, context); }

}  // namespace corio

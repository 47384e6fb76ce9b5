// Python: the exceptions of multiprocessing (ProcessError, BufferTooShort,
// multiprocessing.TimeoutError, EOFError as connections raise it) and
// RemoteTraceback, the cause of an exception that came from another
// process.
//
// An exception crosses a process as its type name, its message and the
// text of where it was raised (the codec's std::exception_ptr). The
// receiving side throws the same type when corio knows the name (corio's
// exceptions, the os_error family with its errno, the standard library's
// logic_error and runtime_error families), nested over a remote_traceback
// that holds the text (std::rethrow_if_nested reaches it, as Python's
// __cause__); any other type arrives as remote_error, which keeps the
// original name.
#pragma once

#include <stdexcept>
#include <string>

namespace corio::multiprocessing {

/// Python: multiprocessing.ProcessError, the base of multiprocessing's own errors.
class process_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Python: multiprocessing.BufferTooShort: recv_bytes_into's buffer cannot
/// hold the message, which the exception carries whole (Python: e.args[0]).
class buffer_too_short : public process_error {
 public:
  explicit buffer_too_short(std::string message)
      : process_error("buffer too short for a message of " + std::to_string(message.size()) + " bytes"),
        message_(std::move(message)) {}
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

/// Python: multiprocessing.TimeoutError.
class timeout_error : public process_error {
 public:
  using process_error::process_error;
};

/// Python: multiprocessing.AuthenticationError.
class authentication_error : public process_error {
 public:
  using process_error::process_error;
};

/// Python: EOFError, as Connection.recv raises it: the other end is closed
/// and nothing is left to read.
class eof_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Python: multiprocessing.pool.RemoteTraceback: the text of where an
/// exception was raised in another process, nested under the exception
/// rethrown here.
class remote_traceback : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An exception of a type corio does not know, raised in another process:
/// what() is "<type>: <message>". Python re-creates the original class; C++
/// cannot make a type from its name.
class remote_error : public std::runtime_error {
 public:
  remote_error(std::string type, std::string message, std::string traceback)
      : std::runtime_error(type + ": " + message),
        type_(std::move(type)),
        message_(std::move(message)),
        traceback_(std::move(traceback)) {}
  /// The original type's name ("my::parse_error").
  const std::string& type() const noexcept { return type_; }
  /// Its what().
  const std::string& message() const noexcept { return message_; }
  /// Where it was raised (Python: the RemoteTraceback text).
  const std::string& traceback() const noexcept { return traceback_; }

 private:
  std::string type_, message_, traceback_;
};

}  // namespace corio::multiprocessing

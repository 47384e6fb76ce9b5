// Python: the file objects of Popen.stdin, Popen.stdout and Popen.stderr
// (io.BufferedWriter / io.BufferedReader over a pipe), bytes only. Blocking
// calls, for use from any thread; one object is not meant to be used from
// two threads at once. Writes are not buffered (Python's bufsize=0), so
// there is nothing to flush.
#pragma once

#include <corio/detail/unique_fd.hpp>

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace corio::subprocess {

/// Python: the pipe file objects of a Popen.
class pipe_file {
 public:
  /// Takes `fd` (one end of a pipe; made non-blocking). `readable`: this
  /// end is read, else written. `name` says which stream, in errors
  /// ("stdout of pid 1234").
  pipe_file(detail::unique_fd fd, bool readable, std::string name);
  pipe_file(pipe_file&&) noexcept = default;
  pipe_file& operator=(pipe_file&&) noexcept = default;

  /// Python: fileno(); -1 once closed.
  int fileno() const noexcept { return fd_.get(); }
  /// Python: closed.
  bool closed() const noexcept { return !fd_; }
  /// Python: close(). Idempotent.
  void close() noexcept { fd_.reset(); }

  /// Python: read(n=-1): n bytes, or fewer at EOF; everything up to EOF
  /// for a negative n. Blocks.
  std::string read(std::ptrdiff_t n = -1);
  /// Python: read1(n): at most n bytes from one read of the pipe (what is
  /// buffered first); "" at EOF. Blocks until something is there.
  std::string read1(std::size_t n = 64 * 1024);
  /// Python: readline(): through the next "\n", or what is left at EOF.
  std::string readline();
  /// Python: write(data): writes all of it (blocking while the pipe is
  /// full). broken_pipe_error once the child has closed its end.
  std::size_t write(std::string_view data);
  /// Python: flush(). Writes are not buffered: nothing to do.
  void flush() noexcept {}

  /// Bytes read from the pipe and not returned yet (what communicate takes
  /// first).
  std::string take_buffered() noexcept;

 private:
  bool fill();  // one read into buf_, waiting while empty; false at EOF
  void check_open(const char* call, bool want_readable) const;

  detail::unique_fd fd_;
  bool readable_;
  std::string name_;
  std::string buf_;
};

}  // namespace corio::subprocess

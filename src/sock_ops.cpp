#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/timeouts.hpp>

#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <stdexcept>

namespace corio {

namespace detail {

void throw_sock_error(int neg_errno, const char* call, int fd) {
  throw_os_error(-neg_errno, std::string(call) + " on fd " + std::to_string(fd));
}

void throw_sock_error(int neg_errno, const char* call, int fd, const socket_address& peer) {
  throw_os_error(-neg_errno, std::string(call) + " on fd " + std::to_string(fd) + " to " + peer.to_string());
}

}  // namespace detail

task<void> sock_sendall(socket& s, std::string_view data) {
  while (!data.empty()) {
    const std::size_t n = co_await sock_send(s, data);
    data.remove_prefix(n);
  }
}

task<void> detail::sock_sendall_owned(socket& s, std::string data) {
  std::string_view rest = data;
  while (!rest.empty()) {
    const std::size_t n = co_await sock_send(s, rest);
    rest.remove_prefix(n);
  }
}

namespace {

// Leaves the file's position where the sending stopped (Python seeks in a
// `finally`): runs on return, on error and when the task is cancelled.
struct seek_to_end_of_sent {
  int fd;
  std::uint64_t offset;
  const std::size_t& sent;
  ~seek_to_end_of_sent() { (void)::lseek(fd, static_cast<off_t>(offset + sent), SEEK_SET); }
};

std::string sendfile_what(const char* call, int file_fd, int sock_fd) {
  return std::string(call) + " of fd " + std::to_string(file_fd) + " on fd " + std::to_string(sock_fd);
}

// Python's _sock_sendfile_fallback: read a block, send it, until done. A
// pipe or a character device is read from where it is, when offset is 0.
task<void> sendfile_by_copy(socket& s, int file_fd, std::uint64_t offset, std::optional<std::size_t> count,
                            std::size_t& sent) {
  std::string block(std::size_t{256} * 1024, '\0');
  bool stream = false;
  for (;;) {
    std::size_t want = block.size();
    if (count) want = std::min(want, *count - sent);
    if (want == 0) break;
    const ssize_t n = stream ? ::read(file_fd, block.data(), want)
                             : ::pread(file_fd, block.data(), want, static_cast<off_t>(offset + sent));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ESPIPE && !stream && offset == 0 && sent == 0) {  // a pipe: read it as it comes
        stream = true;
        continue;
      }
      throw_os_error(errno, sendfile_what("sock_sendfile: read", file_fd, s.fileno()));
    }
    if (n == 0) break;
    co_await sock_sendall(s, std::string_view(block.data(), static_cast<std::size_t>(n)));
    sent += static_cast<std::size_t>(n);
  }
}

}  // namespace

task<std::size_t> sock_sendfile(socket& s, int file_fd, std::uint64_t offset, std::optional<std::size_t> count,
                                bool fallback) {
  const int sock_fd = s.fileno();
  if (sock_fd < 0) throw std::invalid_argument("sock_sendfile: the socket is closed");
  if (s.type() != SOCK_STREAM) throw std::invalid_argument("sock_sendfile: fd " + std::to_string(sock_fd) +
                                                           " is not a stream socket");
  if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
    throw std::invalid_argument("sock_sendfile: offset out of range");
  std::size_t sent = 0;
  seek_to_end_of_sent guard{file_fd, offset, sent};
  // A fast reader could keep sendfile succeeding for a long file: give the
  // other tasks a turn every few calls.
  int calls_since_wait = 0;
  for (;;) {
    std::size_t want = std::size_t{1} << 30;
    if (count) want = std::min(want, *count - sent);
    if (want == 0) break;
    off_t off = static_cast<off_t>(offset + sent);
    const ssize_t n = ::sendfile(sock_fd, file_fd, &off, want);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      if (++calls_since_wait == 16) {
        calls_since_wait = 0;
        co_await sleep(std::chrono::seconds(0));
      }
      continue;
    }
    if (n == 0) break;  // end of the file
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {
      calls_since_wait = 0;
      co_await wait_writable(sock_fd);
      continue;
    }
    if ((err == EINVAL || err == ENOSYS || err == ESPIPE) && sent == 0 && fallback) {
      co_await sendfile_by_copy(s, file_fd, offset, count, sent);
      break;
    }
    throw_os_error(err, sendfile_what("sock_sendfile", file_fd, sock_fd));
  }
  co_return sent;
}

}  // namespace corio

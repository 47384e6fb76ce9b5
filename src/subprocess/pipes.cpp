// Pipes to children and blocking waits (see detail/pipes.hpp).
#include <corio/detail/pipes.hpp>

#include <corio/os_errors.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace corio::detail {

namespace {

// A child's std fds are set up from fds >= 3 (see spawn.cpp): an fd the
// kernel gave below 3 (this process had 0-2 closed) moves up.
void move_above_2(unique_fd& fd, const char* what) {
  if (fd.get() >= 3) return;
  const int n = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (n < 0) throw_errno(what);
  fd.reset(n);
}

}  // namespace

pipe_ends make_pipe(bool parent_reads, bool nonblocking) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) < 0) throw_errno("subprocess: pipe2");
  pipe_ends p{unique_fd(fds[0]), unique_fd(fds[1])};
  move_above_2(p.read, "subprocess: fcntl(F_DUPFD_CLOEXEC) of a pipe");
  move_above_2(p.write, "subprocess: fcntl(F_DUPFD_CLOEXEC) of a pipe");
  if (nonblocking) {
    const int fd = parent_reads ? p.read.get() : p.write.get();
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw_errno("subprocess: fcntl(O_NONBLOCK) of a pipe");
  }
  return p;
}

unique_fd open_devnull() {
  unique_fd fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!fd) throw_errno("subprocess: open /dev/null");
  move_above_2(fd, "subprocess: fcntl(F_DUPFD_CLOEXEC) of /dev/null");
  return fd;
}

ssize_t writev_nosignal(int fd, const iovec* iov, int n) noexcept {
  sigset_t pipe_only, old;
  ::sigemptyset(&pipe_only);
  ::sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  // A SIGPIPE can be pending only if it was blocked already (one arriving
  // while it was not was delivered): the common case needs no sigpending.
  bool was_pending = false;
  if (::sigismember(&old, SIGPIPE) == 1) {
    sigset_t pending;
    ::sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending = ::sigismember(&pending, SIGPIPE) == 1;
  }
  const ssize_t r = ::writev(fd, iov, n);
  const int err = errno;
  if (r < 0 && err == EPIPE && !was_pending) {
    // Take back the SIGPIPE this write raised (thread-directed, pending
    // while blocked); one raised elsewhere before stays.
    const timespec zero{};
    while (::sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  if (!::sigismember(&old, SIGPIPE)) ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return r < 0 ? -err : r;
}

ssize_t write_nosignal(int fd, const void* data, std::size_t n) noexcept {
  const iovec one{const_cast<void*>(data), n};
  return writev_nosignal(fd, &one, 1);
}

int poll_until(pollfd* fds, nfds_t n, const std::optional<std::chrono::steady_clock::time_point>& deadline) {
  for (;;) {
    timespec ts{};
    timespec* tp = nullptr;
    if (deadline) {
      const auto left = *deadline - std::chrono::steady_clock::now();
      if (left > std::chrono::steady_clock::duration::zero()) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      }
      tp = &ts;
    }
    const int r = ::ppoll(fds, n, tp, nullptr);
    if (r >= 0) return r;
    if (errno != EINTR) throw_errno("subprocess: poll");
  }
}

}  // namespace corio::detail

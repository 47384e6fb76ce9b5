// Pipes between a parent and its children, and the blocking waits of the
// sync subprocess module. Not for users.
//
// A write to a pipe whose reader has gone raises SIGPIPE in the writing
// thread, and its default action ends the process; MSG_NOSIGNAL exists for
// sockets only. corio does not change a process-wide disposition, so
// write_nosignal blocks SIGPIPE in the calling thread around the write and
// takes back a SIGPIPE the write raised (the usual technique: the signal is
// thread-directed and stays pending while blocked), leaving -EPIPE.
#pragma once

#include <corio/detail/unique_fd.hpp>

#include <poll.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <optional>

namespace corio::detail {

struct pipe_ends {
  unique_fd read;
  unique_fd write;
};

// pipe2(O_CLOEXEC), with both ends moved above 2 when the parent had fds
// 0-2 closed (a child's std fds are set up from fds >= 3). `nonblocking`:
// the end this process keeps (read or write, per `parent_reads`) is made
// O_NONBLOCK. Throws os_error naming the call.
pipe_ends make_pipe(bool parent_reads, bool nonblocking);

// /dev/null opened O_RDWR | O_CLOEXEC, above 2.
unique_fd open_devnull();

// write(2) that never raises SIGPIPE: bytes written, or -errno (-EPIPE
// when the reader has gone).
ssize_t write_nosignal(int fd, const void* data, std::size_t n) noexcept;
// writev(2) likewise.
ssize_t writev_nosignal(int fd, const iovec* iov, int n) noexcept;

// poll(2) until one of `fds` is ready or `deadline` passes (none: no limit),
// retrying after signals (EINTR). The number of ready fds; 0 on timeout.
int poll_until(pollfd* fds, nfds_t n, const std::optional<std::chrono::steady_clock::time_point>& deadline);

}  // namespace corio::detail

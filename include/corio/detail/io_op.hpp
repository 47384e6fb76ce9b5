// One I/O operation as the loop's backends see it. Not for users.
//
// The design is completion-based (docs/design.md, principle 3): the caller
// fills an io_op, hands it to the backend, and the backend calls `done` on
// the loop's thread when the operation has finished. io_uring runs the
// operation in the kernel; epoll waits for readiness and then makes the
// system call itself. Either way the caller sees the same thing: `res` is the
// system call's result (>= 0) or -errno.
//
// Multishot operations (a stream of received chunks, a stream of accepted
// connections) call `done` once per result with `more` set, and a last time
// with `more` clear; only after that last call may the op be reused or freed.
#pragma once

#include <cstddef>
#include <cstdint>

#include <sys/socket.h>

namespace corio::detail {

enum class io_kind : std::uint8_t {
  recv,        // recv(fd, buf, len, flags)
  send,        // send(fd, buf, len, flags | MSG_NOSIGNAL)
  recvmsg,     // recvmsg(fd, msg, flags)
  sendmsg,     // sendmsg(fd, msg, flags | MSG_NOSIGNAL)
  accept,      // accept4(fd, addr, addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK)
  connect,     // connect(fd, addr, addrlen): res 0 or -errno once settled
  poll,        // readiness: res is the revents mask (POLLIN, POLLOUT, ...)
  recv_multi,  // multishot recv: each chunk in `data`/`res`; res 0 is EOF
  accept_multi // multishot accept: each new fd in `res`
};

struct io_op {
  // Loop thread: the operation finished (or produced one more result).
  void (*done)(io_op*) noexcept = nullptr;
  io_kind kind = io_kind::recv;
  bool more = false;         // multishot: further results follow
  std::uint8_t state = 0;    // owned by the backend while in flight
  int fd = -1;
  std::int32_t res = 0;
  union {
    struct {
      void* buf;
      std::uint32_t len;
      int flags;
    } rw;
    struct {
      ::msghdr* msg;
      int flags;
    } msg;
    struct {
      ::sockaddr* addr;
      ::socklen_t* addrlen;
    } acc;
    struct {
      const ::sockaddr* addr;
      ::socklen_t addrlen;
    } con;
    std::uint32_t poll_mask;
    const char* data;  // recv_multi: the chunk (valid during `done` only)
  } u{};
  // Backend bookkeeping (epoll: the fd's wait list).
  io_op* next = nullptr;
  io_op* prev = nullptr;

  bool in_flight() const noexcept { return state != 0; }
};

}  // namespace corio::detail

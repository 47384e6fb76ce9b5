// Python: loop.sock_recv, sock_recv_into, sock_sendall, sock_sendfile,
// sock_connect, sock_accept, sock_recvfrom, sock_sendto: socket operations as awaitables
// on the running loop, plus readiness waits for foreign fds (what Python's
// add_reader/add_writer give a callback).
//
// Each call returns a small value to co_await at once; the operation runs on
// the loop's backend (io_uring or epoll) and allocates nothing beyond the
// std::string it returns. Cancelling the awaiting task stops the operation;
// bytes or a connection that arrived first are not lost (see
// detail/io_await.hpp). Errors raise os_error subclasses naming the call,
// the fd and the peer.
//
// Lifetimes, for a call scheduled rather than awaited at once (a task from
// create_task, or an awaitable held or passed to wait_for): bytes given as a
// std::string rvalue are moved into the task or the awaitable; a named
// string, a literal or a view is not copied and must outlive the operation.
// The socket is not owned either (corio::socket is a unique owner): it must
// outlive the operation, and one moved from or closed meanwhile makes the
// operation raise std::invalid_argument ("the socket is closed").
#pragma once

#include <corio/detail/io_await.hpp>
#include <corio/detail/owned_bytes.hpp>
#include <corio/socket.hpp>
#include <corio/tasks.hpp>

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace corio {

namespace detail {

// The error of a failed socket call, naming it and the fd.
[[noreturn]] void throw_sock_error(int neg_errno, const char* call, int fd);
[[noreturn]] void throw_sock_error(int neg_errno, const char* call, int fd, const socket_address& peer);

// A single-shot socket op: Prep fills the io_op, Finish turns res into the
// value (or throws).
template <class Self>
struct sock_awaiter : io_awaiter {
  socket* sock;
  explicit sock_awaiter(socket* s) noexcept : sock(s) {}
  bool await_suspend(std::coroutine_handle<> h) {
    op.fd = sock->fileno();
    if (op.fd < 0) throw std::invalid_argument(std::string(Self::call) + ": the socket is closed");
    static_cast<Self*>(this)->prep();
    const bool suspended = start(h, Self::call);
    sock->note_loop(loop->ref());
    return suspended;
  }
};

struct recv_into_awaiter : sock_awaiter<recv_into_awaiter> {
  static constexpr const char* call = "sock_recv_into";
  std::span<char> buf;
  int flags;
  recv_into_awaiter(socket* s, std::span<char> b, int f) noexcept : sock_awaiter(s), buf(b), flags(f) {}
  void prep() noexcept {
    op.kind = io_kind::recv;
    op.u.rw = {buf.data(), static_cast<std::uint32_t>(std::min<std::size_t>(buf.size(), 0x7fffffff)), flags};
  }
  std::size_t await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "recv", op.fd);
    return static_cast<std::size_t>(r);
  }
};

struct recv_awaiter : sock_awaiter<recv_awaiter> {
  static constexpr const char* call = "sock_recv";
  std::string data;
  recv_awaiter(socket* s, std::size_t n) : sock_awaiter(s) { data.resize(n); }
  void prep() noexcept {
    op.kind = io_kind::recv;
    op.u.rw = {data.data(), static_cast<std::uint32_t>(std::min<std::size_t>(data.size(), 0x7fffffff)), 0};
  }
  std::string await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "recv", op.fd);
    data.resize(static_cast<std::size_t>(r));
    return std::move(data);
  }
};

struct send_awaiter : sock_awaiter<send_awaiter> {
  static constexpr const char* call = "sock_send";
  std::string_view buf;
  send_awaiter(socket* s, std::string_view b) noexcept : sock_awaiter(s), buf(b) {}
  void prep() noexcept {
    op.kind = io_kind::send;
    op.u.rw = {const_cast<char*>(buf.data()), static_cast<std::uint32_t>(std::min<std::size_t>(buf.size(), 0x7fffffff)), 0};
  }
  std::size_t await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "send", op.fd);
    return static_cast<std::size_t>(r);
  }
};

// sock_send(s, std::string&&): the bytes live in the awaiter.
struct send_owned_awaiter : send_awaiter {
  std::string bytes;
  send_owned_awaiter(socket* s, std::string b) noexcept : send_awaiter(s, {}), bytes(std::move(b)) { buf = bytes; }
};

struct connect_awaiter : sock_awaiter<connect_awaiter> {
  static constexpr const char* call = "sock_connect";
  socket_address addr;
  connect_awaiter(socket* s, const socket_address& a) noexcept : sock_awaiter(s), addr(a) {}
  void prep() noexcept {
    op.kind = io_kind::connect;
    op.u.con = {addr.data(), addr.size()};
  }
  void await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "connect", op.fd, addr);
  }
};

struct accept_awaiter : sock_awaiter<accept_awaiter> {
  static constexpr const char* call = "sock_accept";
  socket_address peer;
  ::socklen_t len = socket_address::capacity();
  explicit accept_awaiter(socket* s) noexcept : sock_awaiter(s) {}
  void prep() noexcept {
    op.kind = io_kind::accept;
    op.u.acc = {peer.data(), &len};
  }
  std::pair<socket, socket_address> await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "accept", op.fd);
    peer.set_size(len);
    socket s = socket::adopt(r);
    return {std::move(s), peer};
  }
};

struct recvfrom_awaiter : sock_awaiter<recvfrom_awaiter> {
  static constexpr const char* call = "sock_recvfrom";
  std::string data;
  socket_address peer;
  ::iovec iov{};
  ::msghdr msg{};
  recvfrom_awaiter(socket* s, std::size_t n) : sock_awaiter(s) { data.resize(n); }
  void prep() noexcept {
    iov = {data.data(), data.size()};
    msg.msg_name = peer.data();
    msg.msg_namelen = socket_address::capacity();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    op.kind = io_kind::recvmsg;
    op.u.msg = {&msg, 0};
  }
  std::pair<std::string, socket_address> await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "recvfrom", op.fd);
    data.resize(static_cast<std::size_t>(r));
    peer.set_size(msg.msg_namelen);
    return {std::move(data), peer};
  }
};

struct sendto_awaiter : sock_awaiter<sendto_awaiter> {
  static constexpr const char* call = "sock_sendto";
  std::string_view buf;
  socket_address to;
  ::iovec iov{};
  ::msghdr msg{};
  sendto_awaiter(socket* s, std::string_view b, const socket_address& a) noexcept : sock_awaiter(s), buf(b), to(a) {}
  void prep() noexcept {
    iov = {const_cast<char*>(buf.data()), buf.size()};
    msg.msg_name = to.data();
    msg.msg_namelen = to.size();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    op.kind = io_kind::sendmsg;
    op.u.msg = {&msg, 0};
  }
  std::size_t await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "sendto", op.fd, to);
    return static_cast<std::size_t>(r);
  }
};

// sock_sendto(s, std::string&&, to): the bytes live in the awaiter.
struct sendto_owned_awaiter : sendto_awaiter {
  std::string bytes;
  sendto_owned_awaiter(socket* s, std::string b, const socket_address& a) noexcept
      : sendto_awaiter(s, {}, a), bytes(std::move(b)) {
    buf = bytes;
  }
};

struct poll_awaiter : io_awaiter {
  static constexpr const char* call = "wait_readable/wait_writable";
  poll_awaiter(int fd, std::uint32_t mask) noexcept {
    op.kind = io_kind::poll;
    op.fd = fd;
    op.u.poll_mask = mask;
  }
  bool await_suspend(std::coroutine_handle<> h) { return start(h, call); }
  std::uint32_t await_resume() {
    const int r = result();
    if (r < 0) throw_sock_error(r, "poll", op.fd);
    return static_cast<std::uint32_t>(r);
  }
};

// The value a sock_* call returns: its arguments, co_awaited at once (an
// rvalue hands its arguments over; a held one is copied, so it can be
// awaited again).
template <class Awaiter, class... Args>
struct sock_call {
  std::tuple<Args...> args;
  using corio_awaitable = void;
  Awaiter operator co_await() const& { return std::make_from_tuple<Awaiter>(args); }
  Awaiter operator co_await() && { return std::make_from_tuple<Awaiter>(std::move(args)); }
};

// sock_sendall(s, std::string&&): the task owns the bytes.
task<void> sock_sendall_owned(socket& s, std::string data);

}  // namespace detail

/// Python: loop.sock_recv(sock, n): up to n bytes ("" at end of stream).
inline detail::sock_call<detail::recv_awaiter, socket*, std::size_t> sock_recv(socket& s, std::size_t n) {
  return {{&s, n}};
}
/// Python: loop.sock_recv_into(sock, buf): bytes received into buf (0 at end of stream).
inline detail::sock_call<detail::recv_into_awaiter, socket*, std::span<char>, int> sock_recv_into(socket& s,
                                                                                                 std::span<char> buf) {
  return {{&s, buf, 0}};
}
/// Python: sock.send via the loop (one send call): how many bytes went.
inline detail::sock_call<detail::send_awaiter, socket*, std::string_view> sock_send(socket& s, std::string_view data) {
  return {{&s, data}};
}
/// The same for a std::string rvalue, which the returned awaitable owns.
template <class S>
  requires detail::string_rvalue<S>
detail::sock_call<detail::send_owned_awaiter, socket*, std::string> sock_send(socket& s, S&& data) {
  return {{&s, std::string(std::move(data))}};
}
/// Python: loop.sock_connect(sock, address).
inline detail::sock_call<detail::connect_awaiter, socket*, socket_address> sock_connect(socket& s,
                                                                                       const socket_address& addr) {
  return {{&s, addr}};
}
/// Python: loop.sock_accept(sock): (connection, peer address); the new
/// socket is non-blocking and close-on-exec.
inline detail::sock_call<detail::accept_awaiter, socket*> sock_accept(socket& s) { return {{&s}}; }
/// Python: loop.sock_recvfrom(sock, bufsize): (data, sender).
inline detail::sock_call<detail::recvfrom_awaiter, socket*, std::size_t> sock_recvfrom(socket& s, std::size_t n) {
  return {{&s, n}};
}
/// Python: loop.sock_sendto(sock, data, address): bytes sent.
inline detail::sock_call<detail::sendto_awaiter, socket*, std::string_view, socket_address> sock_sendto(
    socket& s, std::string_view data, const socket_address& to) {
  return {{&s, data, to}};
}
/// The same for a std::string rvalue, which the returned awaitable owns.
template <class S>
  requires detail::string_rvalue<S>
detail::sock_call<detail::sendto_owned_awaiter, socket*, std::string, socket_address> sock_sendto(
    socket& s, S&& data, const socket_address& to) {
  return {{&s, std::string(std::move(data)), to}};
}
/// Python: loop.sock_sendall(sock, data): sends everything, or raises. A
/// task: scheduled with create_task, `data` must outlive it (see the top of
/// this file), unless it is a std::string rvalue (next overload).
task<void> sock_sendall(socket& s, std::string_view data);
/// The same, the task owning the bytes: `create_task(sock_sendall(s,
/// make_payload()))` is safe, as in Python.
template <class S>
  requires detail::string_rvalue<S>
task<void> sock_sendall(socket& s, S&& data) {
  return detail::sock_sendall_owned(s, std::string(std::move(data)));
}
/// Python: loop.sock_sendfile(sock, file, offset=0, count=None,
/// fallback=True): sends `count` bytes (all, to the end of the file, when
/// empty) of the open file `file_fd` from `offset` over the stream socket
/// `s` with sendfile(2), waiting whenever the socket's buffer is full.
/// Returns the bytes sent. A file sendfile(2) cannot read (a pipe, say) is
/// read and sent instead when `fallback` (a pipe only from offset 0: it is
/// read as it comes), else raises os_error. As in
/// Python, the file's position is left at offset + bytes sent, also when
/// the call fails or is cancelled; `file_fd` stays open (the caller owns
/// it). A datagram socket is std::invalid_argument.
task<std::size_t> sock_sendfile(socket& s, int file_fd, std::uint64_t offset = 0,
                                std::optional<std::size_t> count = std::nullopt, bool fallback = true);
/// Waits until `fd` is readable; returns the poll(2) revents (Python:
/// loop.add_reader's readiness, as an awaitable).
inline detail::sock_call<detail::poll_awaiter, int, std::uint32_t> wait_readable(int fd) { return {{fd, POLLIN}}; }
/// Waits until `fd` is writable; returns the poll(2) revents.
inline detail::sock_call<detail::poll_awaiter, int, std::uint32_t> wait_writable(int fd) { return {{fd, POLLOUT}}; }

}  // namespace corio

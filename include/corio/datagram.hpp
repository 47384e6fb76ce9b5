// Python: loop.create_datagram_endpoint and the DatagramTransport it returns
// (UDP, and Unix datagram sockets). One handle with coroutine methods takes
// the place of the transport and its DatagramProtocol: `co_await
// ep.recvfrom()` instead of datagram_received, and an error is thrown by the
// call that meets it instead of going to error_received.
//
// Sending: Python's transport.sendto never waits. It sends at once when it
// can and otherwise keeps the datagram in the transport's buffer (calling
// pause_writing above the high-water mark). `co_await ep.sendto(data, addr)`
// makes the same attempt at once and returns without suspending when the
// kernel takes the datagram, which for UDP on Linux is nearly always. It
// suspends only while the socket's send buffer is full (EAGAIN; a Unix
// datagram socket whose peer reads slowly): the waiting task is the buffer,
// and the await is the backpressure. Nothing is queued in user space, so
// there is no write buffer to size or flush.
#pragma once

#include <corio/detail/io_await.hpp>
#include <corio/detail/owned_bytes.hpp>
#include <corio/detail/user_counted.hpp>
#include <corio/socket.hpp>
#include <corio/tasks.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <any>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace corio {

/// An address create_datagram_endpoint binds or connects to: a host and a
/// port (Python's (host, port) tuple; a name is resolved with
/// corio::getaddrinfo, a numeric address on the spot), or a socket_address
/// used as it is (also for AF_UNIX: socket_address::unix_path).
struct endpoint_address {
  endpoint_address(std::string h, std::uint16_t p) : host(std::move(h)), port(p) {}
  endpoint_address(const char* h, std::uint16_t p) : host(h), port(p) {}
  endpoint_address(const socket_address& a) noexcept : address(a) {}
  std::string host;
  std::uint16_t port = 0;
  socket_address address;  ///< used as it is when not empty
};

/// Options of create_datagram_endpoint (Python: its keyword arguments).
struct datagram_options {
  /// Python: local_addr: bind the socket here.
  std::optional<endpoint_address> local_addr;
  /// Python: remote_addr: connect the socket here (connected mode: send,
  /// recv, and errors such as ICMP port unreachable are reported).
  std::optional<endpoint_address> remote_addr;
  /// Python: family: AF_INET, AF_INET6 or AF_UNIX; restricts name
  /// resolution, and is required when neither address is given.
  int family = AF_UNSPEC;
  /// Python: proto and flags, passed on to getaddrinfo.
  int proto = 0;
  int flags = 0;
  /// Python: reuse_port (SO_REUSEPORT).
  bool reuse_port = false;
  /// Python: allow_broadcast (SO_BROADCAST).
  bool allow_broadcast = false;
};

namespace detail {

struct dgram_waiter;

// The endpoint's state, shared by its handles and by the operations in
// flight. Loop thread only.
class datagram_core final : public loop_resource, public user_counted<datagram_core> {
 public:
  datagram_core(loop_core* loop, socket sock);
  datagram_core(const datagram_core&) = delete;
  datagram_core& operator=(const datagram_core&) = delete;

  void on_last_user() noexcept { close(); }

  loop_core* loop() const noexcept { return loop_; }
  int fd() const noexcept { return sock_.fileno(); }
  bool is_closing() const noexcept { return closing_; }
  const socket_address& peer() const noexcept { return peer_; }
  socket_address sockname() const;
  void close() noexcept;
  void on_loop_close() noexcept override;

  // Operations suspended on the backend: close() cancels them, and the fd is
  // closed only after the last one has finished (the kernel may not have
  // looked the fd up yet).
  void add_waiter(dgram_waiter* w) noexcept;
  void remove_waiter(dgram_waiter* w) noexcept;

  // "recvfrom on fd 7 (local 127.0.0.1:5000, peer 127.0.0.1:6000)".
  std::string describe(const char* call) const;
  [[noreturn]] void throw_closed(const char* call) const;
  // Throws unless the endpoint is open and belongs to the running loop.
  void check_usable(const char* call) const;

 private:
  friend class user_counted<datagram_core>;
  ~datagram_core();
  void maybe_finish_close() noexcept;

  loop_core* loop_;
  socket sock_;
  int fd_;  // for messages, after the socket is closed too
  socket_address local_;
  socket_address peer_;  // empty: not connected
  dgram_waiter* waiters_ = nullptr;
  bool closing_ = false;
  bool loop_closed_ = false;
};

// A datagram operation: tried at once without the backend; only if the
// socket would block is it handed to the backend as an io_op, which is
// cancellable (io_awaiter) and which close() cancels too.
struct dgram_waiter : io_awaiter {
  datagram_core* core;
  dgram_waiter* wprev = nullptr;
  dgram_waiter* wnext = nullptr;
  bool registered = false;
  bool closed = false;  // the endpoint was closed while this waited
  ::iovec iov{};
  ::msghdr msg{};

  explicit dgram_waiter(datagram_core* c) noexcept : core(c) { core->retain(); }
  ~dgram_waiter();
  // Hands the prepared op to the backend; false if it finished at once.
  bool suspend_on_op(std::coroutine_handle<> h, const char* call);
  // The op's result once it finished (cancellation and close handled).
  std::int32_t outcome(const char* call);
};

// Waiting, it holds no buffer: the backend op is a zero-length MSG_PEEK
// receive that completes when a datagram is there, and only then is the
// datagram received (into a per-thread buffer, copied out at its size).
struct dgram_recv_awaiter : dgram_waiter {
  std::size_t max;
  std::string data;
  socket_address from;

  dgram_recv_awaiter(datagram_core* c, std::size_t m) noexcept : dgram_waiter(c), max(m) {}
  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);
  void finish();

 private:
  std::int32_t receive_now() noexcept;  // res, or -EAGAIN
  void prep_peek() noexcept;
  static void on_peek(io_op* o) noexcept;
};

template <bool WithSender>
struct dgram_recv_result_awaiter : dgram_recv_awaiter {
  using dgram_recv_awaiter::dgram_recv_awaiter;
  auto await_resume() {
    finish();
    if constexpr (WithSender)
      return std::pair<std::string, socket_address>(std::move(data), from);
    else
      return std::move(data);
  }
};

struct dgram_send_awaiter : dgram_waiter {
  std::string_view data;
  socket_address to;  // empty: to the connected peer

  dgram_send_awaiter(datagram_core* c, std::string_view d, const socket_address& a) noexcept
      : dgram_waiter(c), data(d), to(a) {}
  bool await_ready();
  bool await_suspend(std::coroutine_handle<> h);
  void await_resume();
};

// sendto(std::string&&, ...): the bytes live in the awaiter.
struct dgram_send_owned_awaiter : dgram_send_awaiter {
  std::string bytes;
  dgram_send_owned_awaiter(datagram_core* c, std::string d, const socket_address& a) noexcept
      : dgram_send_awaiter(c, {}, a), bytes(std::move(d)) {
    data = bytes;
  }
};

// What recvfrom() and sendto() return. Each holds the endpoint's state (not
// as a user: the last handle still closes the endpoint), so one scheduled
// after every handle has gone raises "closed" instead of touching freed
// memory.
template <bool WithSender>
struct dgram_recv_call {
  core_hold<datagram_core> core;
  std::size_t max;
  using corio_awaitable = void;
  dgram_recv_result_awaiter<WithSender> operator co_await() const {
    return dgram_recv_result_awaiter<WithSender>(core.get(), max);
  }
};

struct dgram_send_call {
  core_hold<datagram_core> core;
  std::string_view data;
  socket_address to;
  using corio_awaitable = void;
  dgram_send_awaiter operator co_await() const { return dgram_send_awaiter(core.get(), data, to); }
};

struct dgram_send_owned_call {
  core_hold<datagram_core> core;
  std::string data;
  socket_address to;
  using corio_awaitable = void;
  dgram_send_owned_awaiter operator co_await() const& { return dgram_send_owned_awaiter(core.get(), data, to); }
  dgram_send_owned_awaiter operator co_await() && {
    return dgram_send_owned_awaiter(core.get(), std::move(data), to);
  }
};

}  // namespace detail

/// Python: the DatagramTransport of loop.create_datagram_endpoint, with the
/// receiving side of its protocol as coroutines. A handle: copies share the
/// endpoint; when the last one goes the socket is closed. Loop thread only.
///
/// Every awaitable here resumes its task on the loop's thread. Cancelling a
/// task suspended in recvfrom/recv/sendto/send stops the operation and
/// throws cancelled_error; a datagram that had already arrived (or been
/// sent) counts, and the cancel is delivered at the next suspension.
/// Errors are os_error subclasses naming the fd and the addresses.
class datagram_endpoint {
 public:
  /// The receive size of recvfrom() and recv(): more than any UDP datagram.
  static constexpr std::size_t default_recv_size = 65536;

  datagram_endpoint() noexcept = default;
  explicit datagram_endpoint(detail::datagram_core* c) noexcept : c_(c) {}

  /// Python: transport.sendto(data, addr). Sends one datagram to `addr`;
  /// suspends only while the send buffer is full (see the file comment). On
  /// a connected endpoint `addr` must be the peer (std::invalid_argument
  /// otherwise). `data` must stay valid until the await ends, unless it is
  /// a std::string rvalue, which the returned awaitable owns (so it may be
  /// scheduled, through wait_for for instance, after the statement).
  detail::dgram_send_call sendto(std::string_view data, const socket_address& addr) const {
    return {detail::core_hold(&core()), data, addr};
  }
  template <class S>
    requires detail::string_rvalue<S>
  detail::dgram_send_owned_call sendto(S&& data, const socket_address& addr) const {
    return {detail::core_hold(&core()), std::string(std::move(data)), addr};
  }
  /// Python: transport.sendto(data) on a connected endpoint: to the peer.
  /// std::invalid_argument if the endpoint is not connected.
  detail::dgram_send_call send(std::string_view data) const { return {detail::core_hold(&core()), data, {}}; }
  template <class S>
    requires detail::string_rvalue<S>
  detail::dgram_send_owned_call send(S&& data) const {
    return {detail::core_hold(&core()), std::string(std::move(data)), {}};
  }
  /// Python: protocol.datagram_received(data, addr), awaited: the next
  /// datagram and its sender. A datagram longer than `max_size` is
  /// discarded and reported as os_error EMSGSIZE (with its size and
  /// sender); the endpoint stays usable. On a connected endpoint an ICMP
  /// error for an earlier datagram (port unreachable) is thrown here, as
  /// connection_refused_error (Python: protocol.error_received).
  detail::dgram_recv_call<true> recvfrom() const { return {detail::core_hold(&core()), default_recv_size}; }
  detail::dgram_recv_call<true> recvfrom(std::size_t max_size) const;
  /// As recvfrom, without the sender (for connected endpoints, mostly).
  detail::dgram_recv_call<false> recv() const { return {detail::core_hold(&core()), default_recv_size}; }
  detail::dgram_recv_call<false> recv(std::size_t max_size) const;

  /// Python: transport.close(). Closes at once (nothing is buffered); tasks
  /// waiting in a receive or send get os_error EBADF ("closed"), as do later
  /// calls. Idempotent.
  void close() noexcept {
    if (c_) c_->close();
  }
  /// Python: transport.abort(). The same as close(): with nothing buffered
  /// there is nothing to drop.
  void abort() noexcept { close(); }
  /// Python: transport.is_closing().
  bool is_closing() const noexcept { return !c_ || c_->is_closing(); }
  /// The local address (Python: get_extra_info("sockname")); the port the
  /// kernel picked once the endpoint has sent.
  socket_address sockname() const { return core().sockname(); }
  /// The connected peer (Python: get_extra_info("peername")); empty when
  /// not connected.
  const socket_address& peername() const { return core().peer(); }
  /// Python: transport.get_extra_info(name, default): "sockname",
  /// "peername" (socket_address; not when unconnected), "socket" (the fd,
  /// int); `fallback` otherwise.
  std::any get_extra_info(std::string_view name, std::any fallback = {}) const;
  /// The socket's fd (-1 once closed).
  int fileno() const noexcept { return c_ ? c_->fd() : -1; }
  explicit operator bool() const noexcept { return static_cast<bool>(c_); }

 private:
  detail::datagram_core& core() const;
  detail::user_ref<detail::datagram_core> c_;
};

/// Python: loop.create_datagram_endpoint(protocol_factory, local_addr,
/// remote_addr, family=, proto=, flags=, reuse_port=, allow_broadcast=).
/// Resolves the addresses, then tries each (family, protocol) they have in
/// common, in getaddrinfo's order, until a socket binds and connects; throws
/// the first failure if none does. With neither address, `family` must be
/// set (std::invalid_argument otherwise) and the socket is bound by the
/// kernel when it first sends. A stale Unix socket file at local_addr is
/// replaced.
task<datagram_endpoint> create_datagram_endpoint(datagram_options opts);
/// Python: create_datagram_endpoint(sock=sock): an existing SOCK_DGRAM
/// socket, bound and connected or not (std::invalid_argument otherwise).
task<datagram_endpoint> create_datagram_endpoint(socket sock);

}  // namespace corio

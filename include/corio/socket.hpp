// Python: the socket module's socket object and addresses, as much of them
// as asyncio programs use: an RAII socket that is always non-blocking and
// close-on-exec, and an address type for IPv4, IPv6 and Unix sockets.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace corio {

/// Python: a socket address: (host, port) for AF_INET, (host, port,
/// flowinfo, scope_id) for AF_INET6, a path for AF_UNIX (a leading '\0'
/// names an abstract socket).
class socket_address {
 public:
  /// An empty address (family AF_UNSPEC).
  socket_address() noexcept = default;
  /// Copies `len` bytes of a sockaddr.
  socket_address(const ::sockaddr* sa, ::socklen_t len);

  /// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "fe80::1%lo");
  /// throws std::invalid_argument for anything else (names go through
  /// getaddrinfo).
  static socket_address ip(std::string_view host, std::uint16_t port);
  /// An AF_UNIX address; throws std::invalid_argument if the path is too long.
  static socket_address unix_path(std::string_view path);

  int family() const noexcept { return ss_.ss_family; }
  bool empty() const noexcept { return len_ == 0; }
  /// Numeric host of an IP address ("" for others).
  std::string host() const;
  /// Port of an IP address (0 for others).
  std::uint16_t port() const noexcept;
  /// Path of a Unix address ("" for others).
  std::string path() const;
  /// "127.0.0.1:8080", "[::1]:8080", "/run/x.sock", "@abstract".
  std::string to_string() const;

  const ::sockaddr* data() const noexcept { return reinterpret_cast<const ::sockaddr*>(&ss_); }
  ::sockaddr* data() noexcept { return reinterpret_cast<::sockaddr*>(&ss_); }
  ::socklen_t size() const noexcept { return len_; }
  /// For system calls that fill the address in: capacity, then set_size.
  static constexpr ::socklen_t capacity() noexcept { return sizeof(::sockaddr_storage); }
  void set_size(::socklen_t n) noexcept { len_ = n; }

  friend bool operator==(const socket_address& a, const socket_address& b) noexcept;

 private:
  ::sockaddr_storage ss_{};
  ::socklen_t len_ = 0;
};

/// Python: socket.socket. Owns its fd, closes it when destroyed; created
/// non-blocking and close-on-exec, as asyncio needs its sockets. Errors
/// raise os_error subclasses naming the call, the fd and the address.
class socket {
 public:
  /// No socket (fileno() == -1).
  socket() noexcept = default;
  /// Python: socket.socket(family, type, proto).
  socket(int family, int type, int proto = 0);
  /// Python: socket.socket(fileno=fd): takes ownership of `fd` and makes it
  /// non-blocking.
  static socket adopt(int fd);
  /// Takes ownership of an fd the caller knows is already non-blocking and
  /// close-on-exec (from accept4 with those flags): no system call.
  static socket adopt_nonblocking(int fd) noexcept {
    socket s;
    s.fd_ = fd;
    return s;
  }
  socket(socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)), loop_ref_(o.loop_ref_) {}
  socket& operator=(socket&& o) noexcept;
  socket(const socket&) = delete;
  socket& operator=(const socket&) = delete;
  ~socket() { close(); }

  /// Python: fileno(); -1 once closed or detached.
  int fileno() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  /// Python: family / type (SO_DOMAIN / SO_TYPE).
  int family() const;
  int type() const;

  /// Python: bind(address).
  void bind(const socket_address& addr);
  /// Python: listen(backlog).
  void listen(int backlog = 128);
  /// Python: setsockopt(level, option, value) with an int value.
  void setsockopt(int level, int option, int value);
  /// Python: getsockopt(level, option) for an int option.
  int getsockopt(int level, int option) const;
  /// Python: getsockname() / getpeername().
  socket_address getsockname() const;
  socket_address getpeername() const;
  /// Python: shutdown(how) (SHUT_RD, SHUT_WR, SHUT_RDWR).
  void shutdown(int how);
  /// Python: close(). Idempotent; tells the loop that used it to forget it.
  void close() noexcept;
  /// Python: detach(): gives up ownership and returns the fd.
  int detach() noexcept;

  // Set by corio's I/O calls: the loop whose backend may know this fd.
  void note_loop(std::uint32_t loop_ref) noexcept { loop_ref_ = loop_ref; }

 private:
  int fd_ = -1;
  std::uint32_t loop_ref_ = 0;
};

/// Python: socket.socketpair(family, type, proto): two connected sockets.
std::pair<socket, socket> socketpair(int family = AF_UNIX, int type = SOCK_STREAM, int proto = 0);

}  // namespace corio

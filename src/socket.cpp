#include <corio/detail/loop_core.hpp>
#include <corio/os_errors.hpp>
#include <corio/socket.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace corio {

namespace {

std::string fd_context(const char* call, int fd) { return std::string(call) + " on fd " + std::to_string(fd); }

void set_nonblocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw_errno(fd_context("fcntl(O_NONBLOCK)", fd));
  const int fdf = ::fcntl(fd, F_GETFD);
  if (fdf >= 0) ::fcntl(fd, F_SETFD, fdf | FD_CLOEXEC);
}

}  // namespace

// -- socket_address -----------------------------------------------------------

socket_address::socket_address(const ::sockaddr* sa, ::socklen_t len) {
  if (len > sizeof ss_) throw std::invalid_argument("socket_address: sockaddr of " + std::to_string(len) + " bytes");
  std::memcpy(&ss_, sa, len);
  len_ = len;
}

socket_address socket_address::ip(std::string_view host, std::uint16_t port) {
  socket_address a;
  const std::string h(host);
  auto* v4 = reinterpret_cast<::sockaddr_in*>(&a.ss_);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(::sockaddr_in);
    return a;
  }
  // IPv6, with an optional %scope (interface name or number).
  std::string addr = h;
  std::uint32_t scope = 0;
  if (auto pct = h.find('%'); pct != std::string::npos) {
    addr = h.substr(0, pct);
    const std::string ifname = h.substr(pct + 1);
    scope = ::if_nametoindex(ifname.c_str());
    if (scope == 0) {
      char* end = nullptr;
      const unsigned long v = std::strtoul(ifname.c_str(), &end, 10);
      if (ifname.empty() || *end) throw std::invalid_argument("socket_address: unknown scope in '" + h + "'");
      scope = static_cast<std::uint32_t>(v);
    }
  }
  auto* v6 = reinterpret_cast<::sockaddr_in6*>(&a.ss_);
  if (::inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    v6->sin6_scope_id = scope;
    a.len_ = sizeof(::sockaddr_in6);
    return a;
  }
  throw std::invalid_argument("socket_address: '" + h + "' is not a numeric IPv4 or IPv6 address");
}

socket_address socket_address::unix_path(std::string_view path) {
  socket_address a;
  auto* un = reinterpret_cast<::sockaddr_un*>(&a.ss_);
  if (path.size() >= sizeof un->sun_path)
    throw std::invalid_argument("socket_address: Unix socket path longer than " +
                                std::to_string(sizeof un->sun_path - 1) + " bytes");
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  // Abstract names (leading '\0') count exactly; paths include their NUL.
  a.len_ = static_cast<::socklen_t>(offsetof(::sockaddr_un, sun_path) + path.size() +
                                    (!path.empty() && path[0] == '\0' ? 0 : 1));
  return a;
}

std::string socket_address::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const ::sockaddr_in*>(&ss_)->sin_addr, buf, sizeof buf);
  } else if (family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const ::sockaddr_in6*>(&ss_);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    if (v6->sin6_scope_id != 0) {
      std::string h(buf);
      h += '%';
      char ifname[IF_NAMESIZE] = {};
      if (::if_indextoname(v6->sin6_scope_id, ifname))
        h += ifname;
      else
        h += std::to_string(v6->sin6_scope_id);
      return h;
    }
  }
  return buf;
}

std::uint16_t socket_address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const ::sockaddr_in*>(&ss_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const ::sockaddr_in6*>(&ss_)->sin6_port);
  return 0;
}

std::string socket_address::path() const {
  if (family() != AF_UNIX || len_ <= offsetof(::sockaddr_un, sun_path)) return {};
  const auto* un = reinterpret_cast<const ::sockaddr_un*>(&ss_);
  std::size_t n = len_ - offsetof(::sockaddr_un, sun_path);
  if (un->sun_path[0] != '\0') n = ::strnlen(un->sun_path, n);
  return std::string(un->sun_path, n);
}

std::string socket_address::to_string() const {
  switch (family()) {
    case AF_INET: {
      std::string s = host();
      s += ':';
      s += std::to_string(port());
      return s;
    }
    case AF_INET6: {
      std::string s = "[";
      s += host();
      s += "]:";
      s += std::to_string(port());
      return s;
    }
    case AF_UNIX: {
      std::string p = path();
      if (!p.empty() && p[0] == '\0') p[0] = '@';
      return p.empty() ? std::string("<unnamed unix socket>") : p;
    }
    default:
      return "<no address>";
  }
}

bool operator==(const socket_address& a, const socket_address& b) noexcept {
  return a.len_ == b.len_ && std::memcmp(&a.ss_, &b.ss_, a.len_) == 0;
}

// -- socket -------------------------------------------------------------------

socket::socket(int family, int type, int proto) {
  fd_ = ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd_ < 0) throw_errno("socket(family " + std::to_string(family) + ", type " + std::to_string(type) + ")");
}

socket socket::adopt(int fd) {
  if (fd < 0) throw std::invalid_argument("socket::adopt: invalid fd " + std::to_string(fd));
  set_nonblocking(fd);
  socket s;
  s.fd_ = fd;
  return s;
}

socket& socket::operator=(socket&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    loop_ref_ = o.loop_ref_;
  }
  return *this;
}

int socket::family() const { return getsockopt(SOL_SOCKET, SO_DOMAIN); }
int socket::type() const { return getsockopt(SOL_SOCKET, SO_TYPE); }

void socket::bind(const socket_address& addr) {
  if (::bind(fd_, addr.data(), addr.size()) < 0) throw_errno(fd_context("bind", fd_) + " to " + addr.to_string());
}

void socket::listen(int backlog) {
  if (::listen(fd_, backlog) < 0) throw_errno(fd_context("listen", fd_));
}

void socket::setsockopt(int level, int option, int value) {
  if (::setsockopt(fd_, level, option, &value, sizeof value) < 0)
    throw_errno(fd_context("setsockopt", fd_) + " (option " + std::to_string(option) + ")");
}

int socket::getsockopt(int level, int option) const {
  int v = 0;
  ::socklen_t len = sizeof v;
  if (::getsockopt(fd_, level, option, &v, &len) < 0)
    throw_errno(fd_context("getsockopt", fd_) + " (option " + std::to_string(option) + ")");
  return v;
}

socket_address socket::getsockname() const {
  socket_address a;
  ::socklen_t len = socket_address::capacity();
  if (::getsockname(fd_, a.data(), &len) < 0) throw_errno(fd_context("getsockname", fd_));
  a.set_size(len);
  return a;
}

socket_address socket::getpeername() const {
  socket_address a;
  ::socklen_t len = socket_address::capacity();
  if (::getpeername(fd_, a.data(), &len) < 0) throw_errno(fd_context("getpeername", fd_));
  a.set_size(len);
  return a;
}

void socket::shutdown(int how) {
  if (::shutdown(fd_, how) < 0) throw_errno(fd_context("shutdown", fd_));
}

void socket::close() noexcept {
  if (fd_ < 0) return;
  if (loop_ref_ != 0) {
    if (detail::loop_core* l = detail::loop_from_ref(loop_ref_); l && !l->is_closed()) l->backend().forget_fd(fd_);
  }
  ::close(fd_);
  fd_ = -1;
}

int socket::detach() noexcept {
  if (fd_ >= 0 && loop_ref_ != 0) {
    if (detail::loop_core* l = detail::loop_from_ref(loop_ref_); l && !l->is_closed()) l->backend().forget_fd(fd_);
  }
  return std::exchange(fd_, -1);
}

std::pair<socket, socket> socketpair(int family, int type, int proto) {
  int fds[2];
  if (::socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto, fds) < 0) throw_errno("socketpair");
  socket a, b;
  a = socket::adopt(fds[0]);
  b = socket::adopt(fds[1]);
  return {std::move(a), std::move(b)};
}

}  // namespace corio

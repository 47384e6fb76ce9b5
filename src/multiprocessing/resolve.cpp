// Addresses to sockaddrs and back (see multiprocessing/detail/resolve.hpp).
#include <corio/multiprocessing/detail/resolve.hpp>

#include <corio/getaddrinfo.hpp>
#include <corio/os_errors.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace corio::multiprocessing::detail {

int af_of(family f) noexcept {
  switch (f) {
    case family::af_unix:
      return AF_UNIX;
    case family::af_inet:
      return AF_INET;
    case family::af_inet6:
      return AF_INET6;
  }
  return AF_UNSPEC;
}

namespace {
// The sockaddr of a numeric address; none for a host name.
std::optional<socket_address> numeric(const address& a) {
  if (a.is_unix()) return socket_address::unix_path(a.path());
  try {
    return socket_address::ip(a.host(), a.port());
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

}  // namespace

socket_address resolve_blocking(const address& a, family f, const char* who) {
  if (auto sa = numeric(a)) return *sa;
  addrinfo hints{};
  hints.ai_family = af_of(f);
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port());
  if (const int rc = ::getaddrinfo(a.host().c_str(), port.c_str(), &hints, &res); rc != 0)
    throw gai_error(rc, std::string(who) + ": getaddrinfo for " + a.to_string());
  socket_address sa(res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  return sa;
}

task<socket_address> resolve_async(address a, const char* who) {
  if (auto sa = numeric(a)) co_return *sa;
  auto entries = co_await corio::getaddrinfo(a.host(), a.port(), af_of(a.family()), SOCK_STREAM);
  if (entries.empty()) throw gai_error(EAI_NONAME, std::string(who) + ": getaddrinfo for " + a.to_string());
  co_return entries.front().address;
}

address from_sockaddr(const socket_address& sa) {
  if (sa.family() == AF_UNIX) return address(sa.path());
  return address(sa.host(), sa.port());
}

}  // namespace corio::multiprocessing::detail

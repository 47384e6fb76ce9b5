#include <corio/getaddrinfo.hpp>
#include <corio/os_errors.hpp>
#include <corio/threads.hpp>

#include <netdb.h>

#include <stdexcept>

namespace corio {

namespace {

std::vector<addrinfo_entry> resolve(const std::string& host, std::uint16_t port, int family, int type, int proto,
                                    int flags) {
  ::addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = type;
  hints.ai_protocol = proto;
  hints.ai_flags = flags;
  const std::string service = std::to_string(port);
  ::addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    std::string what = "getaddrinfo(";
    what += host.empty() ? std::string("<none>") : host;
    what += ", ";
    what += service;
    what += ')';
    if (rc == EAI_SYSTEM) throw_errno(what);
    throw gai_error(rc, what);
  }
  std::vector<addrinfo_entry> out;
  for (::addrinfo* ai = res; ai; ai = ai->ai_next) {
    addrinfo_entry e;
    e.family = ai->ai_family;
    e.type = ai->ai_socktype;
    e.proto = ai->ai_protocol;
    if (ai->ai_canonname) e.canonname = ai->ai_canonname;
    e.address = socket_address(ai->ai_addr, ai->ai_addrlen);
    out.push_back(std::move(e));
  }
  ::freeaddrinfo(res);
  return out;
}

// Python's _ipaddr_info: a numeric host needs no resolver.
bool numeric_answer(const std::string& host, std::uint16_t port, int family, int type, int proto,
                    std::vector<addrinfo_entry>& out) {
  if (host.empty()) return false;
  socket_address a;
  try {
    a = socket_address::ip(host, port);
  } catch (const std::invalid_argument&) {
    return false;
  }
  if (family != AF_UNSPEC && family != a.family()) return false;
  const int types[] = {SOCK_STREAM, SOCK_DGRAM};
  for (int t : types) {
    if (type != 0 && type != t) continue;
    addrinfo_entry e;
    e.family = a.family();
    e.type = t;
    e.proto = proto != 0 ? proto : (t == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
    e.address = a;
    out.push_back(std::move(e));
  }
  return true;
}

}  // namespace

task<std::vector<addrinfo_entry>> getaddrinfo(std::string host, std::uint16_t port, int family, int type, int proto,
                                              int flags) {
  std::vector<addrinfo_entry> out;
  if (numeric_answer(host, port, family, type, proto, out)) co_return out;
  co_return co_await to_thread(resolve, std::move(host), port, family, type, proto, flags);
}

task<std::pair<std::string, std::string>> getnameinfo(socket_address address, int flags) {
  co_return co_await to_thread([address, flags]() -> std::pair<std::string, std::string> {
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    const int rc = ::getnameinfo(address.data(), address.size(), host, sizeof host, serv, sizeof serv, flags);
    if (rc != 0) {
      if (rc == EAI_SYSTEM) throw_errno("getnameinfo(" + address.to_string() + ")");
      throw gai_error(rc, "getnameinfo(" + address.to_string() + ")");
    }
    return {host, serv};
  });
}

}  // namespace corio

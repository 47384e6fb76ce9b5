// Python: loop.getaddrinfo / loop.getnameinfo. Name resolution blocks, so it
// runs in the loop's default executor (as asyncio does); numeric hosts are
// answered on the spot without a thread.
#pragma once

#include <corio/socket.hpp>
#include <corio/tasks.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace corio {

/// One result of getaddrinfo (Python: the (family, type, proto, canonname,
/// sockaddr) tuple).
struct addrinfo_entry {
  int family = AF_UNSPEC;
  int type = 0;
  int proto = 0;
  std::string canonname;
  socket_address address;
};

/// Python: loop.getaddrinfo(host, port, family=0, type=0, proto=0,
/// flags=0). An empty host means the loopback address, or with AI_PASSIVE
/// the wildcard. Failures raise gai_error naming the host and port.
task<std::vector<addrinfo_entry>> getaddrinfo(std::string host, std::uint16_t port, int family = AF_UNSPEC,
                                              int type = 0, int proto = 0, int flags = 0);

/// Python: loop.getnameinfo(sockaddr, flags=0): (host, service).
task<std::pair<std::string, std::string>> getnameinfo(socket_address address, int flags = 0);

}  // namespace corio

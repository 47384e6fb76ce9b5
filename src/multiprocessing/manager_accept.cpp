// The server's side of a manager's transport: the listening socket, and
// what turns an accepted socket into a connection to serve.
#include "manager_server.hpp"

#include <corio/os_errors.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

namespace corio::multiprocessing::detail {

namespace {

// Python: an arbitrary address of the default family (AF_UNIX on Linux):
// a fresh path in the temporary directory.
socket_address fresh_unix_address() {
  const char* dir = std::getenv("TMPDIR");
  std::string base = dir != nullptr && *dir != '\0' ? dir : "/tmp";
  std::random_device rd;
  static const char hex[] = "0123456789abcdef";
  std::string tag;
  for (int i = 0; i < 12; ++i) tag += hex[rd() % 16];
  return socket_address::unix_path(base + "/corio-manager-" + std::to_string(::getpid()) + "-" + tag);
}

}  // namespace

socket manager_listen(const std::optional<socket_address>& address, socket_address& bound) {
  const socket_address want = address ? *address : fresh_unix_address();
  socket s(want.family(), SOCK_STREAM);
  // A new manager can bind the address of one that just shut down (MG-17).
  if (want.family() != AF_UNIX) s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(want);
  s.listen(128);
  bound = want.family() == AF_UNIX ? want : s.getsockname();
  return s;
}

// The handshake with the authkey is the listener's (MG-15); until the
// listener carries it, an accepted socket is served as it is.
task<connection> manager_authenticate(socket s, std::string authkey) {
  (void)authkey;
  co_return connection(s.detach(), true, true);
}

}  // namespace corio::multiprocessing::detail

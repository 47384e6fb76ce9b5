// The client's side of a manager's transport: connect to the server's
// address and authenticate, blocking or in a running loop.
#include "manager_server.hpp"

#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace corio::multiprocessing::detail {

namespace {
std::string context_for(const socket_address& a) { return "connect to the manager at " + a.to_string(); }
}  // namespace

connection manager_connect(const socket_address& address, const std::string& authkey, const socket_address& source) {
  (void)authkey;  // the handshake is the listener's (MG-15)
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(context_for(address));
  if (!source.empty() && ::bind(fd, source.data(), source.size()) != 0) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, "bind to " + source.to_string() + " before connecting to the manager at " + address.to_string());
  }
  int r;
  do {
    r = ::connect(fd, address.data(), address.size());
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, context_for(address));
  }
  return connection(fd, true, true);
}

task<connection> manager_connect_async(socket_address address, std::string authkey, socket_address source) {
  (void)authkey;
  socket s(address.family(), SOCK_STREAM);
  if (!source.empty()) s.bind(source);
  try {
    co_await sock_connect(s, address);
  } catch (const os_error& e) {
    std::rethrow_exception(make_os_error(e.error_number(), context_for(address)));
  }
  co_return connection(s.detach(), true, true);
}

}  // namespace corio::multiprocessing::detail

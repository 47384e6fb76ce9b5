// The client's side of a manager's transport: connect to the server's
// address and authenticate, blocking or in a running loop.
#include "manager_server.hpp"

#include <corio/multiprocessing/authentication.hpp>
#include <corio/multiprocessing/detail/resolve.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace corio::multiprocessing::detail {

namespace {
std::string context_for(const address& a) { return "connect to the manager at " + a.to_string(); }
}  // namespace

// MG-15: the client answers the server's challenge, then challenges it
// (Python's Client with an authkey).
connection manager_connect(const address& a, const std::string& authkey, const std::optional<address>& source) {
  const socket_address sa = resolve_blocking(a, a.family(), "manager client");
  const int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno(context_for(a));
  if (source) {
    const socket_address from = resolve_blocking(*source, source->family(), "manager client");
    if (::bind(fd, from.data(), from.size()) != 0) {
      const int err = errno;
      ::close(fd);
      throw_os_error(err, "bind to " + source->to_string() + " before connecting to the manager at " + a.to_string());
    }
  }
  int r;
  do {
    r = ::connect(fd, sa.data(), sa.size());
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, context_for(a));
  }
  connection c(fd, true, true);
  answer_challenge(c, authkey);
  deliver_challenge(c, authkey);
  return c;
}

task<connection> manager_connect_async(address a, std::string authkey, std::optional<address> source) {
  const socket_address sa = co_await resolve_async(a, "manager client");
  socket s(sa.family(), SOCK_STREAM);
  if (source) s.bind(co_await resolve_async(*source, "manager client"));
  try {
    co_await sock_connect(s, sa);
  } catch (const os_error& e) {
    std::rethrow_exception(make_os_error(e.error_number(), context_for(a)));
  }
  connection c(s.detach(), true, true);
  co_await answer_challenge_async(c, authkey);
  co_await deliver_challenge_async(c, authkey);
  co_return c;
}

}  // namespace corio::multiprocessing::detail

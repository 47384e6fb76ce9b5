// The server's side of a manager's transport: the listening socket, and
// what turns an accepted socket into a connection to serve (TLS first when
// the server has a context, then the authkey handshake).
#include "connection_tls.hpp"
#include "manager_server.hpp"

#include <corio/multiprocessing/authentication.hpp>
#include <corio/multiprocessing/detail/resolve.hpp>
#include <corio/os_errors.hpp>
#include <corio/timeouts.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>

namespace corio::multiprocessing::detail {

namespace {

// Python: an arbitrary address of the default family (AF_UNIX on Linux):
// a fresh path in the temporary directory.
address fresh_unix_address() {
  const char* dir = std::getenv("TMPDIR");
  std::string base = dir != nullptr && *dir != '\0' ? dir : "/tmp";
  std::random_device rd;
  static const char hex[] = "0123456789abcdef";
  std::string tag;
  for (int i = 0; i < 12; ++i) tag += hex[rd() % 16];
  return address(base + "/corio-manager-" + std::to_string(::getpid()) + "-" + tag);
}

// A peer gets this long to prove it knows the key; until then the server
// holds its socket and a handshake buffer of 256 bytes (and, with TLS, the
// OpenSSL state of one handshake), nothing more.
constexpr std::chrono::seconds kHandshakeLimit{20};

}  // namespace

socket manager_listen(const std::optional<address>& requested, address& bound) {
  const address want = requested ? *requested : fresh_unix_address();
  const socket_address sa = resolve_blocking(want, want.family(), "manager");
  socket s(sa.family(), SOCK_STREAM);
  // A new manager can bind the address of one that just shut down (MG-17).
  if (sa.family() != AF_UNIX) s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(sa);
  s.listen(128);
  bound = want.is_unix() ? want : from_sockaddr(s.getsockname());
  return s;
}

// MG-15: the server challenges first, then answers the client's challenge
// (Python's Listener.accept); nothing else is read before both succeed.
// With TLS, the authkey handshake runs inside the TLS channel, and both
// count against the same limit.
task<connection> manager_authenticate(socket s, std::string authkey, std::optional<ssl_context> tls) {
  std::string peer = "a client";
  if (tls) {
    try {
      peer = "the client at " + from_sockaddr(s.getpeername()).to_string();
    } catch (const std::exception&) {
    }
  }
  connection c(s.detach(), true, true);
  if (tls) connection_tls::wrap(c, *tls, true, {}, std::move(peer));
  co_await wait_for(
      [](connection& conn, std::string key) -> task<void> {
        if (conn.uses_tls()) co_await connection_tls::handshake_async(conn);
        co_await deliver_challenge_async(conn, key);
        co_await answer_challenge_async(conn, key);
      }(c, std::move(authkey)),
      kHandshakeLimit);
  co_return c;
}

}  // namespace corio::multiprocessing::detail

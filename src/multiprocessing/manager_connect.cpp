// The client's side of a manager's transport: connect to the server's
// address, start TLS when this process has a client context for it, and
// authenticate, blocking or in a running loop.
#include "connection_tls.hpp"
#include "manager_server.hpp"

#include <corio/multiprocessing/authentication.hpp>
#include <corio/multiprocessing/detail/resolve.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

namespace corio::multiprocessing {

namespace detail {

namespace {

std::string context_for(const address& a) { return "connect to the manager at " + a.to_string(); }

struct client_tls {
  ssl_context context;
  std::string server_hostname;  // empty: the address's host
};

// The client contexts of this process, by manager address (a forked child
// inherits them).
std::mutex g_tls_mu;
std::map<address, client_tls>& tls_table() {
  static std::map<address, client_tls> t;
  return t;
}

std::optional<client_tls> tls_for(const address& a) {
  const std::lock_guard g(g_tls_mu);
  const auto it = tls_table().find(a);
  if (it == tls_table().end()) return std::nullopt;
  return it->second;
}

std::string hostname_for(const address& a, const client_tls& t) {
  if (!t.server_hostname.empty()) return t.server_hostname;
  return a.is_unix() ? std::string() : a.host();
}

void wrap_client(connection& c, const address& a, const client_tls& t) {
  connection_tls::wrap(c, t.context, false, hostname_for(a, t), "the manager at " + a.to_string());
}

// The error of a failed handshake (TLS or authkey), naming the manager.
// TLS errors name it already; an end of the stream during the authkey
// handshake is what a client without TLS sees from a server with it.
[[noreturn]] void rethrow_handshake(const address& a, bool tls) {
  try {
    throw;
  } catch (const ssl_error&) {
    throw;
  } catch (const std::invalid_argument& e) {  // the context does not fit (check_hostname without a name)
    throw std::invalid_argument("manager at " + a.to_string() + ": " + e.what());
  } catch (const authentication_error& e) {
    throw authentication_error("manager at " + a.to_string() + ": " + e.what());
  } catch (const eof_error&) {
    std::string m = "manager at " + a.to_string() + ": the server closed the connection during the authkey handshake";
    if (!tls)
      m += " (a manager served over TLS does that to a client without it: give this process a client ssl_context "
           "for the address, register_manager_ssl)";
    throw eof_error(m);
  }
}

}  // namespace

bool manager_uses_tls(const address& a) {
  const std::lock_guard g(g_tls_mu);
  return tls_table().count(a) != 0;
}

void check_manager_tls(const address& a) {
  if (!manager_uses_tls(a))
    throw process_error("a proxy of the manager at " + a.to_string() +
                        " reaches it over TLS, and this process has no client ssl_context for that address "
                        "(register_manager_ssl, or a manager connected with one)");
}

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
  const std::optional<client_tls> tls = tls_for(a);
  try {
    if (tls) {
      wrap_client(c, a, *tls);
      connection_tls::handshake(c);
    }
    answer_challenge(c, authkey);
    deliver_challenge(c, authkey);
  } catch (...) {
    rethrow_handshake(a, tls.has_value());
  }
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
  const std::optional<client_tls> tls = tls_for(a);
  std::exception_ptr failed;
  try {
    if (tls) {
      wrap_client(c, a, *tls);
      co_await connection_tls::handshake_async(c);
    }
    co_await answer_challenge_async(c, authkey);
    co_await deliver_challenge_async(c, authkey);
  } catch (const cancelled_error&) {
    throw;
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    try {
      std::rethrow_exception(failed);
    } catch (...) {
      rethrow_handshake(a, tls.has_value());
    }
  }
  co_return c;
}

}  // namespace detail

void register_manager_ssl(const address& a, ssl_context client, std::string server_hostname) {
  if (client.protocol() != ssl_protocol::tls_client)
    throw std::invalid_argument("register_manager_ssl: the context for the manager at " + a.to_string() +
                                " must be a client one (ssl_protocol::tls_client)");
  {
    const std::lock_guard g(detail::g_tls_mu);
    detail::tls_table().insert_or_assign(a, detail::client_tls{std::move(client), std::move(server_hostname)});
  }
  // A connection opened before, without TLS or with another context, is not used again.
  detail::forget_manager_connections();
}

}  // namespace corio::multiprocessing

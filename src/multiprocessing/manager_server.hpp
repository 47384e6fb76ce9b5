// A manager's server, internal to the library: the objects it holds
// (referents, type-erased: values are kept as their codec encoding), the
// loop serving the connections, and the two places where the transport is
// made (manager_accept.cpp: accept a connection and authenticate it;
// manager_connect.cpp: connect and authenticate).
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/detail/manager_referent.hpp>
#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/multiprocessing/managers.hpp>
#include <corio/socket.hpp>
#include <corio/ssl.hpp>
#include <corio/tasks.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace corio::multiprocessing::detail {


// The built-in typeids (manager_referents.cpp): a referent from the
// creation arguments, or none for an unknown typeid.
std::unique_ptr<referent> make_builtin(std::string_view type_id, const call_args& a);
// The queues and synchronization objects (manager_sync_referents.cpp).
std::unique_ptr<referent> make_sync_builtin(std::string_view type_id, const call_args& a);
std::unique_ptr<referent> make_queue(std::int64_t maxsize);

// -- transport ----------------------------------------------------------------------

// Binds and listens at `address` (none: a fresh AF_UNIX path); the real
// address is in `bound`.
socket manager_listen(const std::optional<address>& requested, address& bound);
// Makes an accepted socket a connection, after the handshake with `authkey`
// (inside TLS with `tls`, the server's context).
task<connection> manager_authenticate(socket s, std::string authkey, std::optional<ssl_context> tls = std::nullopt);
// Connects to a server and performs the handshake, blocking.
// `source`, if given, is bound before connecting.
connection manager_connect(const address& a, const std::string& authkey,
                           const std::optional<address>& source = std::nullopt);
// The same in a running loop.
task<connection> manager_connect_async(address a, std::string authkey, std::optional<address> source = std::nullopt);

// -- the server ----------------------------------------------------------------------

// What the server process runs: binds, reports its address (or the
// exception that stopped it) on `report`, serves until a shutdown request.
// A registered typeid as it crosses to the server: kind "user" (a maker
// and a factory, as module offsets) or "queue" (one shared queue).
struct registered_type {
  std::string type_id;
  std::string kind;
  code_ref maker;
  code_ref factory;
  std::int64_t maxsize = 0;
  CORIO_CODEC(type_id, kind, maker, factory, maxsize)
};
struct server_config {
  std::optional<multiprocessing::address> address;
  std::string authkey;
  std::vector<registered_type> types;
  // manager_ssl::server_factory, called in the server process before it binds.
  std::optional<code_ref> ssl_factory;
  CORIO_CODEC(address, authkey, types, ssl_factory)
};
// What the server process reports, once: the address it bound, the
// exception that stopped it, or the exception of its ssl_factory (kept
// apart so that start() can say which step failed).
struct ssl_factory_failed {
  std::exception_ptr error;
  CORIO_CODEC(error)
};
using start_report = std::variant<std::exception_ptr, address, ssl_factory_failed>;
void manager_server_main(server_config cfg, connection report);
// The same serving over TLS with `tls` (the server's context, which crosses
// to the server process only by fork: an OpenSSL context has no encoding).
void manager_server_main_tls(server_config cfg, connection report, std::optional<ssl_context> tls);
// The same in pieces, for get_server(): bound at once, served later.
struct serving;
std::shared_ptr<serving> bind_server(server_config cfg, std::optional<ssl_context> tls = std::nullopt);
const address& bound_address(const serving& s) noexcept;
void serve(serving& s);

}  // namespace corio::multiprocessing::detail

namespace corio::multiprocessing::detail {
// One request and its reply at `a` on the thread's connection.
std::string round_trip_raw(const address& a, const std::string& authkey, const std::string& request,
                           const std::optional<address>& source = std::nullopt);
// After a manager's shutdown: connections opened before are not used again.
void forget_manager_connections() noexcept;
}  // namespace corio::multiprocessing::detail

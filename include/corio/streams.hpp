// Python: asyncio.streams: open_connection, start_server and their Unix
// socket versions, returning stream_reader/stream_writer pairs and servers.
#pragma once

#include <corio/server.hpp>
#include <corio/socket.hpp>
#include <corio/ssl.hpp>
#include <corio/stream_reader.hpp>
#include <corio/stream_writer.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace corio {

/// Options of open_connection (Python: its keyword arguments).
struct connection_options {
  /// The reader's buffer limit (Python: limit=2**16).
  std::size_t limit = stream_reader::default_limit;
  /// AF_INET or AF_INET6 to restrict name resolution (Python: family).
  int family = AF_UNSPEC;
  /// Address to bind the socket to first (Python: local_addr).
  std::optional<socket_address> local_addr{};
  /// Python: ssl=context. TLS over the connection; open_connection returns
  /// once the handshake is done, and raises ssl_error (or
  /// ssl_certificate_verification_error) naming the reason if it fails.
  std::optional<ssl_context> ssl{};
  /// Python: server_hostname. The name sent in SNI and checked against the
  /// server's certificate; defaults to `host`. Only with ssl.
  std::string server_hostname{};
  /// Python: ssl_handshake_timeout (default 60 s); then
  /// connection_aborted_error. Only with ssl.
  std::optional<duration> ssl_handshake_timeout{};
  /// Python: ssl_shutdown_timeout (default 30 s): how long close() waits
  /// for the peer's close_notify before aborting. Only with ssl.
  std::optional<duration> ssl_shutdown_timeout{};
};

/// Options of start_server (Python: its keyword arguments).
struct server_options {
  std::size_t limit = stream_reader::default_limit;
  int family = AF_UNSPEC;
  /// Python: backlog=100.
  int backlog = 100;
  /// Python: reuse_address (default true on POSIX).
  bool reuse_address = true;
  /// Python: reuse_port (SO_REUSEPORT).
  bool reuse_port = false;
  /// Python: start_serving=True; false waits for start_serving() or
  /// serve_forever() (ST-19).
  bool start_serving = true;
  /// Python: ssl=context, a server context (ssl_protocol::tls_server). Each
  /// connection's handshake is done before the callback runs; one that
  /// fails is reported to the loop's exception handler and closed.
  std::optional<ssl_context> ssl{};
  /// Python: ssl_handshake_timeout (default 60 s). Only with ssl.
  std::optional<duration> ssl_handshake_timeout{};
  /// Python: ssl_shutdown_timeout (default 30 s). Only with ssl.
  std::optional<duration> ssl_shutdown_timeout{};
};

/// Options of start_tls (Python: the keyword arguments of
/// StreamWriter.start_tls).
struct start_tls_options {
  /// A client's SNI and the name its certificate check expects.
  std::string server_hostname{};
  /// Which side of the handshake this is. By default, as Python infers it:
  /// the server side for a connection start_server accepted.
  std::optional<bool> server_side{};
  std::optional<duration> ssl_handshake_timeout{};  ///< default 60 s
  std::optional<duration> ssl_shutdown_timeout{};   ///< default 30 s
};

/// A connection's two halves.
using stream_pair = std::pair<stream_reader, stream_writer>;

/// Python: asyncio.open_connection(host, port, ...). Resolves `host` (in the
/// default executor unless numeric), tries each address in turn and returns
/// the first that connects; the error otherwise names the addresses tried.
task<stream_pair> open_connection(std::string host, std::uint16_t port, connection_options opts);
task<stream_pair> open_connection(std::string host, std::uint16_t port);
/// Python: asyncio.open_connection(sock=sock): an already connected socket.
task<stream_pair> open_connection(socket sock, std::size_t limit = stream_reader::default_limit);

/// Python: asyncio.start_server(cb, host, port, ...). An empty host listens
/// on every interface (IPv4 and IPv6); port 0 picks a free port (see
/// server.sockets()). Each connection runs cb(reader, writer) as a task;
/// an exception it raises goes to the loop's exception handler (ST-18).
task<server> start_server(client_connected_fn cb, std::string host, std::uint16_t port, server_options opts);
task<server> start_server(client_connected_fn cb, std::string host, std::uint16_t port);
/// Python: start_server(cb, host=[...], port): several listen addresses.
task<server> start_server(client_connected_fn cb, std::vector<std::string> hosts, std::uint16_t port,
                          server_options opts);
/// Python: start_server(cb, sock=sock): a socket already bound (listen is
/// called on it).
task<server> start_server(client_connected_fn cb, socket sock, server_options opts);

/// Python: StreamWriter.start_tls(sslcontext, server_hostname=...) (3.11):
/// upgrades a plain connection to TLS in place. What was written before is
/// sent in plaintext first; then the handshake runs, and the same reader
/// and writer (and every copy of them) go on, encrypted. Raises as
/// open_connection does for a failed or timed-out handshake (the connection
/// is closed then); std::invalid_argument if the connection already uses
/// TLS. Cancelled, it aborts the connection. The task holds a copy of the
/// writer handle, so it may be scheduled and outlive the caller's.
task<void> start_tls(stream_writer writer, ssl_context ctx, start_tls_options opts);
task<void> start_tls(stream_writer writer, ssl_context ctx, std::string server_hostname);
task<void> start_tls(stream_writer writer, ssl_context ctx);

/// Python: asyncio.open_unix_connection(path).
task<stream_pair> open_unix_connection(std::string path, connection_options opts);
task<stream_pair> open_unix_connection(std::string path);
/// Python: asyncio.start_unix_server(cb, path). A stale socket file at
/// `path` is replaced; the file is removed when the server closes.
task<server> start_unix_server(client_connected_fn cb, std::string path, server_options opts);
task<server> start_unix_server(client_connected_fn cb, std::string path);

}  // namespace corio

// A connection's TLS transport, internal to the library: OpenSSL on the
// connection's own socket, so that the framing in connection.cpp is the
// same with and without TLS. Only the byte I/O and the handshake differ.
//
// The fd stays blocking, as a connection's always is: the blocking calls
// let OpenSSL block in recv/send, and the awaitable ones ask for MSG_DONTWAIT
// (a flag the BIO reads), wait through the loop on OpenSSL's WANT_READ or
// WANT_WRITE, and retry. The BIO sends with MSG_NOSIGNAL, so a peer that
// left raises an error rather than SIGPIPE. Closing sends no close_notify
// (Python's SSLSocket.close() does not either) and each side takes the end
// of the stream without one as the end, so a client that goes away looks
// the same to the server with and without TLS.
#pragma once

#include <corio/multiprocessing/connection.hpp>
#include <corio/ssl.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <string>

namespace corio::multiprocessing::detail {

// What the TLS I/O calls return besides a count of bytes.
inline constexpr long tls_want_read = -1;   // nothing now: wait for the fd to be readable
inline constexpr long tls_want_write = -2;  // wait for it to be writable

struct connection_tls {
  // Wraps `c` (a connected socket, nothing read or written yet) in TLS
  // with `ctx`: a server or a client side, the client checking the server's
  // certificate for `server_hostname` (empty: not checked). `peer` names
  // the other end in error messages ("the manager at 10.0.0.5:50000").
  // std::invalid_argument as Python's wrap_socket raises ValueError (a
  // context for the other side, check_hostname without a name).
  static void wrap(connection& c, const ssl_context& ctx, bool server_side, const std::string& server_hostname,
                   std::string peer);
  // The TLS handshake, blocking; ssl_error (or its verification subclass)
  // naming the peer when it fails.
  static void handshake(connection& c);
  // The same in a running loop, never blocking it.
  static task<void> handshake_async(connection& c);

  // The byte I/O connection.cpp uses when the connection is wrapped:
  // a count of bytes (0 from a read: the end of the stream), or
  // tls_want_read / tls_want_write when `wait` is false and the fd must be
  // waited for first. Errors raise ssl_error naming the peer.
  static long read(connection& c, char* p, std::size_t n, bool wait);
  static long write(connection& c, const char* p, std::size_t n, bool wait);
  // Bytes OpenSSL decrypted and holds (poll() must not wait for the fd then).
  static bool pending(const connection& c) noexcept;
  // Frees the TLS state (the connection closes its fd itself).
  static void destroy(tls_channel* t) noexcept;
};

}  // namespace corio::multiprocessing::detail

// Python: multiprocessing.connection.Listener and Client: connections
// between processes that need not be related, over an AF_UNIX or a TCP
// socket, optionally authenticated with a shared key (authentication.hpp).
//
// A connection they make is an ordinary connection over a connected socket
// (its fd blocking, as Python leaves it; the awaitable forms never block).
// The awaitable forms (accept_async, client_async) run the handshake in the
// loop too; cancelling them (corio::timeout around them, say) closes the
// half-made connection. The blocking forms wait as long as Python's do: a
// peer that never answers the handshake blocks them.
#pragma once

#include <corio/multiprocessing/address.hpp>
#include <corio/multiprocessing/authentication.hpp>
#include <corio/multiprocessing/connection.hpp>
#include <corio/socket.hpp>
#include <corio/tasks.hpp>

#include <memory>
#include <optional>
#include <string>

namespace corio::multiprocessing {

/// Python: multiprocessing.connection.Listener(address=None, family=None,
/// backlog=1, authkey=None). Binds and listens at construction. No address
/// means a fresh AF_UNIX path in a private temporary directory (no family,
/// or af_unix) or ("127.0.0.1", 0) / ("::1", 0) for the inet families. An
/// address in use, or a family that does not fit the address, raises
/// (os_error naming the address; std::invalid_argument). The AF_UNIX path it
/// created (not an abstract name) is removed by close(), with the directory
/// when it made one. With an authkey (b"" included: Python 3.13's rule),
/// accept runs deliver_challenge then answer_challenge. Move-only.
class listener {
 public:
  explicit listener(std::optional<multiprocessing::address> address = std::nullopt,
                    std::optional<multiprocessing::family> family = std::nullopt, int backlog = 1,
                    std::optional<std::string> authkey = std::nullopt);
  listener(listener&& o) noexcept = default;
  listener& operator=(listener&& o) noexcept;
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  /// Closes (Python: the Finalize of the AF_UNIX path).
  ~listener();

  /// Python: accept(): the next connection, waiting for it, authenticated
  /// when there is a key (authentication_error, the connection closed, if
  /// the peer fails). os_error("listener is closed") after close().
  connection accept();
  /// accept() in a running loop, the handshake included: a server that must
  /// go on accepting while one peer is slow to answer accepts without a key
  /// and runs deliver_challenge_async and answer_challenge_async in a task
  /// per connection. The listener may be moved meanwhile; closing it (or
  /// destroying it) ends the wait with an os_error naming the listener.
  task<connection> accept_async();
  /// Python: close(). Twice is fine.
  void close() noexcept;
  bool closed() const noexcept;
  /// Python: address: where it listens (the port the system chose for 0);
  /// an empty path once moved from.
  const multiprocessing::address& address() const noexcept;
  /// Python: last_accepted: the peer of the last accepted connection (an
  /// empty path for an unnamed AF_UNIX peer); none before the first.
  const std::optional<multiprocessing::address>& last_accepted() const noexcept;
  /// The listening socket's fd, to wait on for a pending connection.
  int fileno() const;

 private:
  // Held by pointer so that an accept_async in flight keeps what it uses
  // when the listener moves.
  struct state;
  std::shared_ptr<state> st_;
};

/// Python: multiprocessing.connection.Client(address, family=None,
/// authkey=None): a connection to a listener; with an authkey it runs
/// answer_challenge then deliver_challenge. A refused connection or a
/// missing path raises the os_error family (connection_refused_error,
/// file_not_found_error) naming the address.
connection client(const address& address, std::optional<std::string> authkey = std::nullopt);
/// client() in a running loop.
task<connection> client_async(address address, std::optional<std::string> authkey = std::nullopt);

}  // namespace corio::multiprocessing

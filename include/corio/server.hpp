// Python: asyncio.Server (base_events.Server), as start_server and
// start_unix_server return it.
#pragma once

#include <corio/detail/stream_transport.hpp>
#include <corio/detail/tls_layer.hpp>
#include <corio/detail/user_counted.hpp>
#include <corio/locks.hpp>
#include <corio/socket.hpp>
#include <corio/stream_reader.hpp>
#include <corio/stream_writer.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace corio {

/// What start_server calls for each connection (Python: client_connected_cb).
using client_connected_fn = std::function<task<void>(stream_reader, stream_writer)>;

namespace detail {

class server_core final : public transport_owner, public loop_resource, public user_counted<server_core> {
 public:
  server_core(loop_core* loop, std::vector<socket> listeners, client_connected_fn cb, std::size_t limit,
              std::string unix_path);
  server_core(const server_core&) = delete;
  server_core& operator=(const server_core&) = delete;

  void on_last_user() noexcept { close(); }

  void start_serving();
  bool is_serving() const noexcept { return serving_; }
  void close() noexcept;
  bool is_closed() const noexcept { return closed_; }
  void close_clients() noexcept;
  void abort_clients() noexcept;
  const std::vector<socket>& sockets() const noexcept { return socks_; }
  std::size_t connection_count() const noexcept { return conns_.size(); }
  event& idle() noexcept { return idle_; }
  loop_core* loop() const noexcept { return loop_; }
  // TLS for every connection (start_server's ssl=), or nullopt.
  void set_tls(std::optional<tls_settings> s) { tls_ = std::move(s); }
  bool uses_tls() const noexcept { return tls_.has_value(); }
  bool serving_forever = false;

  void transport_gone(stream_transport* t) noexcept override;
  void on_loop_close() noexcept override;

 private:
  friend class user_counted<server_core>;
  ~server_core();
  struct accept_op : io_op {
    server_core* self;
    std::size_t index;
  };
  static void on_accept(io_op* op) noexcept;
  void start_accepting(std::size_t i);
  void accepted(std::size_t i, int fd) noexcept;
  void accept_failed(std::size_t i, int err) noexcept;
  void maybe_release_listeners() noexcept;
  void update_idle() noexcept;

  loop_core* loop_;
  std::vector<socket> socks_;
  std::vector<socket> closing_;  // closed, with an accept maybe in flight
  std::vector<std::unique_ptr<accept_op>> ops_;
  client_connected_fn cb_;
  std::size_t limit_;
  std::string unix_path_;
  std::optional<tls_settings> tls_;
  std::unordered_set<stream_transport*> conns_;
  event idle_;
  std::size_t retry_timers_ = 0;
  bool serving_ = false;
  bool closed_ = false;
  bool loop_closed_ = false;  // on_loop_close ran: loop_ may dangle
  bool tcp_;
};

}  // namespace detail

/// Python: asyncio.Server. A handle; copies share the server. When the last
/// handle goes the server is closed (Python: `async with server`).
class server {
 public:
  server() noexcept = default;
  explicit server(detail::server_core* c) noexcept : c_(c) {}

  /// Python: Server.close(). Stops listening and closes the listening
  /// sockets; connections already accepted stay open (ST-21).
  void close() noexcept {
    if (c_) c_->close();
  }
  /// Python: Server.close_clients() (3.13): closes every connection.
  void close_clients() noexcept {
    if (c_) c_->close_clients();
  }
  /// Python: Server.abort_clients() (3.13): aborts every connection.
  void abort_clients() noexcept {
    if (c_) c_->abort_clients();
  }
  /// Python: Server.wait_closed(). Completes once the server is closed and
  /// all its connections are gone (ST-21). The task holds a copy of this
  /// handle (so it may be scheduled and outlive it).
  task<void> wait_closed() const;
  /// Python: Server.start_serving().
  void start_serving() { core().start_serving(); }
  /// Python: Server.serve_forever(). Runs until cancelled, then closes the
  /// server (ST-20). std::runtime_error if the server is closed or another
  /// serve_forever is running. The task holds a copy of this handle, so
  /// `create_task(srv.serve_forever())` keeps serving after `srv` is gone.
  task<void> serve_forever() const;
  /// Python: Server.is_serving().
  bool is_serving() const noexcept { return c_ && c_->is_serving(); }
  /// Python: Server.sockets: the listening sockets (empty once closed).
  const std::vector<socket>& sockets() const;
  /// Connections currently open.
  std::size_t connection_count() const noexcept { return c_ ? c_->connection_count() : 0; }
  explicit operator bool() const noexcept { return static_cast<bool>(c_); }

 private:
  // The coroutines behind wait_closed and serve_forever take the handle by
  // value: a member coroutine would keep only `this`, which a scheduled task
  // may outlive.
  static task<void> wait_closed_with(server keep);
  static task<void> serve_forever_with(server keep);
  detail::server_core& core() const;
  detail::user_ref<detail::server_core> c_;
};

}  // namespace corio

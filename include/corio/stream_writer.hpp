// Python: asyncio.StreamWriter, together with the transport methods asyncio
// programs reach through writer.transport (abort, write buffer limits).
#pragma once

#include <corio/detail/stream_transport.hpp>
#include <corio/os_errors.hpp>
#include <corio/socket.hpp>

#include <any>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace corio {

namespace detail {

// drain(): raises what the reader saw or why the connection was lost, and
// waits while writing is paused (ST-14, ST-16).
struct drain_awaiter {
  stream_transport* t;
  event::awaiter w;
  explicit drain_awaiter(stream_transport* tr) noexcept : t(tr), w(&tr->resumed()) {}
  bool await_ready() const;
  void await_suspend(std::coroutine_handle<> h) { w.await_suspend(h); }
  void await_resume() {
    w.await_resume();
    if (t->lost()) std::rethrow_exception(t->lost());
  }
};

// What drain() and wait_closed() return hold the transport (not as a user:
// the last writer handle still closes it), so one scheduled after every
// handle has gone sees the connection closed instead of freed memory.
struct drain_op {
  core_hold<stream_transport> t;
  using corio_awaitable = void;
  drain_awaiter operator co_await() const noexcept { return drain_awaiter(t.get()); }
};

struct closed_awaiter {
  event::awaiter w;
  explicit closed_awaiter(stream_transport* t) noexcept : w(&t->closed_event()) {}
  bool await_ready() const noexcept { return w.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) { w.await_suspend(h); }
  void await_resume() { w.await_resume(); }
};

struct closed_op {
  core_hold<stream_transport> t;
  using corio_awaitable = void;
  closed_awaiter operator co_await() const noexcept { return closed_awaiter(t.get()); }
};

}  // namespace detail

/// Python: asyncio.StreamWriter. A handle to a connection's writing side;
/// copies share the connection. write() never blocks: it buffers, and
/// drain() waits while the buffer is above the high-water mark, so a peer
/// that reads slowly pauses the writer instead of growing its memory.
/// When the last handle goes, the connection is closed after what was
/// written is sent (Python closes a StreamWriter that is garbage-collected).
class stream_writer {
 public:
  stream_writer() noexcept = default;
  explicit stream_writer(detail::stream_transport* t) noexcept : t_(t) {}

  /// Python: write(data). Buffers the bytes and starts sending them.
  /// Dropped once the connection is closing or lost (drain() then raises);
  /// std::runtime_error after write_eof().
  void write(std::string_view data) {
    detail::stream_transport& tr = t();
    tr.check_confined("stream_writer.write");
    tr.write(data);
  }
  /// Python: writelines(data): every element of a range of byte strings.
  template <class Range>
  void writelines(const Range& lines) {
    detail::stream_transport& tr = t();
    tr.check_confined("stream_writer.writelines");
    for (const auto& l : lines) tr.write(std::string_view(l));
  }
  /// Python: write_eof(): shuts the sending side once the buffer is sent.
  /// std::runtime_error over TLS (Python: NotImplementedError).
  void write_eof() {
    detail::stream_transport& tr = t();
    tr.check_confined("stream_writer.write_eof");
    tr.write_eof();
  }
  /// Python: can_write_eof(): false over TLS.
  bool can_write_eof() const noexcept { return t_ && t_->can_write_eof(); }
  /// Python: drain(). Returns at once while the buffer is below the
  /// high-water mark; raises the reader's exception, or connection_reset_error
  /// ("Connection lost") once the connection is closing or gone.
  detail::drain_op drain() { return {detail::core_hold(&t())}; }
  /// Python: close(). Sends what is buffered, then closes; is_closing()
  /// is true at once.
  void close() noexcept {
    if (t_) t_->close();
  }
  /// Python: transport.abort(): closes at once, dropping unsent data.
  void abort() noexcept {
    if (t_) t_->abort();
  }
  /// Python: is_closing().
  bool is_closing() const noexcept { return !t_ || t_->is_closing(); }
  /// Python: wait_closed(). Completes when the socket is closed.
  detail::closed_op wait_closed() { return {detail::core_hold(&t())}; }

  /// Python: get_extra_info(name, default): "peername" and "sockname"
  /// (socket_address), "socket" (the fd, int); over TLS also "sslcontext"
  /// (ssl_context) and, once the handshake is done, "ssl_object"
  /// (ssl_object), "peercert" (peer_certificate) and "cipher" (ssl_cipher);
  /// `fallback` otherwise.
  std::any get_extra_info(std::string_view name, std::any fallback = {}) const;
  /// The peer's address (Python: get_extra_info("peername")).
  const socket_address& peername() const { return t().peername(); }
  /// The local address (Python: get_extra_info("sockname")).
  const socket_address& sockname() const { return t().sockname(); }

  /// Python: transport.set_write_buffer_limits(high, low). With only high,
  /// low is high / 4; with neither, 64 KiB and 16 KiB (ST-15).
  void set_write_buffer_limits(std::optional<std::size_t> high = std::nullopt,
                               std::optional<std::size_t> low = std::nullopt);
  /// Python: transport.get_write_buffer_limits(): (low, high).
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const { return {t().low_water(), t().high_water()}; }
  /// Python: transport.get_write_buffer_size().
  std::size_t get_write_buffer_size() const { return t().write_buffer_size(); }

  explicit operator bool() const noexcept { return static_cast<bool>(t_); }
  detail::stream_transport* transport() const noexcept { return t_.get(); }

 private:
  detail::stream_transport& t() const;
  detail::user_ref<detail::stream_transport> t_;
};

}  // namespace corio

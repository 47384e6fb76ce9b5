// The transport under a stream_reader/stream_writer pair: one connected
// stream socket (TCP or Unix), read with a multishot receive that feeds the
// reader, written from a buffer with flow control. Python: the selector
// socket transport together with StreamReaderProtocol. Not for users.
//
// It also carries one end of a pipe (a child's stdin, stdout or stderr;
// Python: _UnixReadPipeTransport, _UnixWritePipeTransport). Pipes are not
// sockets: io_uring's recv and send refuse them, and a write to a pipe whose
// reader has gone raises SIGPIPE. So a pipe is read and written with
// read(2) and write_nosignal when a poll op (both backends have one) says
// it is ready. A read pipe closes at EOF; write_eof on a write pipe closes
// it once what was written has gone.
//
// Lifetime: reference-counted, loop thread only. stream_writer handles hold
// "user" references; when the last one goes the transport closes itself
// (flushing what was written). Each operation in flight holds a reference
// too, so the transport outlives its last handle until the kernel is done
// with its buffers. If the loop closes first, on_loop_close abandons the
// operations and closes the socket.
#pragma once

#include <corio/detail/io_op.hpp>
#include <corio/detail/loop_core.hpp>
#include <corio/detail/reader_core.hpp>
#include <corio/detail/user_counted.hpp>
#include <corio/locks.hpp>
#include <corio/socket.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

namespace corio::detail {

class stream_transport;
class tls_layer;

// Something that wants to hear when a transport is gone (a server counting
// its connections).
struct transport_owner {
  virtual void transport_gone(stream_transport* t) noexcept = 0;

 protected:
  ~transport_owner() = default;
};

class stream_transport final : public read_flow, public loop_resource, public user_counted<stream_transport> {
 public:
  static constexpr std::size_t default_high_water = 64 * 1024;

  // Takes the socket; feeds `reader` (may be null: nobody reads).
  stream_transport(loop_core* loop, socket sock, reader_core* reader);
  // Takes one end of a pipe (non-blocking): the read end if `reader` is
  // given, else the write end.
  struct pipe_end {
    int fd;
  };
  stream_transport(loop_core* loop, pipe_end pipe, reader_core* reader);
  stream_transport(const stream_transport&) = delete;
  stream_transport& operator=(const stream_transport&) = delete;

  // stream_writer handles: the last one to go closes the transport.
  void on_last_user() noexcept {
    if (!closing_) close();
  }

  void set_owner(transport_owner* o) noexcept { owner_ = o; }
  loop_core* loop() const noexcept { return loop_; }
  // Debug mode's confinement check (loop_core.hpp) for a writer's calls.
  void check_confined(const char* what) const {
    if (!loop_closed_) detail::check_confined(loop_->ref(), what);
  }
  reader_core* reader() const noexcept { return reader_; }
  const socket& sock() const noexcept { return sock_; }
  const socket_address& peername() const noexcept { return peer_; }
  const socket_address& sockname() const noexcept { return local_; }

  // -- reading -----------------------------------------------------------------
  void start_reading();
  void pause_reading() noexcept override;
  void resume_reading() noexcept override;

  // -- writing -----------------------------------------------------------------
  void write(std::string_view data);
  void write_eof();
  bool can_write_eof() const noexcept { return tls_ == nullptr; }  // Python: not over TLS
  bool is_pipe() const noexcept { return pipe_; }
  std::size_t write_buffer_size() const noexcept { return sending_.size() - sent_ + pending_.size(); }
  void set_write_buffer_limits(std::size_t high, std::size_t low);
  std::size_t high_water() const noexcept { return high_; }
  std::size_t low_water() const noexcept { return low_; }
  // Waiting in drain: true while writing is paused (buffer above high water).
  bool write_paused() const noexcept { return write_paused_; }
  event& resumed() noexcept { return resumed_; }
  // Why the connection was lost (null while it is fine).
  const std::exception_ptr& lost() const noexcept { return lost_; }

  // -- closing -----------------------------------------------------------------
  void close() noexcept;  // flush, then close
  void abort() noexcept;  // close now, dropping unsent data
  bool is_closing() const noexcept { return closing_; }
  bool is_closed() const noexcept { return closed_; }
  event& closed_event() noexcept { return closed_event_; }

  void on_loop_close() noexcept override;

  // The TLS layer over this connection, or null (plain): see tls_layer.hpp.
  tls_layer* tls() const noexcept { return tls_; }

 private:
  friend class tls_layer;
  friend class user_counted<stream_transport>;
  ~stream_transport();
  struct op_t : io_op {
    stream_transport* self;
  };
  static void on_recv(io_op* op) noexcept;
  static void on_send(io_op* op) noexcept;
  static void on_pipe_readable(io_op* op) noexcept;
  static void on_pipe_writable(io_op* op) noexcept;
  void read_pipe() noexcept;
  void send_pipe() noexcept;
  void start_recv();
  void queue_send(std::string_view data);
  void start_send() noexcept;
  void sent(std::int32_t res) noexcept;
  void connection_lost(std::exception_ptr e) noexcept;
  void finish_closing() noexcept;
  void maybe_finish_close() noexcept;
  void update_write_pause() noexcept;
  std::string describe(const char* call) const;

  loop_core* loop_;
  socket sock_;
  reader_core* reader_;
  tls_layer* tls_ = nullptr;  // owned
  transport_owner* owner_ = nullptr;
  socket_address peer_;
  socket_address local_;
  op_t recv_op_{};
  op_t send_op_{};
  std::string sending_;  // handed to the kernel from sent_ on
  std::size_t sent_ = 0;
  std::string pending_;  // written while a send was in flight
  std::size_t high_ = default_high_water;
  std::size_t low_ = default_high_water / 4;
  std::exception_ptr lost_;
  event resumed_;
  event closed_event_;
  bool reading_ = false;      // recv op in flight
  bool want_reading_ = false; // not paused by the reader
  bool write_paused_ = false;
  bool eof_requested_ = false;
  bool eof_sent_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool loop_closed_ = false;  // on_loop_close ran: loop_ may dangle
  bool pipe_ = false;         // a pipe end, not a socket
};

}  // namespace corio::detail

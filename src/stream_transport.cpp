#include <corio/detail/handle_node.hpp>
#include <corio/detail/pipes.hpp>
#include <corio/detail/stream_transport.hpp>
#include <corio/detail/tls_layer.hpp>
#include <corio/os_errors.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <utility>

namespace corio::detail {

namespace {
// A drained buffer bigger than this gives its memory back: an idle
// connection should not keep the peak of a burst.
constexpr std::size_t kKeepCapacity = 4096;

void shrink_if_large(std::string& s) {
  if (s.capacity() > kKeepCapacity) std::string().swap(s);
}

// What a pipe is read into before the reader copies it: one buffer per
// thread, made when a thread first reads a pipe.
constexpr std::size_t kPipeChunk = 64 * 1024;
char* pipe_scratch() {
  static thread_local std::unique_ptr<char[]> buf;
  if (!buf) buf = std::make_unique<char[]>(kPipeChunk);
  return buf.get();
}
}  // namespace

stream_transport::stream_transport(loop_core* loop, socket sock, reader_core* reader)
    : loop_(loop), sock_(std::move(sock)), reader_(reader) {
  sock_.note_loop(loop->ref());
  recv_op_.self = this;
  recv_op_.fd = sock_.fileno();
  recv_op_.kind = io_kind::recv_multi;
  recv_op_.done = &on_recv;
  send_op_.self = this;
  send_op_.fd = sock_.fileno();
  send_op_.kind = io_kind::send;
  send_op_.done = &on_send;
  try {
    peer_ = sock_.getpeername();
  } catch (const os_error&) {  // already reset by the peer: reads will say so
  }
  try {
    local_ = sock_.getsockname();
  } catch (const os_error&) {
  }
  if (reader_) {
    reader_->retain();
    reader_->set_transport(this);
  }
  resumed_.set();
  loop_->add_resource(this);
}

stream_transport::stream_transport(loop_core* loop, pipe_end pipe, reader_core* reader)
    : loop_(loop), sock_(socket::adopt_nonblocking(pipe.fd)), reader_(reader), pipe_(true) {
  sock_.note_loop(loop->ref());
  recv_op_.self = this;
  recv_op_.fd = pipe.fd;
  recv_op_.kind = io_kind::poll;
  recv_op_.u.poll_mask = POLLIN;
  recv_op_.done = &on_pipe_readable;
  send_op_.self = this;
  send_op_.fd = pipe.fd;
  send_op_.kind = io_kind::poll;
  send_op_.u.poll_mask = POLLOUT;
  send_op_.done = &on_pipe_writable;
  if (reader_) {
    reader_->retain();
    reader_->set_transport(this);
  }
  resumed_.set();
  loop_->add_resource(this);
}

stream_transport::~stream_transport() {
  delete tls_;
  if (reader_) {
    reader_->set_transport(nullptr);
    reader_->release();
  }
  if (!loop_closed_) loop_->remove_resource(this);  // else the loop may be gone
}

std::string stream_transport::describe(const char* call) const {
  std::string s(call);
  s += pipe_ ? " on pipe fd " : " on fd ";
  s += std::to_string(recv_op_.fd);
  if (!peer_.empty()) {
    s += " (peer ";
    s += peer_.to_string();
    s += ')';
  }
  return s;
}

// -- reading ---------------------------------------------------------------------

void stream_transport::start_reading() {
  want_reading_ = true;
  if (reading_ || closing_ || !reader_) return;
  start_recv();
}

void stream_transport::start_recv() {
  reading_ = true;
  retain();  // held by the op in flight
  if (CORIO_UNLIKELY(pipe_)) {
    if (loop_->backend().start(&recv_op_)) on_pipe_readable(&recv_op_);  // readable already (epoll)
    return;
  }
  loop_->backend().start(&recv_op_);  // multishot: never finishes at once
}

void stream_transport::pause_reading() noexcept {
  want_reading_ = false;
  if (reading_) loop_->backend().cancel(&recv_op_);
}

void stream_transport::resume_reading() noexcept {
  if (want_reading_) return;
  want_reading_ = true;
  if (CORIO_UNLIKELY(pipe_) && !reading_ && !closing_) {
    // A pipe may be readable at once, and reading feeds the reader, which
    // is calling us: read from the ready queue instead.
    struct restart {
      stream_transport* t;
      explicit restart(stream_transport* tr) noexcept : t(tr) { t->retain(); }
      restart(restart&& o) noexcept : t(std::exchange(o.t, nullptr)) {}
      ~restart() {
        if (t) t->release();
      }
      void operator()() {
        if (t->want_reading_ && !t->reading_ && !t->closing_) t->start_reading();
      }
    };
    try {
      handle_node* n = make_handle_node<handle_node>(restart(this));
      loop_->schedule_handle(n);
      n->release();  // the queue holds it
    } catch (...) {
      connection_lost(std::current_exception());
    }
    return;
  }
  if (!reading_ && !closing_) {
    try {
      start_reading();
    } catch (...) {
      connection_lost(std::current_exception());
    }
  }
}

void stream_transport::on_recv(io_op* op) noexcept {
  stream_transport* t = static_cast<op_t*>(op)->self;
  if (op->more) {  // one more chunk
    if (CORIO_UNLIKELY(t->tls_ != nullptr)) {  // ciphertext
      if (!t->closed_) t->tls_->on_data(op->u.data, static_cast<std::size_t>(op->res));
      return;
    }
    if (t->reader_ && !t->closed_) {
      try {
        t->reader_->feed_data(op->u.data, static_cast<std::size_t>(op->res));
      } catch (...) {  // fed after EOF: a reader misused by its owner
        t->loop_->call_exception_handler({"stream reader refused data", std::current_exception(), {}, {}, {}});
      }
    }
    return;
  }
  t->reading_ = false;
  const int res = op->res;
  if (res == 0) {
    // Python: eof_received keeps a plain transport open for writing
    // (half-close); the TLS layer closes it, as sslproto does.
    if (CORIO_UNLIKELY(t->tls_ != nullptr))
      t->tls_->on_eof();
    else if (t->reader_)
      t->reader_->feed_eof();
  } else if (res == -ECANCELED) {
    // Paused, or closing. A resume that came meanwhile restarts reading; so
    // does TLS while it waits for the peer's close_notify.
    if (t->want_reading_ && (!t->closing_ || (t->tls_ != nullptr && t->tls_->reads_on_close()))) {
      try {
        t->start_recv();
      } catch (...) {
        t->connection_lost(std::current_exception());
      }
    }
  } else if (res < 0) {
    t->connection_lost(make_os_error(-res, t->describe("recv")));
  }
  t->maybe_finish_close();
  t->release();  // the op's reference
}

// A pipe was readable (or its poll ended): read it.
void stream_transport::on_pipe_readable(io_op* op) noexcept {
  stream_transport* t = static_cast<op_t*>(op)->self;
  t->reading_ = false;
  const int res = op->res;
  if (res == -ECANCELED) {
    if (t->want_reading_ && !t->closing_) {  // resumed while the cancel was on its way
      try {
        t->start_recv();
      } catch (...) {
        t->connection_lost(std::current_exception());
      }
    }
  } else if (res < 0) {
    t->connection_lost(make_os_error(-res, t->describe("poll")));
  } else {
    t->read_pipe();
  }
  t->maybe_finish_close();
  t->release();  // the op's reference
}

// Reads until the pipe is empty, the reader pauses us (it holds at most
// about twice its limit), or EOF; then waits for more.
void stream_transport::read_pipe() noexcept {
  char* buf = nullptr;
  try {
    buf = pipe_scratch();
  } catch (...) {
    return connection_lost(std::current_exception());
  }
  for (;;) {
    while (want_reading_ && !closing_) {
      const ssize_t r = ::read(sock_.fileno(), buf, kPipeChunk);
      if (r > 0) {
        try {
          reader_->feed_data(buf, static_cast<std::size_t>(r));
        } catch (...) {  // fed after EOF: a reader misused by its owner
          loop_->call_exception_handler({"stream reader refused data", std::current_exception(), {}, {}, {}});
        }
        continue;
      }
      if (r == 0) {  // Python: a read pipe transport closes at EOF
        reader_->feed_eof();
        want_reading_ = false;
        close();
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return connection_lost(make_os_error(errno, describe("read")));
    }
    if (!want_reading_ || closing_) return;
    reading_ = true;
    retain();
    bool ready;
    try {
      ready = loop_->backend().start(&recv_op_);
    } catch (...) {
      reading_ = false;
      release();
      return connection_lost(std::current_exception());
    }
    if (!ready) return;  // the next poll completion reads on
    reading_ = false;    // more came meanwhile (epoll tries at once)
    release();
  }
}

// Writes a pipe's buffer until done or the pipe is full; then waits for room.
void stream_transport::send_pipe() noexcept {
  for (;;) {
    const ssize_t r = write_nosignal(sock_.fileno(), sending_.data() + sent_, sending_.size() - sent_);
    if (r >= 0) {
      sent_ += static_cast<std::size_t>(r);
      if (sent_ < sending_.size()) continue;
      return sent(0);
    }
    if (r == -EINTR) continue;
    if (r != -EAGAIN) return sent(static_cast<std::int32_t>(r));  // -EPIPE: the child closed its end
    bool ready;
    try {
      ready = loop_->backend().start(&send_op_);
    } catch (...) {
      return connection_lost(std::current_exception());
    }
    if (ready) continue;  // room already (epoll tries at once)
    retain();  // held by the op in flight
    return;
  }
}

void stream_transport::on_pipe_writable(io_op* op) noexcept {
  stream_transport* t = static_cast<op_t*>(op)->self;
  const std::int32_t res = op->res;
  if (res >= 0 && !t->closed_)
    t->send_pipe();  // room, or an error the write will name (EPIPE)
  else
    t->sent(res < 0 ? res : 0);
  t->release();
}

// -- writing ---------------------------------------------------------------------

void stream_transport::write(std::string_view data) {
  if (CORIO_UNLIKELY(tls_ != nullptr)) return tls_->write(data);  // encrypted, then queue_send
  if (eof_requested_) throw std::runtime_error("Cannot call write() after write_eof()");
  if (data.empty()) return;
  if (closing_ || lost_) return;  // Python: dropped; drain() raises (ST-16)
  queue_send(data);
}

void stream_transport::queue_send(std::string_view data) {
  if (sending_.empty()) {
    sending_.assign(data);
    sent_ = 0;
    start_send();
  } else {
    pending_.append(data);
  }
  update_write_pause();
}

void stream_transport::start_send() noexcept {
  if (CORIO_UNLIKELY(pipe_)) return send_pipe();
  for (;;) {
    send_op_.u.rw = {sending_.data() + sent_, static_cast<std::uint32_t>(std::min<std::size_t>(sending_.size() - sent_, 0x7fffffff)), 0};
    bool finished;
    try {
      finished = loop_->backend().start(&send_op_);
    } catch (...) {
      connection_lost(std::current_exception());
      return;
    }
    if (!finished) {
      retain();  // held by the op in flight
      return;
    }
    // Sent at once (epoll): account for it, and go on if more is queued.
    const std::int32_t res = send_op_.res;
    if (res < 0) return sent(res);
    sent_ += static_cast<std::size_t>(res);
    if (sent_ < sending_.size()) continue;
    sent(0);
    return;
  }
}

void stream_transport::on_send(io_op* op) noexcept {
  stream_transport* t = static_cast<op_t*>(op)->self;
  const std::int32_t res = op->res;
  if (res > 0) t->sent_ += static_cast<std::size_t>(res);
  if (res >= 0 && t->sent_ < t->sending_.size() && !t->closed_) {
    t->start_send();  // a partial send: the rest
  } else {
    t->sent(res < 0 ? res : 0);
  }
  t->release();
}

// After the buffer in flight is all sent (res 0) or failed (res < 0).
void stream_transport::sent(std::int32_t res) noexcept {
  if (res < 0) {
    if (res != -ECANCELED) connection_lost(make_os_error(-res, describe("send")));
    sending_.clear();
    pending_.clear();
    sent_ = 0;
    maybe_finish_close();
    return;
  }
  sending_.clear();
  sent_ = 0;
  if (!pending_.empty() && !closed_) {
    sending_.swap(pending_);
    shrink_if_large(pending_);
    update_write_pause();
    start_send();
    return;
  }
  shrink_if_large(sending_);
  update_write_pause();
  if (eof_requested_ && !eof_sent_ && !closed_) {
    eof_sent_ = true;
    ::shutdown(sock_.fileno(), SHUT_WR);
  }
  maybe_finish_close();
}

void stream_transport::update_write_pause() noexcept {
  const std::size_t size = write_buffer_size();
  if (!write_paused_ && size > high_) {
    write_paused_ = true;  // Python: protocol.pause_writing()
    resumed_.clear();
  } else if (write_paused_ && size <= low_) {
    write_paused_ = false;  // Python: protocol.resume_writing()
    resumed_.set();
  }
}

void stream_transport::set_write_buffer_limits(std::size_t high, std::size_t low) {
  if (high < low)
    throw std::invalid_argument("high (" + std::to_string(high) + ") must be >= low (" + std::to_string(low) + ")");
  high_ = high;
  low_ = low;
  // ST-15: crossing the new marks pauses or resumes at once.
  const std::size_t size = write_buffer_size();
  if (size > high_ && !write_paused_) {
    write_paused_ = true;
    resumed_.clear();
  } else if (size <= low_ && write_paused_) {
    write_paused_ = false;
    resumed_.set();
  }
}

void stream_transport::write_eof() {
  if (tls_) throw std::runtime_error("write_eof() is not supported over TLS");  // Python: NotImplementedError
  if (CORIO_UNLIKELY(pipe_)) return close();  // a pipe has no half-close: closed once all is written
  if (closing_ || eof_requested_) return;
  eof_requested_ = true;
  if (sending_.empty()) {
    eof_sent_ = true;
    if (::shutdown(sock_.fileno(), SHUT_WR) < 0 && errno != ENOTCONN) throw_errno(describe("shutdown(SHUT_WR)"));
  }
}

// -- closing ---------------------------------------------------------------------

void stream_transport::connection_lost(std::exception_ptr e) noexcept {
  if (!lost_) lost_ = e;
  if (reader_) {
    try {
      reader_->set_exception(e);
    } catch (...) {
    }
  }
  resumed_.set();  // drains wake and raise
  abort();
}

void stream_transport::close() noexcept {
  if (closing_) return;
  closing_ = true;
  // TLS sends close_notify first, and calls finish_closing once it is done.
  if (CORIO_UNLIKELY(tls_ != nullptr) && tls_->shutdown()) return;
  finish_closing();
}

void stream_transport::finish_closing() noexcept {
  want_reading_ = false;
  if (reading_) loop_->backend().cancel(&recv_op_);
  maybe_finish_close();
}

void stream_transport::abort() noexcept {
  closing_ = true;
  want_reading_ = false;
  if (reading_) loop_->backend().cancel(&recv_op_);
  if (send_op_.in_flight()) loop_->backend().cancel(&send_op_);
  pending_.clear();
  if (!send_op_.in_flight()) {
    sending_.clear();
    sent_ = 0;
  }
  maybe_finish_close();
}

// The socket closes once closing was asked for, all is sent, and no op is
// left in flight (the kernel may hold the fd until then).
void stream_transport::maybe_finish_close() noexcept {
  if (!closing_ || closed_ || reading_ || send_op_.in_flight() || !sending_.empty()) return;
  closed_ = true;
  sock_.close();
  if (reader_) reader_->feed_eof();  // Python: connection_lost(None) feeds EOF
  if (!lost_) lost_ = make_os_error(ECONNRESET, "Connection lost");
  if (tls_) tls_->transport_closed();
  resumed_.set();
  closed_event_.set();
  std::string().swap(sending_);
  std::string().swap(pending_);
  if (owner_) {
    transport_owner* o = owner_;
    owner_ = nullptr;
    o->transport_gone(this);
  }
}

void stream_transport::on_loop_close() noexcept {
  // The loop will run no more: nothing in flight will ever complete.
  loop_closed_ = true;
  retain();
  if (reading_) {
    loop_->backend().abandon(&recv_op_);
    reading_ = false;
    release();
  }
  if (send_op_.in_flight()) {
    loop_->backend().abandon(&send_op_);
    release();
  }
  sending_.clear();
  pending_.clear();
  closing_ = true;
  maybe_finish_close();
  release();
}

}  // namespace corio::detail

#include <corio/detail/tls_layer.hpp>
#include <corio/os_errors.hpp>

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <new>
#include <stdexcept>

namespace corio::detail {

namespace {

// Plaintext is encrypted this much at a time and the write BIO emptied
// after each piece, so that the BIO never holds a large write twice.
constexpr std::size_t kEncryptChunk = 64 * 1024;
// The most plaintext one TLS record holds, so the most one SSL_read gives.
constexpr std::size_t kRecord = 16 * 1024;
// A drained BIO bigger than this gives its memory back (a memory BIO keeps
// its peak otherwise), as the transport's buffers do after a burst.
constexpr std::size_t kKeepCapacity = 64 * 1024;

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

std::string seconds_text(duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::chrono::duration<double>(d).count());
  return buf;
}

void check_timeout(const char* name, duration d) {
  if (d <= duration::zero())
    throw std::invalid_argument(std::string(name) + " should be a positive number, got " + seconds_text(d));
}

}  // namespace

void check_tls_settings(const tls_settings& s) {
  // Python's ValueErrors, word for word where it has them.
  const ssl_protocol p = s.context.protocol();
  if (s.server_side && p == ssl_protocol::tls_client)
    throw std::invalid_argument("Cannot create a server socket with a PROTOCOL_TLS_CLIENT context");
  if (!s.server_side && p == ssl_protocol::tls_server)
    throw std::invalid_argument("Cannot create a client socket with a PROTOCOL_TLS_SERVER context");
  if (s.server_side && !s.server_hostname.empty())
    throw std::invalid_argument("server_hostname can only be specified in client mode");
  if (!s.server_side && s.server_hostname.empty() && s.context.check_hostname())
    throw std::invalid_argument("check_hostname requires server_hostname");
  check_timeout("ssl_handshake_timeout", s.handshake_timeout);
  check_timeout("ssl_shutdown_timeout", s.shutdown_timeout);
}

// -- setting up ----------------------------------------------------------------------

tls_layer& tls_layer::attach(stream_transport* t, tls_settings s) {
  check_tls_settings(s);
  if (t->tls_) throw std::invalid_argument("start_tls: the connection already uses TLS");
  if (t->closing_ || t->lost_) throw connection_reset_error(ECONNRESET, "start_tls: the connection is closed");
  auto* l = new tls_layer(t, std::move(s));
  t->tls_ = l;  // from here on, every byte in either direction goes through the layer
  l->arm_timer(l->s_.handshake_timeout);
  l->step_handshake();  // a client's ClientHello leaves now
  return *l;
}

tls_layer::tls_layer(stream_transport* t, tls_settings s) : t_(t), s_(std::move(s)) {
  ssl_ = std::make_shared<ssl_state>(s_.context, s_.server_side, s_.server_hostname);
  ERR_clear_error();
  ::SSL* ssl = SSL_new(s_.context.native_handle());
  if (!ssl) std::rethrow_exception(make_ssl_error(SSL_ERROR_SSL, "SSL_new"));
  ssl_->ssl = ssl;
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (!rbio_ || !wbio_) {
    BIO_free(rbio_);
    BIO_free(wbio_);
    throw std::bad_alloc();
  }
  // An empty BIO means "more is to come", never EOF.
  BIO_set_mem_eof_return(rbio_, -1);
  BIO_set_mem_eof_return(wbio_, -1);
  SSL_set_bio(ssl, rbio_, wbio_);
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (s_.server_side) {
    SSL_set_accept_state(ssl);
    return;
  }
  SSL_set_connect_state(ssl);
  const std::string& host = s_.server_hostname;
  if (host.empty()) return;
  // As Python: SNI for names only (RFC 6066), and the certificate must name
  // the host, a DNS name without partial wildcards or an IP address.
  const bool ip = is_ip_address(host);
  if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
    std::rethrow_exception(make_ssl_error(SSL_ERROR_SSL, "server_hostname '" + host + "'"));
  if (s_.context.check_hostname()) {
    ::X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (ok != 1) std::rethrow_exception(make_ssl_error(SSL_ERROR_SSL, "server_hostname '" + host + "'"));
  }
}

tls_layer::~tls_layer() { timer_.cancel(); }

std::string tls_layer::what(const char* op) const {
  std::string s(op);
  s += s_.server_side ? " with client " : " with ";
  const std::string peer = t_->peer_.to_string();
  s += peer.empty() ? "fd " + std::to_string(t_->recv_op_.fd) : peer;
  if (!s_.server_hostname.empty()) s += " (server_hostname '" + s_.server_hostname + "')";
  return s;
}

void tls_layer::arm_timer(duration d) noexcept {
  try {
    timer_ = detail_loop(*t_->loop_).call_later(d, [this] { on_timer(); });
  } catch (...) {  // a loop that is closing: nothing will wait that long
    timer_ = {};
  }
}

void tls_layer::on_timer() noexcept {
  if (state_ == state::handshake) {
    // Python: ConnectionAbortedError, the connection aborted.
    fail(make_os_error(ECONNABORTED, what("SSL handshake") + " is taking longer than " +
                                         seconds_text(s_.handshake_timeout) + " seconds: aborting the connection"),
         false);
  } else if (state_ == state::shutdown) {
    // Python: "SSL shutdown timed out", and the transport closed by force.
    state_ = state::closed;
    t_->abort();
  }
}

// -- the handshake ---------------------------------------------------------------------

void tls_layer::step_handshake() noexcept {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_->ssl);
  const int err = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_->ssl, r);
  if (err == SSL_ERROR_NONE) {
    flush_out();
    handshake_succeeded();
  } else if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    flush_out();  // our next flight; then wait for the peer's
  } else {
    // The alert OpenSSL queued tells the peer why, before the socket closes.
    fail(make_ssl_error(err, what("SSL handshake"), ssl_.get()), true);
  }
}

void tls_layer::handshake_succeeded() noexcept {
  state_ = state::wrapped;
  timer_.cancel();
  done_.set();
  if (!backlog_.empty()) flush_backlog();
  read_records();  // what came with the peer's last handshake flight
}

// A fatal error (Python: _fatal_error): the handshake, reads and drain()
// raise `e`, and the connection closes: after the alert went out, or at once.
void tls_layer::fail(std::exception_ptr e, bool send_alert) noexcept {
  if (state_ == state::handshake && !error_) error_ = e;
  state_ = state::closed;
  timer_.cancel();
  if (send_alert) flush_out();
  if (!t_->lost_) t_->lost_ = e;
  if (t_->reader_) {
    try {
      t_->reader_->set_exception(e);
    } catch (...) {
    }
  }
  t_->resumed_.set();  // drains wake and raise
  done_.set();
  if (send_alert) {
    t_->closing_ = true;
    t_->finish_closing();
  } else {
    t_->abort();
  }
}

// -- receiving -------------------------------------------------------------------------

void tls_layer::on_data(const char* p, std::size_t n) noexcept {
  if (state_ == state::closed) return;
  if (BIO_write(rbio_, p, static_cast<int>(n)) != static_cast<int>(n)) {
    fail(std::make_exception_ptr(std::bad_alloc()), false);
    return;
  }
  switch (state_) {
    case state::handshake:
      step_handshake();
      break;
    case state::wrapped:
      read_records();
      break;
    case state::shutdown:
      read_after_close();
      break;
    case state::closed:
      break;
  }
  trim(rbio_, true);
}

void tls_layer::trim(::bio_st*& bio, bool read_side) noexcept {
  if (BIO_ctrl_pending(bio) != 0) return;
  ::BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  if (!mem || mem->max <= kKeepCapacity) return;
  ::BIO* fresh = BIO_new(BIO_s_mem());
  if (!fresh) return;
  BIO_set_mem_eof_return(fresh, -1);
  if (read_side)
    SSL_set0_rbio(ssl_->ssl, fresh);  // frees the old one
  else
    SSL_set0_wbio(ssl_->ssl, fresh);
  bio = fresh;
}

void tls_layer::read_records() noexcept {
  char buf[kRecord];
  for (;;) {
    ERR_clear_error();
    std::size_t got = 0;
    const int r = SSL_read_ex(ssl_->ssl, buf, sizeof buf, &got);
    if (r == 1) {
      if (reader_core* reader = t_->reader_) {
        try {
          reader->feed_data(buf, got);
        } catch (...) {  // fed after EOF: a reader misused by its owner
          t_->loop_->call_exception_handler({"stream reader refused data", std::current_exception(), {}, {}, {}});
        }
      }
      continue;
    }
    const int err = SSL_get_error(ssl_->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      // The peer's close_notify. Python: eof_received, then the connection
      // closes after what was written, with our close_notify in answer.
      flush_out();
      if (t_->reader_) t_->reader_->feed_eof();
      t_->close();
      return;
    }
    fail(make_ssl_error(err, what("SSL read"), ssl_.get()), true);
    return;
  }
  // Post-handshake messages may call for an answer (a KeyUpdate, a TLS 1.2
  // renegotiation), and a write that waited for them may go on.
  if (!backlog_.empty())
    flush_backlog();
  else
    flush_out();
}

// After close(): records are read only to find the peer's close_notify; the
// data they hold is dropped (Python too: nothing is received after close()).
void tls_layer::read_after_close() noexcept {
  char buf[kRecord];
  for (;;) {
    ERR_clear_error();
    std::size_t got = 0;
    const int r = SSL_read_ex(ssl_->ssl, buf, sizeof buf, &got);
    if (r == 1) continue;
    const int err = SSL_get_error(ssl_->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      flush_out();
      return;
    }
    break;  // the close_notify, or an error: either way, done
  }
  ERR_clear_error();
  finish();
}

void tls_layer::on_eof() noexcept {
  switch (state_) {
    case state::handshake:
      // Python: ConnectionResetError.
      fail(make_os_error(ECONNRESET, what("SSL handshake") + ": the peer closed the connection"), false);
      break;
    case state::wrapped:
      // Python 3.11+: EOF without close_notify ends the stream as
      // close_notify does (no SSLEOFError reaches a stream), and the
      // connection closes after what was written.
      state_ = state::closed;
      if (t_->reader_) t_->reader_->feed_eof();
      t_->close();
      break;
    case state::shutdown:
      finish();
      break;
    case state::closed:
      break;
  }
}

// -- sending ---------------------------------------------------------------------------

void tls_layer::write(std::string_view data) {
  if (data.empty() || t_->closing_ || t_->lost_) return;  // Python: dropped; drain() raises (ST-16)
  if (state_ == state::handshake || !backlog_.empty()) {
    // Held until OpenSSL can take it; drain() waits above the high-water mark.
    backlog_.append(data);
    if (!t_->write_paused_ && backlog_.size() > t_->high_) {
      t_->write_paused_ = true;
      t_->resumed_.clear();
    }
    if (state_ == state::wrapped) flush_backlog();
    return;
  }
  if (state_ != state::wrapped) return;
  const std::size_t done = encrypt(data);
  if (done < data.size() && state_ == state::wrapped) backlog_.assign(data.substr(done));
}

// Encrypts what OpenSSL takes of `data` and queues the ciphertext; stops
// early while OpenSSL waits for the peer (a renegotiation).
std::size_t tls_layer::encrypt(std::string_view data) noexcept {
  std::size_t done = 0;
  while (done < data.size() && state_ == state::wrapped) {
    const std::size_t n = std::min(data.size() - done, kEncryptChunk);
    std::size_t wrote = 0;
    ERR_clear_error();
    const int r = SSL_write_ex(ssl_->ssl, data.data() + done, n, &wrote);
    if (r == 1) {
      done += wrote;
      flush_out();
      continue;
    }
    const int err = SSL_get_error(ssl_->ssl, r);
    flush_out();
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
      fail(make_ssl_error(err, what("SSL write"), ssl_.get()), false);
    break;
  }
  return done;
}

void tls_layer::flush_backlog() noexcept {
  // The same bytes again, as OpenSSL wants after a write that had to wait.
  const std::size_t done = encrypt(backlog_);
  backlog_.erase(0, done);
  if (backlog_.empty()) std::string().swap(backlog_);
  t_->update_write_pause();
}

// Moves what OpenSSL wrote into the write BIO to the transport's send buffer.
void tls_layer::flush_out() noexcept {
  char buf[kRecord + 1024];  // a whole record with its header and tag
  for (;;) {
    const int n = BIO_read(wbio_, buf, sizeof buf);
    if (n <= 0) break;
    if (t_->closed_ || t_->lost_) continue;  // nowhere to go
    try {
      t_->queue_send(std::string_view(buf, static_cast<std::size_t>(n)));
    } catch (...) {
      t_->connection_lost(std::current_exception());
    }
  }
  trim(wbio_, false);
}

// -- closing ---------------------------------------------------------------------------

bool tls_layer::shutdown() noexcept {
  switch (state_) {
    case state::handshake:
      // Python: closing during the handshake aborts it.
      error_ = make_os_error(ECONNABORTED, what("SSL handshake") + ": the connection was closed before it finished");
      state_ = state::closed;
      timer_.cancel();
      done_.set();
      return false;
    case state::wrapped: {
      if (!backlog_.empty()) flush_backlog();
      if (state_ != state::wrapped) return false;  // that write failed: closed already
      state_ = state::shutdown;
      // Nothing more reaches the reader, so it no longer pauses the socket:
      // reading goes on until the peer's close_notify, EOF or the deadline.
      if (t_->reader_) t_->reader_->set_transport(nullptr);
      ERR_clear_error();
      const int r = SSL_shutdown(ssl_->ssl);
      flush_out();
      if (r != 0) {  // 1: the peer's close_notify came first; < 0: nothing to wait for
        ERR_clear_error();
        state_ = state::closed;
        return false;
      }
      t_->want_reading_ = true;
      if (!t_->reading_) {
        try {
          t_->start_recv();
        } catch (...) {
          state_ = state::closed;
          return false;
        }
      }
      arm_timer(s_.shutdown_timeout);
      return true;
    }
    default:
      return false;
  }
}

void tls_layer::finish() noexcept {
  state_ = state::closed;
  timer_.cancel();
  t_->finish_closing();
}

void tls_layer::transport_closed() noexcept {
  timer_.cancel();
  if (state_ == state::handshake && !error_) error_ = t_->lost_;
  state_ = state::closed;
  done_.set();
}

std::optional<std::any> tls_layer::extra_info(std::string_view name) const {
  if (name == "sslcontext") return std::any(s_.context);
  if (name != "ssl_object" && name != "peercert" && name != "cipher") return std::nullopt;
  // Python adds these once the handshake is done.
  if (!SSL_is_init_finished(ssl_->ssl)) return std::nullopt;
  const ssl_object obj(ssl_);
  if (name == "ssl_object") return std::any(obj);
  if (name == "peercert") return std::any(obj.getpeercert());
  std::optional<ssl_cipher> c = obj.cipher();
  if (!c) return std::nullopt;
  return std::any(std::move(*c));
}

}  // namespace corio::detail

// A connection's TLS transport (see connection_tls.hpp).
#include "connection_tls.hpp"

#include <corio/detail/ssl_state.hpp>
#include <corio/detail/tls_layer.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <memory>
#include <new>
#include <stdexcept>

namespace corio::multiprocessing::detail {

struct tls_channel {
  std::shared_ptr<corio::detail::ssl_state> st;  // owns the SSL (and the BIO)
  int fd = -1;
  bool dontwait = false;  // the awaitable forms: the BIO must not block
  int sys_errno = 0;      // the errno of the BIO's last failed call
  std::string peer;
};

namespace {

// -- the BIO: recv/send on the connection's fd -------------------------------------------

int bio_read(BIO* b, char* buf, int n) {
  auto* t = static_cast<tls_channel*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  const ssize_t r = ::recv(t->fd, buf, static_cast<std::size_t>(n), t->dontwait ? MSG_DONTWAIT : 0);
  if (r >= 0) return static_cast<int>(r);
  t->sys_errno = errno;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_read(b);
  return -1;
}

int bio_write(BIO* b, const char* buf, int n) {
  auto* t = static_cast<tls_channel*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  const ssize_t r = ::send(t->fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL | (t->dontwait ? MSG_DONTWAIT : 0));
  if (r >= 0) return static_cast<int>(r);
  t->sys_errno = errno;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
  return -1;
}

long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

const BIO_METHOD* bio_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "corio connection");
    if (!bm) throw std::bad_alloc();
    BIO_meth_set_read(bm, bio_read);
    BIO_meth_set_write(bm, bio_write);
    BIO_meth_set_ctrl(bm, bio_ctrl);
    return bm;
  }();
  return m;
}

// The outcome of an OpenSSL call on `t` that returned `r`: a count, a
// want, or an exception naming `op` and the peer.
long outcome(tls_channel& t, int r, std::size_t done, const char* op) {
  if (r == 1) return static_cast<long>(done);
  const int err = SSL_get_error(t.st->ssl, r);
  if (err == SSL_ERROR_WANT_READ) return tls_want_read;
  if (err == SSL_ERROR_WANT_WRITE) return tls_want_write;
  if (err == SSL_ERROR_ZERO_RETURN) return 0;  // the peer's close_notify
  const std::string what = std::string(op) + " with " + t.peer;
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && t.sys_errno != 0) {
    ERR_clear_error();
    throw_os_error(t.sys_errno, what);
  }
  std::rethrow_exception(corio::detail::make_ssl_error(err, what, t.st.get()));
}

// One OpenSSL call on `t`, with its BIO told whether it may block, errno
// and OpenSSL's error queue cleared before it; its outcome as above.
template <class Call>
long attempt(tls_channel& t, bool wait, const char* op, Call call) {
  t.dontwait = !wait;
  t.sys_errno = 0;
  ERR_clear_error();
  std::size_t done = 0;
  const int r = call(done);
  t.dontwait = false;
  return outcome(t, r, done, op);
}

}  // namespace

void connection_tls::wrap(connection& c, const ssl_context& ctx, bool server_side, const std::string& server_hostname,
                          std::string peer) {
  if (c.closed()) throw std::invalid_argument("TLS for a connection: the connection is closed");
  if (c.tls_) throw std::invalid_argument("TLS for a connection: it is wrapped already");
  if (!c.socket_ || c.wfd_ != c.fd_) throw std::invalid_argument("TLS for a connection: only a socket can be wrapped");
  corio::detail::tls_settings s{ctx, server_side, server_hostname, corio::detail::default_ssl_handshake_timeout,
                                corio::detail::default_ssl_shutdown_timeout};
  corio::detail::check_tls_settings(s);  // Python's ValueErrors
  auto t = std::make_unique<tls_channel>();
  t->st = std::make_shared<corio::detail::ssl_state>(ctx, server_side, server_hostname);
  t->fd = c.fd_;
  t->peer = std::move(peer);
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.native_handle());
  if (!ssl) std::rethrow_exception(corio::detail::make_ssl_error(SSL_ERROR_SSL, "SSL_new for " + t->peer));
  t->st->ssl = ssl;
  BIO* bio = BIO_new(bio_method());
  if (!bio) throw std::bad_alloc();
  BIO_set_data(bio, t.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl, bio, bio);  // the SSL owns it
  // Partial writes report progress as send() does; a retried write may come
  // from another address (a moved buffer). The end of the stream without
  // close_notify is the end (see connection_tls.hpp).
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (server_side) {
    // No TLS 1.3 session tickets: nobody resumes a session here, and a
    // ticket arriving after the handshake would make the client's fd
    // readable with no message to read (poll() would say yes, and wrongly).
    SSL_set_num_tickets(ssl, 0);
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    if (!server_hostname.empty()) {
      // As tls_layer: SNI for names only, and the name the certificate must carry.
      unsigned char ipbuf[16];
      const bool ip = ::inet_pton(AF_INET, server_hostname.c_str(), ipbuf) == 1 ||
                      ::inet_pton(AF_INET6, server_hostname.c_str(), ipbuf) == 1;
      if (!ip && SSL_set_tlsext_host_name(ssl, server_hostname.c_str()) != 1)
        std::rethrow_exception(corio::detail::make_ssl_error(SSL_ERROR_SSL, "server_hostname '" + server_hostname + "'"));
      if (ctx.check_hostname()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_hostname.c_str())
                          : X509_VERIFY_PARAM_set1_host(param, server_hostname.c_str(), server_hostname.size());
        if (ok != 1)
          std::rethrow_exception(corio::detail::make_ssl_error(SSL_ERROR_SSL, "server_hostname '" + server_hostname + "'"));
      }
    }
  }
  c.tls_ = t.release();
}

void connection_tls::destroy(tls_channel* t) noexcept { delete t; }

void connection_tls::handshake(connection& c) {
  tls_channel& t = *c.tls_;
  // Blocking: a want means an interrupted call, so it is simply retried.
  while (attempt(t, true, "SSL handshake", [&](std::size_t&) { return SSL_do_handshake(t.st->ssl); }) != 0) {
  }
  if (!SSL_is_init_finished(t.st->ssl))
    throw_os_error(ECONNRESET, "SSL handshake with " + t.peer + ": the peer closed the connection");
}

task<void> connection_tls::handshake_async(connection& c) {
  tls_channel& t = *c.tls_;
  const int fd = c.fd_;
  for (;;) {
    const long r = attempt(t, false, "SSL handshake", [&](std::size_t&) { return SSL_do_handshake(t.st->ssl); });
    if (r == tls_want_read) {
      co_await corio::wait_readable(fd);
    } else if (r == tls_want_write) {
      co_await corio::wait_writable(fd);
    } else if (SSL_is_init_finished(t.st->ssl)) {
      co_return;
    } else {
      throw_os_error(ECONNRESET, "SSL handshake with " + t.peer + ": the peer closed the connection");
    }
  }
}

long connection_tls::read(connection& c, char* p, std::size_t n, bool wait) {
  tls_channel& t = *c.tls_;
  for (;;) {
    const long o = attempt(t, wait, "SSL read", [&](std::size_t& got) { return SSL_read_ex(t.st->ssl, p, n, &got); });
    if (o >= 0 || !wait) return o;
  }
}

long connection_tls::write(connection& c, const char* p, std::size_t n, bool wait) {
  tls_channel& t = *c.tls_;
  for (;;) {
    const long o =
        attempt(t, wait, "SSL write", [&](std::size_t& wrote) { return SSL_write_ex(t.st->ssl, p, n, &wrote); });
    if (o == 0) throw_os_error(EPIPE, "SSL write with " + t.peer + ": the peer closed the connection");
    if (o > 0 || !wait) return o;
  }
}

bool connection_tls::pending(const connection& c) noexcept { return c.tls_ && SSL_pending(c.tls_->st->ssl) > 0; }

}  // namespace corio::multiprocessing::detail

// The ssl= arguments of the streams API: the settings open_connection and
// start_server take, waiting for a handshake, and start_tls.
#include <corio/detail/tls_layer.hpp>
#include <corio/events.hpp>
#include <corio/streams.hpp>

#include <stdexcept>

namespace corio {

namespace detail {

namespace {

// ST-22: Python's ValueErrors for the ssl arguments without ssl.
void check_no_tls_arguments(const std::optional<duration>& handshake, const std::optional<duration>& shutdown) {
  if (handshake) throw std::invalid_argument("ssl_handshake_timeout is only meaningful with ssl");
  if (shutdown) throw std::invalid_argument("ssl_shutdown_timeout is only meaningful with ssl");
}

tls_settings make_settings(const ssl_context& ctx, bool server_side, std::string host,
                           const std::optional<duration>& handshake, const std::optional<duration>& shutdown) {
  tls_settings s{ctx, server_side, std::move(host), handshake.value_or(default_ssl_handshake_timeout),
                 shutdown.value_or(default_ssl_shutdown_timeout)};
  check_tls_settings(s);
  return s;
}

}  // namespace

std::optional<tls_settings> client_tls(const connection_options& o, const std::string& host) {
  if (!o.ssl) {
    if (!o.server_hostname.empty()) throw std::invalid_argument("server_hostname is only meaningful with ssl");
    check_no_tls_arguments(o.ssl_handshake_timeout, o.ssl_shutdown_timeout);
    return std::nullopt;
  }
  return make_settings(*o.ssl, false, o.server_hostname.empty() ? host : o.server_hostname, o.ssl_handshake_timeout,
                       o.ssl_shutdown_timeout);
}

std::optional<tls_settings> server_tls(const server_options& o) {
  if (!o.ssl) {
    check_no_tls_arguments(o.ssl_handshake_timeout, o.ssl_shutdown_timeout);
    return std::nullopt;
  }
  return make_settings(*o.ssl, true, {}, o.ssl_handshake_timeout, o.ssl_shutdown_timeout);
}

task<void> tls_handshake(stream_writer w) {
  tls_layer* layer = w.transport() ? w.transport()->tls() : nullptr;
  if (!layer) throw std::logic_error("corio: tls_handshake: the connection has no TLS layer");
  try {
    co_await layer->handshake_done().wait();
  } catch (...) {
    w.abort();
    throw;
  }
  if (layer->handshake_error()) std::rethrow_exception(layer->handshake_error());
}

task<bool> tls_server_handshake(stream_writer w) {
  std::exception_ptr failed;
  try {
    co_await tls_handshake(w);
    co_return true;
  } catch (const cancelled_error&) {
    throw;
  } catch (...) {
    failed = std::current_exception();
  }
  // Python (3.7 to 3.10) reports a failed handshake, except a connection
  // the client reset or abandoned (its _FATAL_ERROR_IGNORE), which only
  // debug mode shows; 3.11 shows none outside debug mode (see
  // docs/python-mapping.md).
  std::string message = "SSL handshake failed";
  bool ignorable = false;
  try {
    std::rethrow_exception(failed);
  } catch (const ssl_certificate_verification_error&) {
    message = "SSL handshake failed on verifying the certificate";
  } catch (const ssl_error&) {
  } catch (const connection_error&) {
    ignorable = true;
  } catch (...) {
  }
  event_loop& loop = get_running_loop();
  if (!ignorable || loop.get_debug()) {
    exception_context ctx;
    ctx.message = std::move(message);
    ctx.exception = failed;
    ctx.handle = "connection from " + w.peername().to_string();
    loop.call_exception_handler(ctx);
  }
  w.close();
  co_return false;
}

}  // namespace detail

task<void> start_tls(stream_writer w, ssl_context ctx, start_tls_options opts) {
  detail::stream_transport* t = w.transport();
  if (!t) throw std::invalid_argument("corio: start_tls: an empty stream_writer");
  const bool server_side = opts.server_side.value_or(detail::tls_layer::accepted(t));
  detail::tls_settings s = detail::make_settings(ctx, server_side, std::move(opts.server_hostname),
                                                 opts.ssl_handshake_timeout, opts.ssl_shutdown_timeout);
  // Python: what was written so far goes out first, in plaintext.
  co_await w.drain();
  detail::tls_layer::attach(t, std::move(s));
  co_await detail::tls_handshake(w);
}

task<void> start_tls(stream_writer writer, ssl_context ctx, std::string server_hostname) {
  start_tls_options o;
  o.server_hostname = std::move(server_hostname);
  return start_tls(std::move(writer), std::move(ctx), std::move(o));
}

task<void> start_tls(stream_writer writer, ssl_context ctx) {
  return start_tls(std::move(writer), std::move(ctx), start_tls_options{});
}

}  // namespace corio

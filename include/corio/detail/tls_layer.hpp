// The TLS layer of a connection, between a stream_transport's socket I/O and
// its reader/writer (Python: asyncio.sslproto.SSLProtocol). Not for users.
//
// As in Python's sslproto, OpenSSL works on two memory BIOs and never sees
// the socket. Ciphertext the transport receives goes into the read BIO, and
// the plaintext OpenSSL decrypts from it is fed to the reader; plaintext
// written is encrypted into the write BIO, whose ciphertext leaves through
// the transport's send buffer, so the write buffer limits and drain() work
// as they do without TLS (on bytes a little larger than those written), and
// the reader pauses the socket the same way. Handshake messages, alerts and
// post-handshake messages (TLS 1.3 session tickets and KeyUpdate, TLS 1.2
// renegotiation) flow the same way whenever OpenSSL produces them.
//
// The transport holds the layer by a pointer that is null without TLS and
// calls it from a few branches (data, EOF, write, close, closed); all the TLS
// logic is here. States, as Python's SSLProtocolState:
//
//   handshake --done--> wrapped --close()--> shutdown --peer's close_notify,
//       |                  |                    |        EOF or timeout--> closed
//       +--failure, EOF,   +--peer's close_notify, EOF, error ------------> closed
//          timeout, close()
#pragma once

#include <corio/detail/ssl_state.hpp>
#include <corio/detail/stream_transport.hpp>
#include <corio/events.hpp>
#include <corio/locks.hpp>
#include <corio/ssl.hpp>
#include <corio/stream_writer.hpp>
#include <corio/tasks.hpp>

#include <any>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct bio_st;  // OpenSSL's BIO

namespace corio {
struct connection_options;
struct server_options;
}  // namespace corio

namespace corio::detail {

// What a TLS connection is made with (the ssl= arguments of Python's
// open_connection, start_server and start_tls).
struct tls_settings {
  ssl_context context;
  bool server_side = false;
  std::string server_hostname;  // client: SNI and the name to verify
  duration handshake_timeout;
  duration shutdown_timeout;
};

// Python's defaults: constants.SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT.
inline constexpr duration default_ssl_handshake_timeout = std::chrono::seconds(60);
inline constexpr duration default_ssl_shutdown_timeout = std::chrono::seconds(30);

// Throws std::invalid_argument as Python raises ValueError: a context for
// the wrong side, check_hostname without server_hostname, a timeout <= 0.
void check_tls_settings(const tls_settings& s);

// The settings the options of open_connection / start_server ask for, or
// nullopt without ssl; `host` is server_hostname's default. Throws
// std::invalid_argument for an ssl argument given without ssl (ST-22), and
// what check_tls_settings throws.
std::optional<tls_settings> client_tls(const connection_options& o, const std::string& host);
std::optional<tls_settings> server_tls(const server_options& o);

// Waits for the handshake of w's connection and raises its error if it
// failed. Cancelled, it aborts the connection and rethrows, so that no fd
// outlives the attempt.
task<void> tls_handshake(stream_writer w);
// A server's handshake with one client (Python: before connection_made):
// false if it failed, after reporting the error to the loop's exception
// handler; the connection is closed then.
task<bool> tls_server_handshake(stream_writer w);

class tls_layer {
 public:
  // Puts a new layer on `t` and starts the handshake: before the transport
  // reads (a new connection) or at once (start_tls). Throws what
  // check_tls_settings throws, or ssl_error.
  static tls_layer& attach(stream_transport* t, tls_settings s);
  tls_layer(const tls_layer&) = delete;
  tls_layer& operator=(const tls_layer&) = delete;
  ~tls_layer();

  // -- from the transport ------------------------------------------------------
  void on_data(const char* p, std::size_t n) noexcept;  // ciphertext received
  void on_eof() noexcept;                               // the peer shut its side
  void write(std::string_view data);                    // plaintext to send
  // close() was called: true if the layer sends close_notify and closes the
  // transport itself later (finish_closing), false to close now.
  bool shutdown() noexcept;
  // Closing, and waiting for the peer's close_notify: reading goes on.
  bool reads_on_close() const noexcept { return state_ == state::shutdown; }
  void transport_closed() noexcept;

  // -- for the one who waits for the handshake ---------------------------------
  bool handshake_pending() const noexcept { return state_ == state::handshake && !error_; }
  event& handshake_done() noexcept { return done_; }  // set on success and on failure
  const std::exception_ptr& handshake_error() const noexcept { return error_; }
  const tls_settings& settings() const noexcept { return s_; }
  // Accepted by a server (Python's start_tls infers server_side the same way).
  static bool accepted(const stream_transport* t) noexcept { return t->owner_ != nullptr; }
  // get_extra_info's TLS names ("ssl_object", "peercert", "cipher",
  // "sslcontext"); nullopt for any other name, or before the handshake.
  std::optional<std::any> extra_info(std::string_view name) const;

 private:
  enum class state : std::uint8_t { handshake, wrapped, shutdown, closed };
  tls_layer(stream_transport* t, tls_settings s);

  void step_handshake() noexcept;
  void handshake_succeeded() noexcept;
  void read_records() noexcept;
  void read_after_close() noexcept;
  std::size_t encrypt(std::string_view data) noexcept;
  void flush_backlog() noexcept;
  void flush_out() noexcept;
  void trim(::bio_st*& bio, bool read_side) noexcept;
  void fail(std::exception_ptr e, bool send_alert) noexcept;
  void finish() noexcept;
  void arm_timer(duration d) noexcept;
  void on_timer() noexcept;
  std::string what(const char* op) const;

  stream_transport* t_;
  tls_settings s_;
  std::shared_ptr<ssl_state> ssl_;
  ::bio_st* rbio_ = nullptr;  // owned by the SSL
  ::bio_st* wbio_ = nullptr;
  std::string backlog_;  // plaintext OpenSSL could not take yet (handshake, renegotiation)
  event done_;
  std::exception_ptr error_;
  timer_handle timer_;  // the handshake's deadline, then the shutdown's
  state state_ = state::handshake;
};

}  // namespace corio::detail

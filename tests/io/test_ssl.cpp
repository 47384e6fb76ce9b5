// Tests of TLS connections (<corio/ssl.hpp> with the ssl= arguments of
// <corio/streams.hpp>): handshakes, verification and its failures, what
// get_extra_info tells, ALPN, client certificates, protocol versions. On
// both backends, with certificates made at run time (tls_util.hpp).
#include <corio/ssl.hpp>

#include <corio/events.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/streams.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <string>
#include <vector>

#include "io/io_util.hpp"
#include "io/tls_util.hpp"

using namespace std::chrono_literals;
using corio_test::echo_handler;
using corio_test::port_of;
using corio_test::run_io;
using corio_test::tls_client_opts;
using corio_test::tls_server_opts;

namespace {

// The handshake error a client gets from a server presenting `cert`.
corio::task<std::string> client_error(corio::ssl_context server_ctx, corio::connection_options opts) {
  corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts(server_ctx));
  try {
    (void)co_await corio::open_connection("127.0.0.1", port_of(srv), opts);
    ADD_FAILURE() << "the handshake succeeded";
  } catch (const corio::ssl_certificate_verification_error& e) {
    co_return e.what();
  }
  co_return "";
}

TEST(TlsStreams, EchoWithAVerifiedServer) {
  run_io([]() -> corio::task<void> {
    const corio::ssl_context client = corio_test::client_context();
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0,
                                                     tls_server_opts(corio_test::server_context()));
    // server_hostname defaults to the host: a certificate for 127.0.0.1.
    corio::connection_options opts;
    opts.ssl = client;
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), opts);
    for (int i = 0; i < 50; ++i) {
      const std::string msg = "line " + std::to_string(i) + "\n";
      w.write(msg);
      co_await w.drain();
      EXPECT_EQ(co_await r.readline(), msg);
    }
    EXPECT_TRUE(std::any_cast<corio::ssl_context>(w.get_extra_info("sslcontext")) == client);
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
  }());
}

TEST(TlsStreams, ReadlineAndReadexactlyAcrossRecords) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer w) -> corio::task<void> {
          // Odd pieces, each its own TLS record.
          for (const char* piece : {"he", "llo\nwor", "ld\n", "0123", "456789", "tail"}) {
            w.write(piece);
            co_await w.drain();
            co_await corio::sleep(1ms);
          }
          w.close();
        },
        "127.0.0.1", 0, tls_server_opts(corio_test::server_context()));
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv),
                                                  tls_client_opts(corio_test::client_context(), "localhost"));
    EXPECT_EQ(co_await r.readline(), "hello\n");
    EXPECT_EQ(co_await r.readline(), "world\n");
    EXPECT_EQ(co_await r.readexactly(7), "0123456");
    EXPECT_EQ(co_await r.readuntil("il"), "789tail");
    EXPECT_EQ(co_await r.read(), "");  // close_notify: a clean EOF
    EXPECT_TRUE(r.at_eof());
  }());
}

TEST(TlsVerify, UnknownCaIsRefused) {
  const std::string what = run_io(client_error(corio_test::server_context(corio_test::tls_files::get().untrusted),
                                               tls_client_opts(corio_test::client_context(), "localhost")));
  EXPECT_NE(what.find("certificate verify failed: unable to get local issuer certificate"), std::string::npos) << what;
  EXPECT_NE(what.find("SSL handshake with 127.0.0.1:"), std::string::npos) << what;  // names the peer
  EXPECT_NE(what.find("'localhost'"), std::string::npos) << what;
}

TEST(TlsVerify, ErrorCarriesTheVerifyCode) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        echo_handler, "127.0.0.1", 0,
        tls_server_opts(corio_test::server_context(corio_test::tls_files::get().untrusted)));
    try {
      (void)co_await corio::open_connection("127.0.0.1", port_of(srv),
                                            tls_client_opts(corio_test::client_context(), "localhost"));
      ADD_FAILURE() << "no error";
    } catch (const corio::ssl_certificate_verification_error& e) {
      EXPECT_EQ(e.verify_code(), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
      EXPECT_EQ(e.verify_message(), "unable to get local issuer certificate");
      EXPECT_EQ(e.reason(), "certificate verify failed");
      EXPECT_EQ(e.library(), "SSL");
      EXPECT_EQ(e.code().category(), corio::ssl_category());
      EXPECT_EQ(e.code().value(), SSL_ERROR_SSL);
    }
  }());
}

TEST(TlsVerify, WrongHostnameIsRefused) {
  const std::string what = run_io(client_error(corio_test::server_context(corio_test::tls_files::get().other_host),
                                               tls_client_opts(corio_test::client_context(), "localhost")));
  EXPECT_NE(what.find("certificate verify failed: hostname mismatch, certificate is not valid for 'localhost'"),
            std::string::npos)
      << what;
}

TEST(TlsVerify, WrongIpAddressIsRefused) {
  const std::string what = run_io(client_error(corio_test::server_context(corio_test::tls_files::get().other_host),
                                               tls_client_opts(corio_test::client_context(), "127.0.0.1")));
  EXPECT_NE(what.find("IP address mismatch, certificate is not valid for '127.0.0.1'"), std::string::npos) << what;
}

TEST(TlsVerify, ExpiredCertificateIsRefused) {
  const std::string what = run_io(client_error(corio_test::server_context(corio_test::tls_files::get().expired),
                                               tls_client_opts(corio_test::client_context(), "localhost")));
  EXPECT_NE(what.find("certificate verify failed: certificate has expired"), std::string::npos) << what;
}

TEST(TlsVerify, NoVerificationWhenTurnedOff) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        echo_handler, "127.0.0.1", 0,
        tls_server_opts(corio_test::server_context(corio_test::tls_files::get().untrusted)));
    corio::ssl_context ctx(corio::ssl_protocol::tls_client);
    ctx.set_check_hostname(false);
    ctx.set_verify_mode(corio::verify_mode::none);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts(ctx, ""));
    w.write("ok");
    EXPECT_EQ(co_await r.readexactly(2), "ok");
    // Python: getpeercert() is {} for a certificate nobody verified.
    EXPECT_TRUE(std::any_cast<corio::peer_certificate>(w.get_extra_info("peercert")).empty());
  }());
}

TEST(TlsServer, FailedHandshakesAreReportedAndTheServerKeepsServing) {
  run_io([]() -> corio::task<void> {
    std::vector<std::string> messages, errors;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context& c) {
          messages.push_back(c.message);
          errors.push_back(corio::describe_exception(c.exception));
        });
    int served = 0;
    corio::server srv = co_await corio::start_server(
        [&served](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          ++served;
          co_await echo_handler(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, tls_server_opts(corio_test::server_context()));
    // A client that does not trust the server: it refuses, with an alert.
    corio::ssl_context stranger = corio::create_default_context();
    stranger.load_verify_locations(corio::verify_locations{"", "", corio_test::tls_files::get().unknown_ca.cert_pem()});
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts(stranger, "localhost")),
                 corio::ssl_certificate_verification_error);
    // A client speaking plain HTTP.
    auto [pr, pw] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    pw.write("GET / HTTP/1.0\r\n\r\n");
    try {
      (void)co_await pr.read();  // maybe an alert, then the server closes
    } catch (const corio::connection_error&) {
    }
    for (int i = 0; i < 1000 && messages.size() < 2; ++i) co_await corio::sleep(5ms);
    EXPECT_EQ(messages, (std::vector<std::string>{"SSL handshake failed", "SSL handshake failed"}));
    auto has = [&](const char* reason) {
      for (const std::string& e : errors)
        if (e.find(reason) != std::string::npos && e.find("SSL handshake with client 127.0.0.1:") != std::string::npos)
          return true;
      return false;
    };
    EXPECT_TRUE(has("[SSL] tlsv1 alert unknown ca")) << testing::PrintToString(errors);
    EXPECT_TRUE(has("[SSL] http request")) << testing::PrintToString(errors);
    // A good client is served as ever.
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv),
                                                  tls_client_opts(corio_test::client_context(), "localhost"));
    w.write("still serving");
    EXPECT_EQ(co_await r.readexactly(13), "still serving");
    EXPECT_EQ(served, 1);
  }());
}

TEST(TlsServer, AClientThatHangsUpInTheHandshakeIsNotReported) {
  run_io([]() -> corio::task<void> {
    std::vector<std::string> messages;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context& c) { messages.push_back(c.message); });
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0,
                                                     tls_server_opts(corio_test::server_context()));
    {
      corio::socket s(AF_INET, SOCK_STREAM);
      co_await corio::sock_connect(s, corio::socket_address::ip("127.0.0.1", port_of(srv)));
      co_await corio::sock_sendall(s, std::string("\x16\x03\x01", 3));  // the start of a record
    }
    for (int i = 0; i < 1000 && srv.connection_count() != 0; ++i) co_await corio::sleep(5ms);
    EXPECT_EQ(srv.connection_count(), 0u);
    EXPECT_TRUE(messages.empty()) << messages.front();  // Python: ConnectionResetError is not reported
  }());
}

TEST(TlsServer, AClientThatNeverSpeaksIsDroppedAtTheHandshakeTimeout) {
  run_io([]() -> corio::task<void> {
    std::vector<std::string> messages;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context& c) { messages.push_back(c.message); });
    bool called = false;
    corio::server_options opts = tls_server_opts(corio_test::server_context());
    opts.ssl_handshake_timeout = 100ms;
    corio::server srv = co_await corio::start_server(
        [&called](corio::stream_reader, corio::stream_writer) -> corio::task<void> {
          called = true;
          co_return;
        },
        "127.0.0.1", 0, opts);
    corio::event_loop& loop = corio::get_running_loop();
    const corio::time_point start = loop.time();
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));  // plain, and silent
    try {
      EXPECT_EQ(co_await corio::wait_for(r.read(), 5s), "");  // the server hangs up
    } catch (const corio::connection_error&) {  // or resets
    }
    EXPECT_GE(loop.time() - start, 95ms);
    EXPECT_FALSE(called);
    EXPECT_TRUE(messages.empty()) << messages.front();  // Python: ConnectionAbortedError is not reported
  }());
}

TEST(TlsInfo, ExtraInfoDescribesTheConnection) {
  run_io([]() -> corio::task<void> {
    corio::event checked;
    corio::server srv = co_await corio::start_server(
        [&checked](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          auto obj = std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object"));
          EXPECT_TRUE(obj.server_side());
          EXPECT_EQ(obj.server_hostname(), "");
          // No client certificate (Python: None).
          EXPECT_TRUE(std::any_cast<corio::peer_certificate>(w.get_extra_info("peercert")).empty());
          checked.set();
          co_await echo_handler(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, tls_server_opts(corio_test::server_context()));
    auto [r, w] = co_await corio::open_connection("localhost", port_of(srv),
                                                  tls_client_opts(corio_test::client_context(), ""));
    auto obj = std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object"));
    EXPECT_FALSE(obj.server_side());
    EXPECT_EQ(obj.server_hostname(), "localhost");
    EXPECT_EQ(obj.version(), "TLSv1.3");
    EXPECT_NE(obj.native_handle(), nullptr);
    auto cipher = std::any_cast<corio::ssl_cipher>(w.get_extra_info("cipher"));
    EXPECT_EQ(cipher.protocol, "TLSv1.3");
    EXPECT_GE(cipher.secret_bits, 128);
    EXPECT_EQ(obj.cipher()->name, cipher.name);
    auto cert = std::any_cast<corio::peer_certificate>(w.get_extra_info("peercert"));
    EXPECT_EQ(cert.version, 3);
    EXPECT_EQ(cert.subject.back(), (std::pair<std::string, std::string>{"commonName", "localhost"}));
    EXPECT_EQ(cert.issuer.front(), (std::pair<std::string, std::string>{"organizationName", "corio testing CA"}));
    const corio::peer_certificate::pairs alt{{"DNS", "localhost"}, {"IP Address", "127.0.0.1"}, {"IP Address", "0:0:0:0:0:0:0:1"}};
    EXPECT_EQ(cert.subject_alt_name, alt);
    EXPECT_NE(cert.not_after.find("GMT"), std::string::npos);
    EXPECT_FALSE(cert.serial_number.empty());
    EXPECT_FALSE(obj.getpeercert_der().empty());
    EXPECT_FALSE(w.get_extra_info("compression").has_value());
    EXPECT_TRUE(w.get_extra_info("peername").has_value());
    co_await checked.wait();
    w.close();
    co_await w.wait_closed();
    // The handle still answers once the connection is gone.
    EXPECT_EQ(obj.version(), "TLSv1.3");
  }());
}

TEST(TlsAlpn, TheServersPreferenceWins) {
  run_io([]() -> corio::task<void> {
    corio::ssl_context server_ctx = corio_test::server_context();
    server_ctx.set_alpn_protocols({"h2", "http/1.1"});
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts(server_ctx));
    corio::ssl_context client = corio_test::client_context();
    client.set_alpn_protocols({"http/1.1", "h2"});
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts(client, "localhost"));
    EXPECT_EQ(std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object")).selected_alpn_protocol(), "h2");
    // No protocol in common: the connection goes on without one.
    corio::ssl_context other = corio_test::client_context();
    other.set_alpn_protocols({"spdy/1"});
    auto [r2, w2] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts(other, "localhost"));
    EXPECT_EQ(std::any_cast<corio::ssl_object>(w2.get_extra_info("ssl_object")).selected_alpn_protocol(), "");
    w2.write("x");
    EXPECT_EQ(co_await r2.readexactly(1), "x");
  }());
}

TEST(TlsMutual, AServerThatRequiresAClientCertificate) {
  run_io([]() -> corio::task<void> {
    std::vector<std::string> messages;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context& c) { messages.push_back(c.message); });
    const corio_test::tls_files& f = corio_test::tls_files::get();
    corio::ssl_context server_ctx = corio_test::server_context();
    server_ctx.set_verify_mode(corio::verify_mode::required);
    server_ctx.load_verify_locations(f.ca_file);
    std::string client_cn;
    corio::server srv = co_await corio::start_server(
        [&client_cn](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          client_cn = std::any_cast<corio::peer_certificate>(w.get_extra_info("peercert")).subject.back().second;
          co_await echo_handler(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, tls_server_opts(server_ctx));
    // With a certificate.
    corio::ssl_context with_cert = corio_test::client_context();
    with_cert.load_cert_chain(f.client_cert, f.client_key);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts(with_cert, "localhost"));
    w.write("mtls");
    EXPECT_EQ(co_await r.readexactly(4), "mtls");
    EXPECT_EQ(client_cn, "client.example");
    // Without: in TLS 1.3 the client learns it on its first read.
    auto [r2, w2] = co_await corio::open_connection("127.0.0.1", port_of(srv),
                                                    tls_client_opts(corio_test::client_context(), "localhost"));
    try {
      (void)co_await r2.read();
      ADD_FAILURE() << "read succeeded";
    } catch (const corio::ssl_error& e) {
      EXPECT_NE(std::string(e.what()).find("certificate required"), std::string::npos) << e.what();
    }
    EXPECT_EQ(messages, std::vector<std::string>{"SSL handshake failed"});
  }());
}

TEST(TlsVersions, Tls12WithARenegotiationMidStream) {
  run_io([]() -> corio::task<void> {
    corio::ssl_context server_ctx = corio_test::server_context();
    server_ctx.set_maximum_version(corio::tls_version::tlsv1_2);
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          EXPECT_EQ(co_await r.readline(), "first\n");
          // The server asks for a new handshake; data keeps flowing.
          ::SSL* ssl = std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object")).native_handle();
          EXPECT_EQ(SSL_renegotiate(ssl), 1);
          w.write("after renegotiation\n");
          for (int i = 0; i < 20; ++i) {
            w.write(co_await r.readexactly(1000));
            co_await w.drain();
          }
          EXPECT_EQ(SSL_renegotiate_pending(ssl), 0) << "the renegotiation never finished";
          co_await echo_handler(std::move(r), std::move(w));
        },
        "127.0.0.1", 0, tls_server_opts(server_ctx));
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv),
                                                  tls_client_opts(corio_test::client_context(), "localhost"));
    auto obj = std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object"));
    EXPECT_EQ(obj.version(), "TLSv1.2");
    w.write("first\n");
    EXPECT_EQ(co_await r.readline(), "after renegotiation\n");
    for (int i = 0; i < 20; ++i) {
      w.write(std::string(1000, static_cast<char>('a' + i)));
      EXPECT_EQ(co_await r.readexactly(1000), std::string(1000, static_cast<char>('a' + i)));
    }
  }());
}

TEST(TlsVersions, KeyUpdateBothWays) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0,
                                                     tls_server_opts(corio_test::server_context()));
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv),
                                                  tls_client_opts(corio_test::client_context(), "localhost"));
    auto obj = std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object"));
    for (int i = 0; i < 5; ++i) {
      // Our keys change, and the server is asked to change its own.
      EXPECT_EQ(SSL_key_update(obj.native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
      w.write("round " + std::to_string(i) + "\n");
      EXPECT_EQ(co_await r.readline(), "round " + std::to_string(i) + "\n");
    }
  }());
}

TEST(TlsVersions, AMinimumVersionTheServerDoesNotReachFails) {
  run_io([]() -> corio::task<void> {
    corio::ssl_context server_ctx = corio_test::server_context();
    server_ctx.set_maximum_version(corio::tls_version::tlsv1_2);
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts(server_ctx));
    corio::ssl_context client = corio_test::client_context();
    client.set_minimum_version(corio::tls_version::tlsv1_3);
    try {
      (void)co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts(client, "localhost"));
      ADD_FAILURE() << "connected";
    } catch (const corio::ssl_error& e) {
      EXPECT_NE(std::string(e.what()).find("protocol version"), std::string::npos) << e.what();
    }
  }());
}

TEST(TlsUnix, OverAUnixSocket) {
  run_io([]() -> corio::task<void> {
    const std::string path = "/tmp/corio-tls-" + std::to_string(::getpid()) + ".sock";
    corio::server srv = co_await corio::start_unix_server(echo_handler, path,
                                                          tls_server_opts(corio_test::server_context()));
    auto [r, w] = co_await corio::open_unix_connection(path, tls_client_opts(corio_test::client_context(), "localhost"));
    w.write("over unix and tls\n");
    EXPECT_EQ(co_await r.readline(), "over unix and tls\n");
  }());
}

TEST(TlsArgs, SslArgumentsNeedSsl) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0);
    const corio::connection_options o{.server_hostname = "localhost"};  // designated, as the docs show
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port_of(srv), o), std::invalid_argument);
    corio::connection_options t;
    t.ssl_handshake_timeout = 1s;
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port_of(srv), t), std::invalid_argument);
    corio::server_options so;
    so.ssl_shutdown_timeout = 1s;
    EXPECT_THROW((void)co_await corio::start_server(echo_handler, "127.0.0.1", 0, so), std::invalid_argument);
    // A context for the wrong side, check_hostname without a name, a bad timeout.
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port_of(srv),
                                                       tls_client_opts(corio_test::server_context(), "localhost")),
                 std::invalid_argument);
    EXPECT_THROW((void)co_await corio::start_server(echo_handler, "127.0.0.1", 0,
                                                    tls_server_opts(corio_test::client_context())),
                 std::invalid_argument);
    EXPECT_THROW((void)co_await corio::open_unix_connection("/nonexistent", tls_client_opts(corio_test::client_context(), "")),
                 std::invalid_argument);
    corio::connection_options zero = tls_client_opts(corio_test::client_context(), "localhost");
    zero.ssl_handshake_timeout = 0s;
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port_of(srv), zero), std::invalid_argument);
  }());
}

}  // namespace

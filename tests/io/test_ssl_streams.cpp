// Tests of streams over TLS (the ssl= arguments of <corio/streams.hpp> and
// start_tls): volume and flow control, the STARTTLS upgrade, close_notify,
// cancellation and timeouts, with no fd left behind. On both backends.
#include <corio/streams.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/ssl.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/io_util.hpp"
#include "io/tls_util.hpp"

using namespace std::chrono_literals;
using corio_test::echo_handler;
using corio_test::port_of;
using corio_test::run_io;

namespace {

// The usual server and a client that trusts it, connecting to "localhost".
corio::server_options tls_server_opts() { return corio_test::tls_server_opts(corio_test::server_context()); }
corio::connection_options tls_client_opts() {
  return corio_test::tls_client_opts(corio_test::client_context(), "localhost");
}

// 10 MB of bytes that differ from one position to the next.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  return s;
}

corio::task<std::size_t> write_all(corio::stream_writer w, const std::string& data, bool* paused) {
  constexpr std::size_t chunk = 256 * 1024;
  for (std::size_t at = 0; at < data.size(); at += chunk) {
    w.write(std::string_view(data).substr(at, chunk));
    if (w.get_write_buffer_size() > w.get_write_buffer_limits().second) *paused = true;
    co_await w.drain();
  }
  co_return data.size();
}

TEST(TlsStreams, TenMegabytesBothWaysWithFlowControl) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
    const std::string data = pattern(10 << 20);
    bool paused = false;
    auto writer = corio::create_task(write_all(w, data, &paused));
    std::string back;
    back.reserve(data.size());
    while (back.size() < data.size()) {
      std::string piece = co_await r.read(1 << 20);
      if (piece.empty()) {
        ADD_FAILURE() << "EOF after " << back.size() << " bytes";
        break;
      }
      back += piece;
      // The reader's buffer stays bounded: the socket pauses while it is full.
      EXPECT_LE(r.buffered(), 4 * corio::stream_reader::default_limit + (1 << 20));
    }
    EXPECT_EQ(co_await writer, data.size());
    EXPECT_TRUE(back == data) << "the echo differs";
    EXPECT_TRUE(paused) << "the writer never went over the high-water mark";
    w.close();
    co_await w.wait_closed();
  }());
}

TEST(TlsStreams, ASlowReaderPausesTheWriter) {
  run_io([]() -> corio::task<void> {
    corio::event release;
    std::size_t total = 0;
    corio::server srv = co_await corio::start_server(
        [&](corio::stream_reader r, corio::stream_writer) -> corio::task<void> {
          co_await release.wait();
          for (;;) {
            std::string d = co_await r.read(1 << 20);
            if (d.empty()) break;
            total += d.size();
          }
        },
        "127.0.0.1", 0, tls_server_opts());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
    const std::string chunk(1 << 20, 'z');
    bool waited = false;
    std::size_t written = 0;
    while (written < (32u << 20)) {
      w.write(chunk);
      written += chunk.size();
      try {
        co_await corio::wait_for(w.drain(), 200ms);
      } catch (const corio::timeout_error&) {
        waited = true;
        break;
      }
    }
    EXPECT_TRUE(waited) << "drain never waited";
    EXPECT_LE(w.get_write_buffer_size(), 3u << 20);  // not an ever-growing backlog
    release.set();
    co_await w.drain();
    w.close();
    co_await w.wait_closed();
    for (int i = 0; i < 1000 && total < written; ++i) co_await corio::sleep(5ms);
    EXPECT_EQ(total, written);
  }());
}

TEST(TlsStartTls, UpgradeAPlainConnectionInPlace) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
          w.write("OK\n");
          // server_side inferred: start_server accepted this connection.
          co_await corio::start_tls(w, corio_test::server_context());
          EXPECT_TRUE(w.get_extra_info("ssl_object").has_value());
          co_await echo_handler(std::move(r), std::move(w));
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    w.write("STARTTLS\n");
    EXPECT_EQ(co_await r.readline(), "OK\n");
    EXPECT_FALSE(w.get_extra_info("sslcontext").has_value());
    co_await corio::start_tls(w, corio_test::client_context(), "localhost");
    auto obj = std::any_cast<corio::ssl_object>(w.get_extra_info("ssl_object"));
    EXPECT_EQ(obj.version(), "TLSv1.3");
    // The same reader and writer, now encrypted.
    for (int i = 0; i < 10; ++i) {
      w.write("secret " + std::to_string(i) + "\n");
      EXPECT_EQ(co_await r.readline(), "secret " + std::to_string(i) + "\n");
    }
    EXPECT_THROW(co_await corio::start_tls(w, corio_test::client_context(), "localhost"), std::invalid_argument);
    w.close();
    co_await w.wait_closed();
  }());
}

TEST(TlsStartTls, BothSidesOfASocketPair) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto [ra, wa] = co_await corio::open_connection(std::move(a));
    auto [rb, wb] = co_await corio::open_connection(std::move(b));
    wa.write("plain first\n");
    EXPECT_EQ(co_await rb.readline(), "plain first\n");
    corio::start_tls_options server;
    server.server_side = true;
    corio::ssl_context client = corio_test::client_context();
    client.set_check_hostname(false);  // a socket pair has no host name
    co_await corio::gather(corio::start_tls(wa, corio_test::server_context(), server), corio::start_tls(wb, client));
    EXPECT_TRUE(std::any_cast<corio::ssl_object>(wa.get_extra_info("ssl_object")).server_side());
    wb.write("encrypted\n");
    EXPECT_EQ(co_await ra.readline(), "encrypted\n");
    wa.write("and back\n");
    EXPECT_EQ(co_await rb.readline(), "and back\n");
  }());
}

TEST(TlsStartTls, WritesDuringTheHandshakeWaitForIt) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto [ra, wa] = co_await corio::open_connection(std::move(a));
    auto [rb, wb] = co_await corio::open_connection(std::move(b));
    corio::start_tls_options server;
    server.server_side = true;
    auto s = corio::create_task(corio::start_tls(wa, corio_test::server_context(), server));
    co_await corio::sleep(0s);
    auto c = corio::create_task(corio::start_tls(wb, corio_test::client_context(), "localhost"));
    co_await corio::sleep(0s);  // the ClientHello is out; the handshake goes on
    wb.write("early\n");      // held, then sent encrypted
    const std::string big(1 << 20, 'b');
    wb.write(big);
    corio::task_options eager;
    eager.eager_start = true;  // runs up to its first suspension here
    auto drained = corio::create_task([](corio::stream_writer w) -> corio::task<void> { co_await w.drain(); }(wb), eager);
    EXPECT_FALSE(drained.done()) << "drain did not wait for the held megabyte";
    co_await c;
    co_await s;
    EXPECT_EQ(co_await ra.readline(), "early\n");
    EXPECT_TRUE(co_await ra.readexactly(big.size()) == big);
    co_await drained;
  }());
}

TEST(TlsStartTls, AFailedUpgradeClosesTheConnection) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto [ra, wa] = co_await corio::open_connection(std::move(a));
    auto [rb, wb] = co_await corio::open_connection(std::move(b));
    corio::start_tls_options server;
    server.server_side = true;
    corio::start_tls_options client;
    client.server_hostname = "localhost";
    auto s = corio::create_task(
        corio::start_tls(wa, corio_test::server_context(corio_test::tls_files::get().untrusted), server));
    co_await corio::sleep(0s);  // the server's layer is on before the ClientHello comes
    EXPECT_THROW(co_await corio::start_tls(wb, corio_test::client_context(), client),
                 corio::ssl_certificate_verification_error);
    EXPECT_THROW(co_await s, corio::ssl_error);  // the client's alert
    EXPECT_TRUE(wb.is_closing());
    EXPECT_THROW((void)co_await rb.read(), corio::ssl_certificate_verification_error);
    EXPECT_THROW(co_await wb.drain(), corio::ssl_certificate_verification_error);
  }());
}

TEST(TlsClose, CloseSendsCloseNotifyAndThePeerSeesACleanEof) {
  run_io([]() -> corio::task<void> {
    std::string got;
    bool clean = false;
    corio::event done;
    corio::server srv = co_await corio::start_server(
        [&](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          got = co_await r.read();  // to EOF: raises if it was not clean
          clean = r.at_eof();
          EXPECT_TRUE(w.is_closing());  // Python: close_notify closes the connection
          done.set();
        },
        "127.0.0.1", 0, tls_server_opts());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
    w.write("last words");
    w.close();
    EXPECT_TRUE(w.is_closing());
    // The server answers with its own close_notify: no waiting for the timeout.
    co_await corio::wait_for(w.wait_closed(), 5s);
    co_await done.wait();
    EXPECT_EQ(got, "last words");
    EXPECT_TRUE(clean);
    EXPECT_EQ(co_await r.read(), "");
  }());
}

TEST(TlsClose, APeerThatClosesWithoutCloseNotifyGivesEof) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          EXPECT_EQ(co_await r.readline(), "ping\n");
          w.write("pong\n");
          // Python 3.11+: EOF without close_notify reads as EOF.
          EXPECT_EQ(co_await r.read(), "");
          EXPECT_TRUE(r.at_eof());
        },
        "127.0.0.1", 0, tls_server_opts());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
    w.write("ping\n");
    EXPECT_EQ(co_await r.readline(), "pong\n");
    w.abort();  // no close_notify
    co_await w.wait_closed();
    srv.close();
    co_await corio::wait_for(srv.wait_closed(), 5s);
  }());
}

TEST(TlsClose, CloseWithThePausedReaderStillFindsThePeersCloseNotify) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          w.write(std::string(4 << 20, 'p'));  // more than the client will read
          co_await w.drain();
          EXPECT_EQ(co_await r.read(), "");
        },
        "127.0.0.1", 0, tls_server_opts());
    corio::connection_options opts = tls_client_opts();
    opts.ssl_shutdown_timeout = 10s;
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), opts);
    // Nobody reads: the reader fills to twice its limit and pauses the socket.
    const std::size_t full = 2 * corio::stream_reader::default_limit;
    for (int i = 0; i < 1000 && r.buffered() <= full; ++i) co_await corio::sleep(5ms);
    EXPECT_GT(r.buffered(), full);
    w.close();
    // Reading goes on for the close_notify; the rest is dropped.
    co_await corio::wait_for(w.wait_closed(), 5s);
  }());
}

TEST(TlsClose, WriteEofIsNotSupported) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
    EXPECT_FALSE(w.can_write_eof());
    EXPECT_THROW(w.write_eof(), std::runtime_error);
  }());
}

TEST(TlsClose, ShutdownTimeoutAbortsAPeerThatNeverAnswers) {
  run_io([]() -> corio::task<void> {
    corio::event release;
    corio::server srv = co_await corio::start_server(
        [&release](corio::stream_reader, corio::stream_writer) -> corio::task<void> {
          co_await release.wait();  // reads nothing: its socket pauses, close_notify stays unread
        },
        "127.0.0.1", 0, tls_server_opts());
    corio::connection_options opts = tls_client_opts();
    opts.ssl_shutdown_timeout = 200ms;
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), opts);
    w.write(std::string(8 << 20, 'q'));  // more than the server's buffers take
    co_await corio::sleep(100ms);
    corio::event_loop& loop = corio::get_running_loop();
    const corio::time_point start = loop.time();
    w.close();
    co_await corio::wait_for(w.wait_closed(), 5s);
    EXPECT_GE(loop.time() - start, 190ms);
    release.set();
  }());
}

TEST(TlsCancel, CancellingAHandshakeLeavesNoFd) {
  const int before = corio_test::open_fd_count();
  run_io([]() -> corio::task<void> {
    // A plain server that never answers a ClientHello.
    corio::event release;
    corio::server silent = co_await corio::start_server(
        [&release](corio::stream_reader, corio::stream_writer) -> corio::task<void> { co_await release.wait(); },
        "127.0.0.1", 0);
    const int with_listener = corio_test::open_fd_count();
    corio::connection_options opts = tls_client_opts();
    auto attempt = corio::create_task(corio::open_connection("127.0.0.1", port_of(silent), opts));
    co_await corio::sleep(50ms);
    EXPECT_FALSE(attempt.done());
    attempt.cancel();
    EXPECT_THROW((void)co_await attempt, corio::cancelled_error);
    // Only the server's side of the connection is left.
    for (int i = 0; i < 2000 && corio_test::open_fd_count() != with_listener + 1; ++i) co_await corio::sleep(2ms);
    EXPECT_EQ(corio_test::open_fd_count(), with_listener + 1);
    release.set();
    for (int i = 0; i < 2000 && corio_test::open_fd_count() != with_listener; ++i) co_await corio::sleep(2ms);
    EXPECT_EQ(corio_test::open_fd_count(), with_listener);
  }());
  EXPECT_EQ(corio_test::open_fd_count(), before);
}

TEST(TlsCancel, CancellingAReadLeavesTheStreamUsableAndNoFd) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts());
    const int before = corio_test::open_fd_count();
    {
      auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
      EXPECT_THROW((void)co_await corio::wait_for(r.readline(), 20ms), corio::timeout_error);
      w.write("after\n");
      EXPECT_EQ(co_await r.readline(), "after\n");
      auto pending = corio::create_task([](corio::stream_reader rd) -> corio::task<std::string> {
        co_return co_await rd.read(100);
      }(r));
      co_await corio::sleep(5ms);
      pending.cancel();
      EXPECT_THROW((void)co_await pending, corio::cancelled_error);
      w.close();
      co_await w.wait_closed();
    }
    for (int i = 0; i < 2000 && corio_test::open_fd_count() > before; ++i) co_await corio::sleep(2ms);
    EXPECT_EQ(corio_test::open_fd_count(), before);
  }());
}

TEST(TlsTimeout, AHandshakeTheServerNeverAnswersTimesOut) {
  const int before = corio_test::open_fd_count();
  run_io([]() -> corio::task<void> {
    corio::socket silent = corio_test::tcp_listener();
    corio::connection_options opts = tls_client_opts();
    opts.ssl_handshake_timeout = 200ms;
    corio::event_loop& loop = corio::get_running_loop();
    const corio::time_point start = loop.time();
    try {
      (void)co_await corio::open_connection("127.0.0.1", silent.getsockname().port(), opts);
      ADD_FAILURE() << "connected";
    } catch (const corio::connection_aborted_error& e) {
      EXPECT_NE(std::string(e.what()).find("SSL handshake with 127.0.0.1:"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("is taking longer than 0.2 seconds: aborting the connection"),
                std::string::npos)
          << e.what();
    }
    EXPECT_GE(loop.time() - start, 190ms);
    co_await corio::sleep(20ms);  // the aborted socket's last completion
  }());
  EXPECT_EQ(corio_test::open_fd_count(), before);
}

TEST(TlsStreams, TheLoopClosesWithTlsConnectionsOpen) {
  // Nothing is closed by hand: run() ends with a handshake and a shutdown
  // in flight, and every resource goes (ASan checks the leaks).
  const int before = corio_test::open_fd_count();
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, tls_server_opts());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv), tls_client_opts());
    w.write("x");
    EXPECT_EQ(co_await r.readexactly(1), "x");
    corio::socket silent = corio_test::tcp_listener();
    auto pending = corio::create_task(
        corio::open_connection("127.0.0.1", silent.getsockname().port(), tls_client_opts()));
    co_await corio::sleep(10ms);
    w.close();  // its close_notify is on the way as the loop closes
  }());
  EXPECT_EQ(corio_test::open_fd_count(), before);
}

}  // namespace

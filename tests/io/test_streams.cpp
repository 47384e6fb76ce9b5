// Tests of <corio/streams.hpp>: open_connection, start_server, the
// reader/writer pair over real sockets, on both backends.
#include <corio/streams.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::echo_handler;
using corio_test::port_of;
using corio_test::run_io;

namespace {

TEST(Streams, EchoOverTcp) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0);
    EXPECT_TRUE(srv.is_serving());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    for (int i = 0; i < 100; ++i) {
      const std::string msg = "line " + std::to_string(i) + "\n";
      w.write(msg);
      co_await w.drain();
      EXPECT_EQ(co_await r.readline(), msg);
    }
    w.write_eof();
    EXPECT_EQ(co_await r.read(), "");
    EXPECT_TRUE(r.at_eof());
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
    EXPECT_TRUE(srv.sockets().empty());
  }());
}

TEST(Streams, OpenConnectionResolvesNames) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("localhost", port_of(srv));
    w.write("hi");
    EXPECT_EQ(co_await r.readexactly(2), "hi");
    EXPECT_EQ(std::any_cast<corio::socket_address>(w.get_extra_info("peername")).port(), port_of(srv));
  }());
}

TEST(Streams, UnixSockets) {
  run_io([]() -> corio::task<void> {
    const std::string path = "/tmp/corio-test-" + std::to_string(::getpid()) + ".sock";
    corio::server srv = co_await corio::start_unix_server(echo_handler, path);
    auto [r, w] = co_await corio::open_unix_connection(path);
    w.write("over unix\n");
    EXPECT_EQ(co_await r.readline(), "over unix\n");
    srv.close();
    EXPECT_NE(::access(path.c_str(), F_OK), 0) << "the socket file stays after close";
  }());
}

TEST(Streams, ConnectionRefused) {
  run_io([]() -> corio::task<void> {
    std::uint16_t port;
    {
      corio::socket l = corio_test::tcp_listener();
      port = l.getsockname().port();
    }
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port), corio::connection_refused_error);
  }());
}

TEST(Streams, HalfClose) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          std::string all = co_await r.read();  // to EOF
          w.write("got " + std::to_string(all.size()));
          co_await w.drain();
          w.close();
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    w.write(std::string(100000, 'x'));
    w.write_eof();
    EXPECT_EQ(co_await r.read(), "got 100000");
  }());
}

TEST(Streams, PeerResetMidRead) {
  run_io([]() -> corio::task<void> {
    corio::socket listener = corio_test::tcp_listener();
    const auto addr = listener.getsockname();
    auto peer = corio::create_task([](corio::socket& l) -> corio::task<void> {
      auto [conn, from] = co_await corio::sock_accept(l);
      co_await corio::sock_sendall(conn, "partial");
      co_await corio::sleep(20ms);
      ::linger lg{1, 0};  // close with RST
      ::setsockopt(conn.fileno(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }(listener));
    auto [r, w] = co_await corio::open_connection("127.0.0.1", addr.port());
    EXPECT_EQ(co_await r.readexactly(7), "partial");
    co_await peer;
    EXPECT_THROW((void)co_await r.read(100), corio::connection_reset_error);
    EXPECT_THROW(co_await w.drain(), corio::connection_reset_error);
  }());
}

TEST(Streams, HandlerExceptionGoesToTheExceptionHandler) {
  run_io([]() -> corio::task<void> {
    std::vector<std::string> seen;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context& c) { seen.push_back(c.message); });
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer) -> corio::task<void> {
          throw std::runtime_error("handler failed");
          co_return;
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    EXPECT_EQ(co_await r.read(), "");  // the server closed the connection
    EXPECT_EQ(seen, std::vector<std::string>{"Unhandled exception in client_connected_cb"});
  }());
}

TEST(Streams, SlowReaderPausesTheWriter) {
  run_io([]() -> corio::task<void> {
    corio::event release;
    corio::server srv = co_await corio::start_server(
        [&release](corio::stream_reader r, corio::stream_writer) -> corio::task<void> {
          co_await release.wait();  // reads nothing until told
          std::size_t total = 0;
          for (;;) {
            std::string d = co_await r.read(1 << 20);
            if (d.empty()) break;
            total += d.size();
          }
          EXPECT_EQ(total, 64u << 20);
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    const std::string chunk(1 << 20, 'z');
    std::size_t written = 0;
    bool paused = false;
    while (written < (64u << 20)) {
      w.write(chunk);
      written += chunk.size();
      try {
        co_await corio::wait_for(w.drain(), 200ms);
      } catch (const corio::timeout_error&) {
        paused = true;
        break;
      }
    }
    EXPECT_TRUE(paused) << "drain never waited";
    // The buffer holds about what was written since the kernel buffers
    // filled, not an ever-growing backlog.
    EXPECT_LE(w.get_write_buffer_size(), 2u << 20);
    release.set();
    while (written < (64u << 20)) {
      w.write(chunk);
      written += chunk.size();
      co_await w.drain();
    }
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
  }());
}

TEST(Streams, HugeLineAgainstReadlineIsBounded) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer w) -> corio::task<void> {
          const std::string mb(1 << 20, 'a');
          for (int i = 0; i < 10 && !w.is_closing(); ++i) {
            w.write(mb);
            try {
              co_await w.drain();
            } catch (const corio::connection_error&) {
              break;
            }
          }
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    bool limited = false;
    try {
      (void)co_await r.readline();
    } catch (const std::exception&) {
      limited = true;
    }
    EXPECT_TRUE(limited);
    // The transport paused at twice the limit: the reader never held the line.
    EXPECT_LE(r.core().heap_capacity(), 4 * corio::stream_reader::default_limit + 65536);
  }());
}

TEST(Streams, ServerCloseAndWaitClosed) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    w.write("x");
    EXPECT_EQ(co_await r.read(1), "x");
    srv.close();
    EXPECT_FALSE(srv.is_serving());
    EXPECT_TRUE(srv.sockets().empty());
    auto waiter = corio::create_task(srv.wait_closed());
    co_await corio::sleep(10ms);
    EXPECT_FALSE(waiter.done()) << "wait_closed returned with a connection open";
    w.write("still open");  // ST-21: existing connections are kept
    EXPECT_EQ(co_await r.readexactly(10), "still open");
    w.close();
    co_await waiter;
  }());
}

TEST(Streams, ServeForeverRunsUntilCancelled) {
  run_io([]() -> corio::task<void> {
    corio::server_options opts;
    opts.start_serving = false;
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0, opts);
    EXPECT_FALSE(srv.is_serving());
    auto forever = corio::create_task(srv.serve_forever());
    co_await corio::sleep(0s);
    EXPECT_TRUE(srv.is_serving());
    EXPECT_THROW(co_await srv.serve_forever(), std::runtime_error);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    w.write("y");
    EXPECT_EQ(co_await r.read(1), "y");
    forever.cancel();
    EXPECT_THROW(co_await forever, corio::cancelled_error);
    EXPECT_TRUE(srv.sockets().empty());
  }());
}

TEST(Streams, CancelledReadLeavesTheStreamUsable) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    EXPECT_THROW((void)co_await corio::wait_for(r.readline(), 10ms), corio::timeout_error);
    w.write("after\n");
    EXPECT_EQ(co_await r.readline(), "after\n");
  }());
}

TEST(Streams, AcceptSurvivesEmfile) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizer runtimes need free descriptors of their own";
#endif
  rlimit old{};
  ::getrlimit(RLIMIT_NOFILE, &old);
  run_io([]() -> corio::task<void> {
    std::vector<std::string> errors;
    corio::get_running_loop().set_exception_handler(
        [&](corio::event_loop&, const corio::exception_context& c) { errors.push_back(c.message); });
    corio::server srv = co_await corio::start_server(echo_handler, "127.0.0.1", 0);
    const std::uint16_t port = port_of(srv);
    // Use up the descriptors: the server cannot accept.
    std::vector<int> hog;
    rlimit lim{};
    ::getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = 64;
    ::setrlimit(RLIMIT_NOFILE, &lim);
    for (;;) {
      const int fd = ::dup(0);
      if (fd < 0) break;
      hog.push_back(fd);
    }
    // One fd for the client: the server's accept then hits EMFILE.
    ::close(hog.back());
    hog.pop_back();
    auto client = corio::create_task(corio::open_connection("127.0.0.1", port));
    co_await corio::sleep(100ms);
    for (int fd : hog) ::close(fd);
    hog.clear();
    auto [r, w] = co_await client;
    w.write("served");
    EXPECT_EQ(co_await corio::wait_for(r.readexactly(6), 5s), "served");
    EXPECT_FALSE(errors.empty());
    if (!errors.empty()) {
      EXPECT_EQ(errors[0], "socket.accept() out of system resource");
    }
  }());
  ::setrlimit(RLIMIT_NOFILE, &old);
}

}  // namespace

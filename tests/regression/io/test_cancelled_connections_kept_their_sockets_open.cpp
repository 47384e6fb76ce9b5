// A crawl of many connections cancelled at once (a timeout around it, say)
// returned with sockets still open on io_uring, closed a loop iteration
// later; epoll had closed them. The cause: a connect started in the step
// that cancelled it reached the kernel together with its cancel request,
// completed at once on loopback and was reported as done; the task kept the
// result, sent its request and took the cancel only at its next suspension,
// after the crawl's caller had resumed. A cancel that arrives before the
// loop saw a connect (or a readiness wait) finish now wins: such a result
// loses nothing when dropped, and epoll's cancels act that way. The last
// tests guard the rest of the promise: a cancelled connection's socket is
// closed within one loop iteration, whatever it was doing. Both backends run
// these tests.
#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/locks.hpp>
#include <corio/sock_ops.hpp>
#include <corio/socket.hpp>
#include <corio/streams.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <string>
#include <vector>

#include "io/io_util.hpp"
#include "loop_util.hpp"

using corio_test::open_fd_count;
using corio_test::run_io;

namespace {

constexpr int kEach = 20;

// Connects and reads until cancelled.
corio::task<void> reader_of(std::uint16_t port, int& connected) {
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  ++connected;
  writer.write("GET / HTTP/1.1\r\n\r\n");
  std::string s = co_await reader.read();
}

// Connects, closes, and waits for the close (nothing is left to send).
corio::task<void> closer_of(std::uint16_t port, int& connected) {
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  ++connected;
  writer.close();
  co_await writer.wait_closed();
  co_await corio::event().wait();  // then waits until cancelled
}

// Waits for `go`, then connects and reads until cancelled.
corio::task<void> late_reader_of(std::uint16_t port, corio::event& go) {
  co_await go.wait();
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  writer.write("GET / HTTP/1.1\r\n\r\n");
  std::string s = co_await reader.read();
}

// Connects to a listener whose accept queue is full: the kernel drops the
// handshake, so the connect is in progress until cancelled.
corio::task<void> connector_of(std::uint16_t port) {
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
}

// The io_uring backend makes its ring (an fd) on the first operation: a
// count of fds taken before any must not see it as a leak.
corio::task<void> make_the_ring() {
  auto [a, b] = corio::socketpair();
  co_await corio::wait_writable(a.fileno());
}

}  // namespace

TEST(CancelledConnectionsKeptTheirSocketsOpen, a_cancelled_crawl_has_closed_every_socket_when_it_returns) {
  run_io([]() -> corio::task<void> {
    // Nobody accepts: the kernel completes the handshakes from the backlog.
    corio::socket open = corio_test::tcp_listener(4 * kEach);
    corio::socket full = corio_test::tcp_listener(0);
    const std::uint16_t open_port = open.getsockname().port();
    const std::uint16_t full_port = full.getsockname().port();
    std::vector<corio::socket> fillers;  // fill the accept queue of `full`
    for (int i = 0; i < 2; ++i) {
      corio::socket s(AF_INET, SOCK_STREAM);
      const corio::socket_address to = full.getsockname();
      (void)::connect(s.fileno(), to.data(), to.size());  // in progress, or refused when full
      fillers.push_back(std::move(s));
    }
    co_await corio_test::yield_once();
    co_await make_the_ring();
    const int before = open_fd_count();

    int connected = 0;
    std::vector<corio::task<void>> crawl;
    for (int i = 0; i < kEach; ++i) {
      crawl.push_back(reader_of(open_port, connected));
      crawl.push_back(closer_of(open_port, connected));
      crawl.push_back(connector_of(full_port));
    }
    auto all = corio::gather(std::move(crawl));
    const bool ready = co_await corio_test::eventually([&] { return connected == 2 * kEach; });
    EXPECT_TRUE(ready);
    EXPECT_FALSE(all.done());
    EXPECT_GT(open_fd_count(), before);

    all.cancel();
    try {
      co_await all;
    } catch (const corio::cancelled_error&) {
    }
    EXPECT_EQ(open_fd_count(), before);
  }());
}

TEST(CancelledConnectionsKeptTheirSocketsOpen, a_writer_closed_while_its_receive_waits_releases_its_fd_within_one_iteration) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    co_await make_the_ring();
    const int before = open_fd_count();
    {
      auto [reader, writer] = co_await corio::open_connection(std::move(a));
      co_await corio_test::yield_once();  // the receive is in flight
      writer.close();
    }
    co_await corio_test::yield_once();
    EXPECT_EQ(open_fd_count(), before - 1);
  }());
}

TEST(CancelledConnectionsKeptTheirSocketsOpen, readers_cancelled_as_their_peers_answer_and_close_have_closed_their_sockets_when_they_return) {
  run_io([]() -> corio::task<void> {
    std::vector<corio::socket> peers;
    std::vector<corio::task<void>> readers;
    int connected = 0;
    co_await make_the_ring();
    const int before = open_fd_count();
    for (int i = 0; i < kEach; ++i) {
      auto [a, b] = corio::socketpair();
      peers.push_back(std::move(b));
      readers.push_back([](corio::socket s, int& c) -> corio::task<void> {
        auto [reader, writer] = co_await corio::open_connection(std::move(s));
        ++c;
        std::string s2 = co_await reader.readexactly(1 << 20);
      }(std::move(a), connected));
    }
    auto all = corio::gather(std::move(readers));
    const bool ready = co_await corio_test::eventually([&] { return connected == kEach; });
    EXPECT_TRUE(ready);
    co_await corio_test::yield_once();
    // In one step: every peer answers and closes, and the readers are cancelled.
    for (corio::socket& p : peers) {
      (void)::send(p.fileno(), "HTTP/1.1 200 OK\r\n\r\n", 19, MSG_NOSIGNAL);
      p.close();
    }
    all.cancel();
    try {
      co_await all;
    } catch (const corio::cancelled_error&) {
    }
    EXPECT_EQ(open_fd_count(), before);
  }());
}

TEST(CancelledConnectionsKeptTheirSocketsOpen, a_connect_cancelled_in_the_step_that_started_it_raises_cancelled_error) {
  run_io([]() -> corio::task<void> {
    corio::socket listener = corio_test::tcp_listener();
    corio::socket s(AF_INET, SOCK_STREAM);
    bool connected = false;
    auto t = corio::create_task([](corio::socket& c, corio::socket_address to, bool& ok) -> corio::task<void> {
      co_await corio::sock_connect(c, to);
      ok = true;
    }(s, listener.getsockname(), connected));
    co_await corio_test::yield_once();  // t has started its connect
    EXPECT_TRUE(t.cancel());
    EXPECT_THROW(co_await t, corio::cancelled_error);
    EXPECT_FALSE(connected);
  }());
}

TEST(CancelledConnectionsKeptTheirSocketsOpen, a_crawl_cancelled_as_connects_start_has_closed_every_socket_when_it_returns) {
  run_io([]() -> corio::task<void> {
    corio::socket open = corio_test::tcp_listener(4 * kEach);
    const std::uint16_t port = open.getsockname().port();
    co_await make_the_ring();
    const int before = open_fd_count();
    int connected = 0;
    corio::event go;
    corio::event never;
    std::vector<corio::task<void>> crawl;
    for (int i = 0; i < kEach; ++i) {
      crawl.push_back(reader_of(port, connected));
      crawl.push_back(late_reader_of(port, go));
      crawl.push_back([](corio::event& e) -> corio::task<void> { co_await e.wait(); }(never));
    }
    auto all = corio::gather(std::move(crawl));
    const bool ready = co_await corio_test::eventually([&] { return connected == kEach; });
    EXPECT_TRUE(ready);
    go.set();
    co_await corio_test::yield_once();  // the late readers have started their connects
    all.cancel();
    try {
      co_await all;
    } catch (const corio::cancelled_error&) {
    }
    EXPECT_EQ(open_fd_count(), before);
  }());
}

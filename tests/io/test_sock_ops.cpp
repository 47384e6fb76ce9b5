// Unit tests for <corio/sock_ops.hpp> and <corio/socket.hpp>: the low-level
// socket operations on both backends.
#include <corio/sock_ops.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <string>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::open_fd_count;
using corio_test::run_io;

namespace {

TEST(SockOps, BackendIsTheOneAskedFor) {
  const std::string want = corio_test::expected_backend();
  corio::event_loop loop;
  if (!want.empty()) {
    EXPECT_EQ(loop.backend_name(), want);
  }
}

TEST(SockOps, SocketpairRoundTrip) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    co_await corio::sock_sendall(a, "hello");
    std::string got;
    while (got.size() < 5) got += co_await corio::sock_recv(b, 100);
    EXPECT_EQ(got, "hello");
    char buf[16];
    co_await corio::sock_sendall(b, "back");
    std::size_t n = 0;
    while (n < 4) n += co_await corio::sock_recv_into(a, std::span<char>(buf + n, sizeof buf - n));
    EXPECT_EQ(std::string(buf, n), "back");
    a.close();
    EXPECT_EQ(co_await corio::sock_recv(b, 10), "");  // end of stream
  }());
}

TEST(SockOps, RecvWaitsForData) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto reader = corio::create_task([](corio::socket& s) -> corio::task<std::string> {
      co_return co_await corio::sock_recv(s, 64);
    }(b));
    co_await corio::sleep(10ms);
    EXPECT_FALSE(reader.done());
    co_await corio::sock_sendall(a, "late");
    EXPECT_EQ(co_await reader, "late");
  }());
}

TEST(SockOps, TcpAcceptAndConnect) {
  run_io([]() -> corio::task<void> {
    corio::socket listener = corio_test::tcp_listener();
    const corio::socket_address addr = listener.getsockname();
    EXPECT_EQ(addr.host(), "127.0.0.1");
    EXPECT_NE(addr.port(), 0);
    auto server = corio::create_task([](corio::socket& l) -> corio::task<std::string> {
      auto [conn, peer] = co_await corio::sock_accept(l);
      EXPECT_EQ(peer.host(), "127.0.0.1");
      std::string got;
      for (;;) {
        std::string part = co_await corio::sock_recv(conn, 4096);
        if (part.empty()) break;
        got += part;
      }
      co_await corio::sock_sendall(conn, "ok:" + got);
      co_return got;
    }(listener));
    corio::socket client(AF_INET, SOCK_STREAM);
    co_await corio::sock_connect(client, addr);
    EXPECT_EQ(client.getpeername(), addr);
    co_await corio::sock_sendall(client, "ping");
    client.shutdown(SHUT_WR);
    std::string reply;
    for (;;) {
      std::string part = co_await corio::sock_recv(client, 4096);
      if (part.empty()) break;
      reply += part;
    }
    EXPECT_EQ(reply, "ok:ping");
    EXPECT_EQ(co_await server, "ping");
  }());
}

TEST(SockOps, ConnectionRefusedNamesTheAddress) {
  run_io([]() -> corio::task<void> {
    corio::socket_address addr;
    {
      corio::socket l = corio_test::tcp_listener();
      addr = l.getsockname();
    }  // closed: nobody listens there now
    corio::socket client(AF_INET, SOCK_STREAM);
    try {
      co_await corio::sock_connect(client, addr);
      ADD_FAILURE() << "connect succeeded";
    } catch (const corio::connection_refused_error& e) {
      EXPECT_NE(std::string(e.what()).find(addr.to_string()), std::string::npos) << e.what();
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
    }
  }());
}

TEST(SockOps, LargeSendallWithConcurrentReader) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    std::string big(10 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
    auto reader = corio::create_task([](corio::socket& s, std::size_t want) -> corio::task<std::string> {
      std::string got;
      std::string buf(65536, '\0');
      while (got.size() < want) {
        const std::size_t n = co_await corio::sock_recv_into(s, buf);
        if (n == 0) break;
        got.append(buf, 0, n);
      }
      co_return got;
    }(b, big.size()));
    co_await corio::sock_sendall(a, big);
    EXPECT_TRUE(co_await reader == big);
  }());
}

TEST(SockOps, CancelPendingRecvKeepsSocketUsable) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    for (int i = 0; i < 100; ++i) {
      auto reader = corio::create_task([](corio::socket& s) -> corio::task<std::string> {
        co_return co_await corio::sock_recv(s, 64);
      }(b));
      co_await corio::sleep(0s);
      reader.cancel();
      try {
        (void)co_await reader;
        ADD_FAILURE() << "the recv was not cancelled";
      } catch (const corio::cancelled_error&) {
      }
    }
    co_await corio::sock_sendall(a, "still here");
    std::string got;
    while (got.size() < 10) got += co_await corio::sock_recv(b, 64);
    EXPECT_EQ(got, "still here");
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(SockOps, CancelPendingAcceptAndConnectLeakNothing) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    corio::socket listener = corio_test::tcp_listener();
    auto acceptor = corio::create_task([](corio::socket& l) -> corio::task<void> {
      auto conn = co_await corio::sock_accept(l);
      (void)conn;
    }(listener));
    co_await corio::sleep(1ms);
    acceptor.cancel();
    EXPECT_THROW(co_await acceptor, corio::cancelled_error);
    // A connect to a non-routable address stays pending until cancelled.
    auto connector = corio::create_task([]() -> corio::task<void> {
      corio::socket s(AF_INET, SOCK_STREAM);
      co_await corio::sock_connect(s, corio::socket_address::ip("10.255.255.1", 9));
    }());
    co_await corio::sleep(5ms);
    if (!connector.done()) {
      connector.cancel();
      try {
        co_await connector;
      } catch (const corio::cancelled_error&) {
      } catch (const corio::os_error&) {  // no route at all on this machine
      }
    }
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(SockOps, UdpSendtoRecvfrom) {
  run_io([]() -> corio::task<void> {
    corio::socket a(AF_INET, SOCK_DGRAM), b(AF_INET, SOCK_DGRAM);
    a.bind(corio::socket_address::ip("127.0.0.1", 0));
    b.bind(corio::socket_address::ip("127.0.0.1", 0));
    auto rx = corio::create_task([](corio::socket& s) -> corio::task<std::pair<std::string, corio::socket_address>> {
      co_return co_await corio::sock_recvfrom(s, 2048);
    }(b));
    co_await corio::sleep(1ms);
    EXPECT_EQ(co_await corio::sock_sendto(a, "datagram", b.getsockname()), 8u);
    auto [data, from] = co_await rx;
    EXPECT_EQ(data, "datagram");
    EXPECT_EQ(from, a.getsockname());
  }());
}

TEST(SockOps, WaitReadableOnForeignFd) {
  run_io([]() -> corio::task<void> {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    auto waiter = corio::create_task([](int fd) -> corio::task<std::uint32_t> { co_return co_await corio::wait_readable(fd); }(p[0]));
    co_await corio::sleep(2ms);
    EXPECT_FALSE(waiter.done());
    EXPECT_EQ(::write(p[1], "x", 1), 1);
    EXPECT_TRUE(co_await waiter & POLLIN);
    EXPECT_TRUE(co_await corio::wait_writable(p[1]) & POLLOUT);
    ::close(p[0]);
    ::close(p[1]);
  }());
}

TEST(SockOps, ClosedSocketIsRejected) {
  run_io([]() -> corio::task<void> {
    corio::socket s;
    EXPECT_THROW((void)co_await corio::sock_recv(s, 1), std::invalid_argument);
  }());
}

TEST(SocketAddress, ParsesAndPrints) {
  EXPECT_EQ(corio::socket_address::ip("127.0.0.1", 80).to_string(), "127.0.0.1:80");
  EXPECT_EQ(corio::socket_address::ip("::1", 443).to_string(), "[::1]:443");
  EXPECT_EQ(corio::socket_address::ip("::1", 443).family(), AF_INET6);
  EXPECT_EQ(corio::socket_address::unix_path("/tmp/x.sock").path(), "/tmp/x.sock");
  EXPECT_EQ(corio::socket_address::unix_path(std::string_view("\0abs", 4)).to_string(), "@abs");
  EXPECT_THROW(corio::socket_address::ip("localhost", 1), std::invalid_argument);
  EXPECT_THROW(corio::socket_address::unix_path(std::string(200, 'x')), std::invalid_argument);
}

}  // namespace

// Unit tests for <corio/datagram.hpp>: datagram endpoints (UDP and Unix
// datagram sockets) on both backends.
#include <corio/datagram.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::open_fd_count;
using corio_test::run_io;

namespace {

corio::datagram_options bound_to(std::string host) {
  corio::datagram_options o;
  o.local_addr = corio::endpoint_address(std::move(host), 0);
  return o;
}

corio::task<corio::datagram_endpoint> udp_on(std::string host) {
  co_return co_await corio::create_datagram_endpoint(bound_to(std::move(host)));
}

// Answers every datagram with "echo:" + its contents, until cancelled.
corio::task<void> echo_server(corio::datagram_endpoint ep) {
  for (;;) {
    auto [data, from] = co_await ep.recvfrom();
    co_await ep.sendto("echo:" + data, from);
  }
}

TEST(Datagram, EchoRoundTrip) {
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint server = co_await udp_on("127.0.0.1");
    const corio::socket_address server_addr = server.sockname();
    EXPECT_EQ(server_addr.host(), "127.0.0.1");
    EXPECT_NE(server_addr.port(), 0);
    auto echo = corio::create_task(echo_server(server));
    corio::datagram_endpoint client = co_await udp_on("127.0.0.1");
    co_await client.sendto("hello", server_addr);
    auto [reply, from] = co_await client.recvfrom();
    EXPECT_EQ(reply, "echo:hello");
    EXPECT_EQ(from, server_addr);
    co_await client.sendto("", server_addr);  // an empty datagram is a datagram
    auto [empty_reply, from2] = co_await client.recvfrom();
    EXPECT_EQ(empty_reply, "echo:");
    echo.cancel();
    EXPECT_THROW(co_await echo, corio::cancelled_error);
  }());
}

TEST(Datagram, ManyDatagramsWithAWindowInFlight) {
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint server = co_await udp_on("127.0.0.1");
    auto echo = corio::create_task(echo_server(server));
    corio::datagram_options o;
    o.remote_addr = server.sockname();
    corio::datagram_endpoint client = co_await corio::create_datagram_endpoint(o);
    // A window of 16 stays far below the receive buffers: loopback loses nothing.
    constexpr int kTotal = 3000;
    constexpr int kWindow = 16;
    int sent = 0;
    for (; sent < kWindow; ++sent) co_await client.send(std::to_string(sent));
    for (int got = 0; got < kTotal; ++got) {
      const std::string reply = co_await client.recv();
      EXPECT_EQ(reply, "echo:" + std::to_string(got));
      if (sent < kTotal) co_await client.send(std::to_string(sent++));
    }
    echo.cancel();
    EXPECT_THROW(co_await echo, corio::cancelled_error);
  }());
}

TEST(Datagram, ConnectedModeSendsAndReceivesFromThePeerOnly) {
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint server = co_await udp_on("127.0.0.1");
    corio::datagram_options o;
    o.local_addr = corio::endpoint_address("127.0.0.1", 0);
    o.remote_addr = corio::endpoint_address("127.0.0.1", server.sockname().port());
    corio::datagram_endpoint client = co_await corio::create_datagram_endpoint(o);
    EXPECT_EQ(client.peername(), server.sockname());
    EXPECT_EQ(std::any_cast<corio::socket_address>(client.get_extra_info("peername")), server.sockname());
    EXPECT_EQ(std::any_cast<corio::socket_address>(client.get_extra_info("sockname")), client.sockname());
    EXPECT_EQ(std::any_cast<int>(client.get_extra_info("socket")), client.fileno());
    EXPECT_FALSE(server.get_extra_info("peername").has_value());
    EXPECT_EQ(std::any_cast<int>(server.get_extra_info("nothing", 7)), 7);

    co_await client.send("one");
    co_await client.sendto("two", server.sockname());  // the peer's own address is fine
    auto [d1, f1] = co_await server.recvfrom();
    auto [d2, f2] = co_await server.recvfrom();
    EXPECT_EQ(d1, "one");
    EXPECT_EQ(d2, "two");
    EXPECT_EQ(f1, client.sockname());
    co_await server.sendto("back", f1);
    EXPECT_EQ(co_await client.recv(), "back");

    // Python: ValueError('Invalid address: must be None or <peer>').
    EXPECT_THROW(co_await client.sendto("x", corio::socket_address::ip("127.0.0.1", 9)), std::invalid_argument);
    EXPECT_THROW(co_await server.send("x"), std::invalid_argument);  // not connected

    // A stranger's datagram does not reach a connected socket.
    corio::datagram_endpoint stranger = co_await udp_on("127.0.0.1");
    co_await stranger.sendto("intruder", client.sockname());
    co_await server.sendto("friend", client.sockname());
    EXPECT_EQ(co_await client.recv(), "friend");
  }());
}

TEST(Datagram, PortUnreachableOnAConnectedEndpointIsConnectionRefused) {
  run_io([]() -> corio::task<void> {
    corio::socket_address dead;
    {
      corio::datagram_endpoint gone = co_await udp_on("127.0.0.1");
      dead = gone.sockname();
    }  // closed: nobody listens there now
    corio::datagram_options o;
    o.remote_addr = dead;
    corio::datagram_endpoint client = co_await corio::create_datagram_endpoint(o);
    co_await client.send("anyone?");
    try {
      (void)co_await corio::wait_for(client.recv(), 5s);
      ADD_FAILURE() << "recv returned";
    } catch (const corio::connection_refused_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("fd " + std::to_string(client.fileno())), std::string::npos) << what;
      EXPECT_NE(what.find(dead.to_string()), std::string::npos) << what;
    }
    // Python's error_received does not close the transport: nor does this.
    EXPECT_FALSE(client.is_closing());
    co_await client.send("still usable");
  }());
}

TEST(Datagram, BroadcastOptionIsSetAndBroadcastsArrive) {
  bool skipped = false;
  run_io([](bool& skip) -> corio::task<void> {
    corio::datagram_endpoint receiver = co_await udp_on("0.0.0.0");
    const std::uint16_t port = receiver.sockname().port();
    corio::datagram_options o;
    o.family = AF_INET;
    o.allow_broadcast = true;
    corio::datagram_endpoint sender = co_await corio::create_datagram_endpoint(o);
    corio::datagram_endpoint plain = co_await udp_on("127.0.0.1");
    int on = 0;
    socklen_t len = sizeof on;
    EXPECT_EQ(::getsockopt(sender.fileno(), SOL_SOCKET, SO_BROADCAST, &on, &len), 0);
    EXPECT_EQ(on, 1);
    EXPECT_EQ(::getsockopt(plain.fileno(), SOL_SOCKET, SO_BROADCAST, &on, &len), 0);
    EXPECT_EQ(on, 0);
    const corio::socket_address bcast = corio::socket_address::ip("127.255.255.255", port);
    try {
      co_await sender.sendto("to all", bcast);
    } catch (const corio::os_error&) {
      skip = true;  // this machine routes no broadcast on loopback
      co_return;
    }
    std::optional<std::pair<std::string, corio::socket_address>> got;
    try {
      got = co_await corio::wait_for(receiver.recvfrom(), 2s);
    } catch (const corio::timeout_error&) {
      skip = true;
      co_return;
    }
    EXPECT_EQ(got->first, "to all");
    // Without SO_BROADCAST the kernel refuses (EACCES).
    EXPECT_THROW(co_await plain.sendto("to all", bcast), corio::permission_error);
  }(skipped));
  if (skipped) GTEST_SKIP() << "no broadcast on loopback here";
}

TEST(Datagram, Ipv6Loopback) {
  bool skipped = false;
  run_io([](bool& skip) -> corio::task<void> {
    std::optional<corio::datagram_endpoint> a;
    try {
      a = co_await udp_on("::1");
    } catch (const corio::os_error&) {
      skip = true;  // no IPv6 here
      co_return;
    }
    corio::datagram_endpoint b = co_await udp_on("::1");
    EXPECT_EQ(a->sockname().family(), AF_INET6);
    co_await b.sendto("six", a->sockname());
    auto [data, from] = co_await a->recvfrom();
    EXPECT_EQ(data, "six");
    EXPECT_EQ(from, b.sockname());
    EXPECT_EQ(from.host(), "::1");
  }(skipped));
  if (skipped) GTEST_SKIP() << "no IPv6 loopback here";
}

TEST(Datagram, NamesAreResolvedAndOptionsChecked) {
  run_io([]() -> corio::task<void> {
    corio::datagram_options o;
    o.family = AF_INET;
    o.local_addr = corio::endpoint_address("localhost", 0);
    corio::datagram_endpoint ep = co_await corio::create_datagram_endpoint(o);
    EXPECT_EQ(ep.sockname().host(), "127.0.0.1");

    corio::datagram_options none;  // neither address nor family
    EXPECT_THROW(co_await corio::create_datagram_endpoint(none), std::invalid_argument);
    corio::datagram_options mixed;  // no family in common
    mixed.local_addr = corio::socket_address::ip("127.0.0.1", 0);
    mixed.remote_addr = corio::socket_address::ip("::1", 9);
    EXPECT_THROW(co_await corio::create_datagram_endpoint(mixed), std::invalid_argument);
    corio::socket stream(AF_INET, SOCK_STREAM);
    EXPECT_THROW(co_await corio::create_datagram_endpoint(std::move(stream)), std::invalid_argument);

    // reuse_port lets two endpoints share a port.
    corio::datagram_options r1 = bound_to("127.0.0.1");
    r1.reuse_port = true;
    corio::datagram_endpoint e1 = co_await corio::create_datagram_endpoint(r1);
    corio::datagram_options r2;
    r2.reuse_port = true;
    r2.local_addr = e1.sockname();
    corio::datagram_endpoint e2 = co_await corio::create_datagram_endpoint(r2);
    EXPECT_EQ(e1.sockname(), e2.sockname());
    corio::datagram_options r3;  // without it the port is taken
    r3.local_addr = e1.sockname();
    EXPECT_THROW(co_await corio::create_datagram_endpoint(r3), corio::os_error);
  }());
}

TEST(Datagram, DatagramLargerThanTheReceiveSizeIsReportedAndDiscarded) {
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint a = co_await udp_on("127.0.0.1");
    corio::datagram_endpoint b = co_await udp_on("127.0.0.1");
    const std::string big(100, 'x');
    // Already there when the receive starts (the attempt made at once)...
    co_await b.sendto(big, a.sockname());
    co_await corio::sleep(5ms);
    try {
      (void)co_await a.recvfrom(16);
      ADD_FAILURE() << "no error for a truncated datagram";
    } catch (const corio::os_error& e) {
      EXPECT_EQ(e.error_number(), EMSGSIZE);
      const std::string what = e.what();
      EXPECT_NE(what.find("100 bytes"), std::string::npos) << what;
      EXPECT_NE(what.find(b.sockname().to_string()), std::string::npos) << what;
    }
    // ... and arriving while it waits (through the backend).
    auto waiting = corio::create_task([](corio::datagram_endpoint ep) -> corio::task<std::string> {
      co_return co_await ep.recv(16);
    }(a));
    co_await corio::sleep(5ms);
    co_await b.sendto(big, a.sockname());
    EXPECT_THROW(co_await waiting, corio::os_error);
    // The endpoint goes on; the default size takes any UDP datagram.
    const std::string huge(60000, 'y');
    co_await b.sendto(huge, a.sockname());
    auto [data, from] = co_await a.recvfrom();
    EXPECT_EQ(data.size(), huge.size());
    EXPECT_EQ(from, b.sockname());
    EXPECT_THROW(co_await a.recvfrom(0), std::invalid_argument);
  }());
}

TEST(Datagram, ReceiversSharingAnEndpointEachGetOneDatagram) {
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint a = co_await udp_on("127.0.0.1");
    corio::datagram_endpoint b = co_await udp_on("127.0.0.1");
    auto receiver = [](corio::datagram_endpoint ep) -> corio::task<std::string> { co_return co_await ep.recv(); };
    auto r1 = corio::create_task(receiver(a));
    auto r2 = corio::create_task(receiver(a));
    auto r3 = corio::create_task(receiver(a));
    co_await corio::sleep(2ms);
    co_await b.sendto("one", a.sockname());
    co_await corio::sleep(5ms);
    EXPECT_EQ(r1.done() + r2.done() + r3.done(), 1);  // the others wait on
    co_await b.sendto("two", a.sockname());
    co_await b.sendto("three", a.sockname());
    auto [x, y, z] = co_await corio::gather(r1, r2, r3);
    std::vector<std::string> got{x, y, z};
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{"one", "three", "two"}));
  }());
}

TEST(Datagram, CancellingAWaitingReceiveLeaksNothing) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint a = co_await udp_on("127.0.0.1");
    corio::datagram_endpoint b = co_await udp_on("127.0.0.1");
    for (int i = 0; i < 100; ++i) {
      auto reader = corio::create_task([](corio::datagram_endpoint ep) -> corio::task<std::string> {
        auto [d, f] = co_await ep.recvfrom();
        co_return d;
      }(a));
      co_await corio::sleep(0s);
      reader.cancel();
      EXPECT_THROW(co_await reader, corio::cancelled_error);
    }
    co_await b.sendto("after", a.sockname());
    auto [data, from] = co_await a.recvfrom();
    EXPECT_EQ(data, "after");
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(Datagram, SendWaitsWhileTheBufferIsFullAndCancelsCleanly) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    // A Unix datagram pair: the sender blocks while the receiver's queue is full.
    auto [sa, sb] = corio::socketpair(AF_UNIX, SOCK_DGRAM);
    corio::datagram_endpoint a = co_await corio::create_datagram_endpoint(std::move(sa));
    corio::datagram_endpoint b = co_await corio::create_datagram_endpoint(std::move(sb));
    int sent = 0;
    auto sender = corio::create_task([](corio::datagram_endpoint ep, int& n) -> corio::task<void> {
      for (; n < 100000; ++n) co_await ep.send("payload-" + std::to_string(n));
    }(a, sent));
    co_await corio::sleep(10ms);
    EXPECT_FALSE(sender.done());
    EXPECT_GT(sent, 0);
    const int stuck_at = sent;
    sender.cancel();
    EXPECT_THROW(co_await sender, corio::cancelled_error);
    // Everything sent before arrives in order, nothing after.
    for (int i = 0; i < stuck_at; ++i) EXPECT_EQ(co_await b.recv(), "payload-" + std::to_string(i));
    // Backpressure: a sender of more than fits finishes as the peer reads.
    auto burst = corio::create_task([](corio::datagram_endpoint ep) -> corio::task<void> {
      for (int i = 0; i < 2000; ++i) co_await ep.send(std::to_string(i));
    }(a));
    for (int i = 0; i < 2000; ++i) EXPECT_EQ(co_await b.recv(), std::to_string(i));
    co_await burst;
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(Datagram, ClosingWakesAWaitingReceiveWithAnError) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    corio::datagram_endpoint a = co_await udp_on("127.0.0.1");
    const int fd = a.fileno();
    auto reader = corio::create_task([](corio::datagram_endpoint ep) -> corio::task<std::string> {
      co_return co_await ep.recv();
    }(a));
    co_await corio::sleep(5ms);
    EXPECT_FALSE(reader.done());
    a.close();
    EXPECT_TRUE(a.is_closing());
    try {
      (void)co_await corio::wait_for(reader, 5s);
      ADD_FAILURE() << "the waiting recv returned";
    } catch (const corio::os_error& e) {
      EXPECT_EQ(e.error_number(), EBADF);
      EXPECT_NE(std::string(e.what()).find("fd " + std::to_string(fd)), std::string::npos) << e.what();
    }
    EXPECT_EQ(a.fileno(), -1);
    EXPECT_THROW(co_await a.recv(), corio::os_error);
    EXPECT_THROW(co_await a.sendto("x", corio::socket_address::ip("127.0.0.1", 9)), corio::os_error);
    a.close();  // idempotent
    a.abort();  // Python: transport.abort(); also a no-op now
    EXPECT_TRUE(a.is_closing());

    // The last handle going closes the endpoint too, waking its waiter.
    auto lonely = corio::create_task([]() -> corio::task<void> {
      corio::datagram_endpoint ep = co_await udp_on("127.0.0.1");
      auto r = corio::create_task([](corio::datagram_endpoint* e) -> corio::task<std::string> {
        co_return co_await e->recv();
      }(&ep));
      co_await corio::sleep(2ms);
      ep = corio::datagram_endpoint();
      EXPECT_THROW(co_await r, corio::os_error);
    }());
    co_await lonely;
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(Datagram, UnixDatagramEndpointWithAPath) {
  run_io([]() -> corio::task<void> {
    const std::string dir = ::testing::TempDir();
    const std::string path = dir + "corio_dgram_" + std::to_string(::getpid()) + ".sock";
    corio::datagram_options so;
    so.local_addr = corio::socket_address::unix_path(path);
    corio::datagram_endpoint server = co_await corio::create_datagram_endpoint(so);
    server.close();
    // The stale socket file left behind is replaced (as in Python).
    corio::datagram_endpoint again = co_await corio::create_datagram_endpoint(so);
    corio::datagram_options co;
    co.remote_addr = corio::socket_address::unix_path(path);
    corio::datagram_endpoint client = co_await corio::create_datagram_endpoint(co);
    co_await client.send("over unix");
    auto [data, from] = co_await again.recvfrom();
    EXPECT_EQ(data, "over unix");
    ::unlink(path.c_str());
  }());
}

TEST(Datagram, AnEndpointMayOutliveItsLoop) {
  const int before = open_fd_count();
  std::optional<corio::datagram_endpoint> kept;
  {
    corio::event_loop loop;
    kept = loop.run_until_complete(udp_on("127.0.0.1"));
    // A receive left waiting when the loop closes.
    auto waiting = loop.create_task([](corio::datagram_endpoint ep) -> corio::task<void> {
      (void)co_await ep.recv();
    }(*kept));
    loop.run_until_complete([]() -> corio::task<void> { co_await corio::sleep(2ms); }());
    loop.close();
    EXPECT_TRUE(kept->is_closing());
  }
  kept.reset();
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace

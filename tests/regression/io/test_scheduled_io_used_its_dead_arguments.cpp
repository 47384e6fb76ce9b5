// `create_task(sock_sendall(sock, make_payload()))`, the ordinary asyncio
// `loop.create_task(loop.sock_sendall(sock, make_payload()))`, sent freed
// memory: sock_sendall is a lazily started task that took a string_view of
// the temporary, which was gone when the task first ran. The same held for
// every I/O coroutine or awaitable that keeps a view or a reference until it
// runs (sock_send, sock_sendto, a datagram endpoint's sendto, readuntil's
// separator, start_tls's writer, a server's serve_forever and wait_closed,
// and the awaitables of a reader, a writer and an endpoint, which pointed at
// state the last handle frees), once scheduled with create_task or through
// wait_for. They now own what they need: a std::string rvalue is moved in,
// a handle is copied or held. Both backends run these tests.
#include <corio/datagram.hpp>
#include <corio/events.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/socket.hpp>
#include <corio/streams.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <string>

#include "io/io_util.hpp"
#include "io/tls_util.hpp"
#include "loop_util.hpp"

using namespace std::chrono_literals;
using corio_test::run_io;

namespace {

// Bounds a wait that should end at once.
constexpr auto kBound = 10s;

std::string payload(std::size_t n) { return std::string(n, 'A'); }

// Everything `s` receives until its peer shuts its side.
corio::task<std::string> receive_all(corio::socket& s) {
  std::string got;
  for (;;) {
    std::string chunk = co_await corio::sock_recv(s, 65536);
    if (chunk.empty()) break;
    got += chunk;
  }
  co_return got;
}

std::size_t count_not(const std::string& s, char c) {
  std::size_t n = 0;
  for (char x : s) n += (x != c);
  return n;
}

}  // namespace

TEST(ScheduledIoUsedItsDeadArguments, sock_sendall_of_a_temporary_sends_its_bytes) {
  run_io([]() -> corio::task<void> {
    for (std::size_t n : {std::size_t{50000}, std::size_t{200000}}) {
      auto [a, b] = corio::socketpair();
      auto sent = corio::create_task(corio::sock_sendall(a, payload(n)));  // the temporary dies here
      std::string other(n, 'Z');  // may take the freed block
      auto got = corio::create_task(receive_all(b));
      co_await sent;
      a.shutdown(SHUT_WR);
      const std::string all = co_await got;
      EXPECT_EQ(all.size(), n);
      EXPECT_EQ(count_not(all, 'A'), 0u);
      EXPECT_EQ(other.size(), n);
    }
  }());
}

TEST(ScheduledIoUsedItsDeadArguments, sock_send_and_sock_sendto_of_a_temporary_scheduled_through_wait_for_send_its_bytes) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto sent = corio::create_task(corio::wait_for(corio::sock_send(a, payload(100)), kBound));
    std::string other(100, 'Z');
    const std::size_t n = co_await sent;
    EXPECT_EQ(n, 100u);
    const std::string got = co_await corio::sock_recv(b, 1000);
    EXPECT_EQ(got, payload(100));

    corio::socket rx(AF_INET, SOCK_DGRAM);
    rx.bind(corio::socket_address::ip("127.0.0.1", 0));
    corio::socket tx(AF_INET, SOCK_DGRAM);
    auto datagram = corio::create_task(
        corio::wait_for(corio::sock_sendto(tx, payload(100), rx.getsockname()), kBound));
    std::string other2(100, 'Z');
    EXPECT_EQ(co_await datagram, 100u);
    auto [data, from] = co_await corio::sock_recvfrom(rx, 1000);
    EXPECT_EQ(data, payload(100));
    EXPECT_EQ(other.size() + other2.size(), 200u);
  }());
}

TEST(ScheduledIoUsedItsDeadArguments, a_datagram_sendto_of_a_temporary_scheduled_through_wait_for_sends_its_bytes) {
  run_io([]() -> corio::task<void> {
    corio::datagram_options ro;
    ro.local_addr = corio::endpoint_address("127.0.0.1", 0);
    corio::datagram_endpoint rx = co_await corio::create_datagram_endpoint(ro);
    corio::datagram_options to;
    to.family = AF_INET;
    corio::datagram_endpoint tx = co_await corio::create_datagram_endpoint(to);
    auto sent = corio::create_task(corio::wait_for(tx.sendto(payload(100), rx.sockname()), kBound));
    std::string other(100, 'Z');
    co_await sent;
    auto [data, from] = co_await corio::wait_for(rx.recvfrom(), kBound);
    EXPECT_EQ(data, payload(100));
    EXPECT_EQ(other.size(), 100u);
  }());
}

TEST(ScheduledIoUsedItsDeadArguments, readuntil_with_a_temporary_separator_scheduled_through_wait_for_finds_it) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto [reader, writer] = co_await corio::open_connection(std::move(a));
    const std::string sep(40, '#');
    auto line = corio::create_task(corio::wait_for(reader.readuntil(std::string(sep)), kBound));
    std::string other(40, 'Z');
    co_await corio_test::yield_once();
    co_await corio::sock_sendall(b, "head" + sep + "tail");
    EXPECT_EQ(co_await line, "head" + sep);
    EXPECT_EQ(other.size(), 40u);
  }());
}

TEST(ScheduledIoUsedItsDeadArguments, reads_and_drains_scheduled_after_every_handle_is_gone_see_the_connection_end) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    corio::task<std::string> read;
    corio::task<void> drained;
    corio::task<void> closed;
    {
      corio::stream_pair conn = co_await corio::open_connection(std::move(a));
      corio::stream_reader& reader = conn.first;
      corio::stream_writer& writer = conn.second;
      co_await corio::sock_sendall(b, "buffered");
      co_await corio_test::eventually([&] { return reader.buffered() == 8; });
      read = corio::create_task(corio::wait_for(reader.read(), kBound));
      drained = corio::create_task(corio::wait_for(writer.drain(), kBound));
      closed = corio::create_task(corio::wait_for(writer.wait_closed(), kBound));
    }  // the last handles go: the connection closes
    EXPECT_EQ(co_await read, "buffered");  // what was buffered, then the end
    EXPECT_THROW(co_await drained, corio::connection_reset_error);
    co_await closed;
  }());
}

TEST(ScheduledIoUsedItsDeadArguments, start_tls_scheduled_with_a_writer_that_is_then_gone_upgrades_the_connection) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto [sr, sw] = co_await corio::open_connection(std::move(b));
    corio::start_tls_options server;
    server.server_side = true;
    auto server_side = corio::create_task(corio::start_tls(sw, corio_test::server_context(), server));
    corio::stream_reader reader;
    corio::task<void> upgrade;
    {
      auto [r, w] = co_await corio::open_connection(std::move(a));
      reader = r;
      corio::stream_writer copy = w;  // the task must keep the connection open itself:
                                      // every writer handle goes before it has run
      upgrade = corio::create_task(corio::start_tls(copy, corio_test::client_context(), "localhost"));
    }
    co_await corio::wait_for(upgrade, kBound);
    co_await corio::wait_for(server_side, kBound);
    sw.write("over tls\n");
    EXPECT_EQ(co_await corio::wait_for(reader.readline(), kBound), "over tls\n");
  }());
}

TEST(ScheduledIoUsedItsDeadArguments, serve_forever_scheduled_from_a_handle_that_is_then_gone_keeps_serving) {
  run_io([]() -> corio::task<void> {
    std::uint16_t port = 0;
    corio::task<void> serving;
    {
      corio::server srv = co_await corio::start_server(corio_test::echo_handler, "127.0.0.1", 0);
      port = corio_test::port_of(srv);
      serving = corio::create_task(srv.serve_forever());
    }  // the only handle goes before the task has run
    co_await corio_test::yield_once();
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port);
    w.write("ping\n");
    EXPECT_EQ(co_await corio::wait_for(r.readline(), kBound), "ping\n");
    serving.cancel();
    EXPECT_THROW(co_await serving, corio::cancelled_error);
  }());
}

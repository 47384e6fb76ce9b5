// On io_uring, an accept abandoned by its owner (the loop closing under a
// server, or a task's frame destroyed with sock_accept in flight) dropped
// the completions it was still given without looking at them; each of them
// carried a new connection's fd, which stayed open until the process ended.
// Clients that connected while the loop was not running were left connected
// to nothing. Both backends run these tests.
#include <corio/events.hpp>
#include <corio/sock_ops.hpp>
#include <corio/socket.hpp>
#include <corio/streams.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::open_fd_count;

namespace {

constexpr int kClients = 5;

// Plain blocking clients, connected while the loop does not run: the kernel
// completes their handshakes from the listen backlog.
std::vector<int> connect_clients(std::uint16_t port) {
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c >= 0 && ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0)
      fds.push_back(c);
    else if (c >= 0)
      ::close(c);
  }
  return fds;
}

corio::task<void> ignore(corio::stream_reader, corio::stream_writer) { co_return; }

corio::task<void> tick() { co_await corio::sleep(1ms); }

}  // namespace

TEST(AbandonedAcceptLeakedItsConnection, a_server_closed_with_the_loop_leaves_no_accepted_fd_open) {
  const int before = open_fd_count();
  std::vector<int> clients;
  {
    corio::event_loop loop;
    corio::server srv = loop.run_until_complete(
        []() -> corio::task<corio::server> { co_return co_await corio::start_server(ignore, "127.0.0.1", 0); }());
    loop.run_until_complete(tick());  // the accept is with the backend
    clients = connect_clients(corio_test::port_of(srv));
    EXPECT_EQ(clients.size(), static_cast<std::size_t>(kClients));
    loop.close();
  }
  for (int c : clients) ::close(c);
  EXPECT_EQ(open_fd_count(), before);
}

TEST(AbandonedAcceptLeakedItsConnection, a_sock_accept_destroyed_with_the_loop_leaves_no_accepted_fd_open) {
  const int before = open_fd_count();
  std::vector<int> clients;
  {
    corio::socket listener = corio_test::tcp_listener();
    const std::uint16_t port = listener.getsockname().port();
    corio::event_loop loop;
    int reports = 0;  // the task destroyed while pending (TK-13)
    loop.set_exception_handler([&reports](corio::event_loop&, const corio::exception_context&) { ++reports; });
    // Accepts until the loop closes; the connection it is given meanwhile
    // is in its frame's op when the frame is destroyed.
    loop.create_task([](corio::socket& l) -> corio::task<void> {
      for (;;) {
        auto [conn, peer] = co_await corio::sock_accept(l);
      }
    }(listener));
    loop.run_until_complete(tick());
    clients = connect_clients(port);
    EXPECT_EQ(clients.size(), static_cast<std::size_t>(kClients));
    loop.close();
    EXPECT_EQ(reports, 1);
  }
  for (int c : clients) ::close(c);
  EXPECT_EQ(open_fd_count(), before);
}

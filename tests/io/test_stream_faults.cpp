// Faults and load at the edges of the streams layer, on both backends:
// cancellation of every pending operation without leaking a descriptor,
// and many idle connections beside an active one.
#include <corio/streams.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::open_fd_count;
using corio_test::port_of;
using corio_test::run_io;

namespace {

corio::task<void> echo_lines(corio::stream_reader r, corio::stream_writer w) {
  for (;;) {
    std::string line = co_await r.readline();
    if (line.empty()) break;
    w.write(line);
    co_await w.drain();
  }
}

TEST(StreamFaults, CancelledDrainLeaksNothing) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer) -> corio::task<void> { co_await corio::sleep(1h); },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    auto writer = corio::create_task([](corio::stream_writer& wr) -> corio::task<void> {
      const std::string chunk(1 << 20, 'w');
      for (;;) {
        wr.write(chunk);
        co_await wr.drain();
      }
    }(w));
    co_await corio::sleep(50ms);
    EXPECT_FALSE(writer.done());
    writer.cancel();
    EXPECT_THROW(co_await writer, corio::cancelled_error);
    w.abort();
    co_await w.wait_closed();
    srv.close();
    srv.abort_clients();
    co_await srv.wait_closed();
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(StreamFaults, CancelledServeForeverAndPendingAcceptsLeakNothing) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    for (int i = 0; i < 20; ++i) {
      corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
      auto forever = corio::create_task(srv.serve_forever());
      co_await corio::sleep(0s);
      forever.cancel();
      EXPECT_THROW(co_await forever, corio::cancelled_error);
      co_await srv.wait_closed();
    }
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(StreamFaults, CancelledOpenConnectionLeaksNothing) {
  const int before = open_fd_count();
  run_io([]() -> corio::task<void> {
    // A non-routable address: the connect stays pending until cancelled
    // (or fails at once where there is no route at all).
    for (int i = 0; i < 10; ++i) {
      auto c = corio::create_task(corio::open_connection("10.255.255.1", 9));
      co_await corio::sleep(2ms);
      c.cancel();
      try {
        (void)co_await c;
      } catch (const corio::cancelled_error&) {
      } catch (const corio::os_error&) {
      }
    }
  }());
  EXPECT_EQ(open_fd_count(), before);
}

TEST(StreamFaults, LoopClosedWithConnectionsOpenLeaksNothing) {
  const int before = open_fd_count();
  {
    corio::event_loop loop;
    loop.run_until_complete([]() -> corio::task<void> {
      corio::server srv = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
      std::vector<corio::stream_pair> conns;
      for (int i = 0; i < 10; ++i) conns.push_back(co_await corio::open_connection("127.0.0.1", port_of(srv)));
      // Handler tasks, transports and the server are all still alive here.
      co_await corio::sleep(5ms);
      (void)corio::create_task([](corio::server s) -> corio::task<void> { co_await s.serve_forever(); }(srv));
      co_await corio::sleep(1ms);
    }());
    loop.close();
  }
  EXPECT_EQ(open_fd_count(), before);
}

// Opens `n` plain blocking connections in a child process and holds them
// until its stdin closes; returns the pid and the pipe to release it.
std::pair<pid_t, int> idle_clients(std::uint16_t port, int n) {
  int p[2];
  if (::pipe(p) != 0) return {-1, -1};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[1]);
    std::vector<int> fds;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ::_exit(1);
      fds.push_back(fd);
    }
    char c;
    [[maybe_unused]] auto r = ::read(p[0], &c, 1);  // until released
    ::_exit(0);
  }
  ::close(p[0]);
  return {pid, p[1]};
}

TEST(StreamFaults, TenThousandIdleConnectionsBesideAnActiveOne) {
  constexpr int kIdle = 10000;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max < kIdle + 200) GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << lim.rlim_max;
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);
  run_io(
      []() -> corio::task<void> {
        std::size_t connected = 0;
        corio::server_options opts;
        opts.backlog = 4096;
        corio::server srv = co_await corio::start_server(
            [&connected](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
              ++connected;
              co_await echo_lines(std::move(r), std::move(w));
            },
            "127.0.0.1", 0, opts);
        // The child connects before any thread exists in this process.
        auto [pid, release] = idle_clients(port_of(srv), kIdle);
        EXPECT_GT(pid, 0);
        while (connected < kIdle) co_await corio::sleep(5ms);
        auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
        for (int i = 0; i < 2000; ++i) {
          w.write("ping\n");
          EXPECT_EQ(co_await r.readline(), "ping\n");
        }
        ::close(release);
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        while (srv.connection_count() > 1) co_await corio::sleep(5ms);
      }(),
      std::chrono::seconds(100));
}

}  // namespace

namespace {

TEST(StreamFaults, HandlesOutlivingTheirLoopAreHarmless) {
  const int before = open_fd_count();
  std::optional<corio::server> srv;
  std::optional<corio::stream_pair> conn;
  {
    corio::event_loop loop;
    loop.run_until_complete([](std::optional<corio::server>& s, std::optional<corio::stream_pair>& c) -> corio::task<void> {
      s = co_await corio::start_server(echo_lines, "127.0.0.1", 0);
      c = co_await corio::open_connection("127.0.0.1", port_of(*s));
    }(srv, conn));
    loop.close();
  }  // the loop is gone; the handles still exist
  EXPECT_TRUE(conn->second.is_closing());
  conn->second.write("ignored");
  conn->second.close();
  srv->close();
  conn.reset();
  srv.reset();
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace

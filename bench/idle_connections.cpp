// Memory per idle connection: a corio echo server (the W5 handler: read ->
// write -> drain) holds N idle TCP connections from 127.0.0.1; the figure is
// the growth of the server's resident set divided by N, so it counts what
// corio keeps per connection in user space (the handler's coroutine frame,
// the reader, the transport, the server's bookkeeping, the backend's) and
// none of the kernel's socket memory.
//
//   idle_connections [N]       N defaults to 10000; CORIO_BACKEND=epoll for epoll
//
// The clients live in a forked child, so their memory is not counted. The
// baseline is taken after one connection has come and gone, so what every
// server pays once (the ring's buffers, the first pool blocks) is not
// charged to the connections.
#include <corio/os_errors.hpp>
#include <corio/runners.hpp>
#include <corio/streams.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <csignal>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "echo_handler.hpp"

namespace {

using namespace std::chrono_literals;

long rss_kb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::_Exit(1);
}

// The child: opens n connections to port, says so on `done`, and keeps
// them open until `quit` closes.
[[noreturn]] void clients(std::uint16_t port, long n, int done, int quit) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fds;
  fds.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("idle_connections: client socket");
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) die("idle_connections: client connect");
    fds.push_back(fd);
  }
  char c = 1;
  if (::write(done, &c, 1) != 1) die("idle_connections: client pipe");
  while (::read(quit, &c, 1) > 0) {
  }
  std::_Exit(0);
}

corio::task<int> measure(long n) {
  corio::server_options opts;
  opts.backlog = 4096;
  corio::server srv = co_await corio::start_server(bench::echo_read, "127.0.0.1", 0, opts);
  const std::uint16_t port = srv.sockets().at(0).getsockname().port();

  {  // one connection first: the server's one-off costs are paid here
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port);
    w.write("warm-up\n");
    co_await r.readexactly(8);
    w.close();
    co_await w.wait_closed();
  }
  while (srv.connection_count() != 0) co_await corio::sleep(1ms);
  const long before = rss_kb();

  int done[2], quit[2];
  if (::pipe2(done, O_CLOEXEC) != 0 || ::pipe2(quit, O_CLOEXEC) != 0) die("idle_connections: pipe");
  const pid_t child = ::fork();
  if (child < 0) die("idle_connections: fork");
  if (child == 0) {
    ::close(done[0]);
    ::close(quit[1]);  // else the child would wait for itself
    clients(port, n, done[1], quit[0]);
  }
  ::close(done[1]);
  ::close(quit[0]);

  const auto t0 = std::chrono::steady_clock::now();
  while (srv.connection_count() < static_cast<std::size_t>(n)) {
    if (std::chrono::steady_clock::now() - t0 > 60s) {
      std::fprintf(stderr, "idle_connections: only %zu of %ld connections after 60 s\n", srv.connection_count(), n);
      ::kill(child, SIGKILL);
      co_return 1;
    }
    co_await corio::sleep(1ms);
  }
  char c = 0;
  if (::read(done[0], &c, 1) != 1) die("idle_connections: the clients failed");
  co_await corio::sleep(100ms);  // every handler is now waiting in read()
  const long after = rss_kb();

  ::close(quit[1]);  // the clients close their connections and exit
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(done[0]);

  const double per_conn = double(after - before) * 1024.0 / double(n);
  std::printf("W5 idle_memory impl=corio:%s conns=%ld rss_before_kb=%ld rss_after_kb=%ld bytes_per_conn=%.0f\n",
              corio::get_running_loop().backend_name(), n, before, after, per_conn);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = static_cast<long>(bench::arg_n(argc, argv, 10000));
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < static_cast<rlim_t>(n + 64)) {
    std::fprintf(stderr, "idle_connections: %ld connections need %ld descriptors; the hard limit is %lu\n", n, n + 64,
                 static_cast<unsigned long>(rl.rlim_max));
    return 2;
  }
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);  // the child inherits it
  return corio::run(measure(n));
}

// W13's floors (docs/benchmarks.md): 8-byte ping-pongs between this process
// and a forked child with raw send/recv calls, no framing, no codec, no
// library: over an AF_UNIX socketpair (the bound for a manager's dict
// operation, W13a) and over TCP on 127.0.0.1 with TCP_NODELAY (the bound
// for a remote queue's round trip, W13b). The modes are named after
// w13_managers' (dict: AF_UNIX, rtt: TCP), so that one command line runs
// either. `--pin cpu0` puts both on CPU 0.
//
// Usage: w13_socket_floor [--mode dict|rtt] [N] [--pin cpu0]
#include "ipc_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

void put(int fd, std::uint64_t v) { bench::check(::send(fd, &v, 8, MSG_NOSIGNAL) == 8, "send"); }
std::uint64_t take(int fd) {
  std::uint64_t v = 0;
  bench::check(::recv(fd, &v, 8, MSG_WAITALL) == 8, "recv");
  return v;
}

// The child answers v + 1 until it is sent UINT64_MAX.
[[noreturn]] void echo_plus_one(int fd) {
  for (;;) {
    const std::uint64_t v = take(fd);
    if (v == UINT64_MAX) ::_exit(0);
    put(fd, v + 1);
  }
}

// A connected TCP pair on 127.0.0.1 (both ends TCP_NODELAY).
std::pair<int, int> tcp_pair() {
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bench::check(l >= 0 && ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(l, 1) == 0 &&
                   ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0,
               "listen on 127.0.0.1");
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bench::check(c >= 0 && ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0, "connect");
  const int s = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  bench::check(s >= 0, "accept");
  ::close(l);
  const int one = 1;
  ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {c, s};
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "dict";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
      mode = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  bench::check(mode == "dict" || mode == "rtt", "--mode is dict (AF_UNIX) or rtt (TCP)");
  const std::int64_t n = bench::parse_ipc_args(static_cast<int>(rest.size()), rest.data(), 100'000).n;
  int mine = -1, theirs = -1;
  if (mode == "dict") {
    int sv[2];
    bench::check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    mine = sv[0];
    theirs = sv[1];
  } else {
    std::tie(mine, theirs) = tcp_pair();
  }
  const pid_t pid = ::fork();
  bench::check(pid >= 0, "fork");
  if (pid == 0) {
    ::close(mine);
    echo_plus_one(theirs);
  }
  ::close(theirs);
  put(mine, 0);
  (void)take(mine);
  bench::stopwatch sw;
  std::uint64_t r = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    put(mine, static_cast<std::uint64_t>(i));
    r = take(mine);
  }
  const double wall = sw.wall_s(), cpu = sw.cpu_s();
  bench::check(r == static_cast<std::uint64_t>(n), "every integer came back plus one");
  put(mine, UINT64_MAX);
  int status = 0;
  bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child");
  const double dn = double(n);
  auto line = bench::line(mode == "dict" ? "W13a manager_dict" : "W13b remote_queue_rtt");
  line.str("impl", mode == "dict" ? "floor:unix_pingpong" : "floor:tcp_pingpong").num("N", n).str("pin", bench::pin_tag());
  if (mode == "dict") {
    line.num("ops_per_s", dn / wall).num("us_per_op", wall * 1e6 / dn);
  } else {
    line.num("us_per_roundtrip", wall * 1e6 / dn);
  }
  line.num("wall_s", wall).num("cpu_s", cpu).num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()}).print();
}

// W12b's floor (docs/benchmarks.md): the same ping-pong with raw pipe(2)s
// and 8-byte read/write calls between this process and a forked child, no
// framing, no codec, no library. `--pin cpu0` puts both on CPU 0.
#include "ipc_util.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace {

void put(int fd, std::uint64_t v) { bench::check(::write(fd, &v, 8) == 8, "write"); }
std::uint64_t take(int fd) {
  std::uint64_t v = 0;
  bench::check(::read(fd, &v, 8) == 8, "read");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::parse_ipc_args(argc, argv, 100000).n;
  int to_child[2], to_parent[2];
  bench::check(::pipe(to_child) == 0 && ::pipe(to_parent) == 0, "pipe");
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (;;) {
      const std::uint64_t v = take(to_child[0]);
      if (v == UINT64_MAX) ::_exit(0);
      put(to_parent[1], v + 1);
    }
  }
  put(to_child[1], 0);
  (void)take(to_parent[0]);
  bench::stopwatch sw;
  std::uint64_t r = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    put(to_child[1], static_cast<std::uint64_t>(i));
    r = take(to_parent[0]);
  }
  const double wall = sw.wall_s(), cpu = sw.cpu_s();
  bench::check(r == static_cast<std::uint64_t>(n), "every integer came back plus one");
  put(to_child[1], UINT64_MAX);
  int status = 0;
  bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child");
  const double dn = double(n);
  bench::line("W12b ipc_pipe")
      .str("impl", "floor:pipe")
      .num("N", n)
      .num("us_per_roundtrip", wall * 1e6 / dn)
      .str("pin", bench::pin_tag())
      .str("msg", "8B")
      .num("roundtrips_per_s", dn / wall)
      .num("wall_s", wall)
      .num("cpu_s", cpu)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

// W12b ipc_pipe (docs/benchmarks.md): ping-pong of a small integer over a
// duplex multiprocessing pipe between this process and a child started with
// fork, N = 100,000 round trips, each a send() and a recv() through the
// codec on both sides. Also --mode pipe_bytes: send_bytes/recv_bytes of 8
// bytes. `--pin cpu0` puts both processes on CPU 0 (the child inherits the
// affinity), as `taskset -c 0` would. The child's start is not timed.
// Python peer: bench/python/w12_ipc.py; the floor: w12_pipe_floor.cpp.
#include "ipc_util.hpp"

#include <corio/multiprocessing.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

void echo_ints(mp::connection c) {
  for (;;) {
    const std::int64_t v = c.recv<std::int64_t>();
    if (v < 0) return;
    c.send(v + 1);
  }
}

void echo_bytes(mp::connection c) {
  for (;;) {
    std::string m = c.recv_bytes();
    if (m == "stop") return;
    c.send_bytes(m);
  }
}


}  // namespace

int main(int argc, char** argv) {
  mp::freeze_support();
  // `[--mode pipe|pipe_bytes] [N] [--pin cpu0]`
  bool bytes = false;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mode") && i + 1 < argc) {
      bytes = !std::strcmp(argv[++i], "pipe_bytes");
    } else {
      rest.push_back(argv[i]);
    }
  }
  const std::int64_t n = bench::parse_ipc_args(static_cast<int>(rest.size()), rest.data(), 100000).n;
  auto [a, b] = mp::pipe();
  mp::process child(bytes ? echo_bytes : echo_ints, std::move(b));
  child.start();
  double wall = 0, cpu = 0;
  if (bytes) {
    const std::string msg = "12345678";
    a.send_bytes(msg);
    (void)a.recv_bytes();  // warm-up: the child is up
    bench::stopwatch sw;
    std::string r;
    for (std::int64_t i = 0; i < n; ++i) {
      a.send_bytes(msg);
      r = a.recv_bytes();
    }
    wall = sw.wall_s();
    cpu = sw.cpu_s();
    bench::check(r == msg, "the last message came back whole");
    a.send_bytes("stop");
  } else {
    a.send(std::int64_t{0});
    (void)a.recv<std::int64_t>();
    bench::stopwatch sw;
    std::int64_t r = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      a.send(i);
      r = a.recv<std::int64_t>();
    }
    wall = sw.wall_s();
    cpu = sw.cpu_s();
    bench::check(r == n, "every integer came back plus one");
    a.send(std::int64_t{-1});
  }
  child.join();
  bench::check(child.exitcode() == 0, "the child exits with 0");
  const double dn = double(n);
  bench::line("W12b ipc_pipe")
      .str("impl", "corio")
      .num("N", n)
      .num("us_per_roundtrip", wall * 1e6 / dn)
      .str("pin", bench::pin_tag())
      .str("msg", bytes ? "8B" : "int")
      .num("roundtrips_per_s", dn / wall)
      .num("wall_s", wall)
      .num("cpu_s", cpu)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

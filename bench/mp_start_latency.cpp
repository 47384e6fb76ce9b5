// How long starting a process takes, per start method (docs/benchmarks.md,
// "Process start"): N times, a process whose target returns at once is
// started and joined; reported per process, and for start() alone (fork:
// the fork; spawn: the child exec'd; forkserver: the server answered with
// the pid). The fork server is started before the timing, as Python's is on
// first use.
#include "bench_util.hpp"

#include <corio/multiprocessing.hpp>

#include <cstdint>
#include <cstring>
#include <string>

namespace mp = corio::multiprocessing;

namespace {
void nothing() {}
}  // namespace

int main(int argc, char** argv) {
  mp::freeze_support();
  std::int64_t n = 200;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--method") && i + 1 < argc) {
      only = argv[++i];
    } else {
      char* args[] = {argv[0], argv[i], nullptr};
      n = bench::arg_n(2, args, n);
    }
  }
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    if (!only.empty() && only != method) continue;
    const mp::context ctx = mp::get_context(method);
    {
      mp::process warm(nothing);
      ctx.start(warm);
      warm.join();
    }
    double start_s = 0;
    bench::stopwatch sw;
    for (std::int64_t i = 0; i < n; ++i) {
      mp::process p(nothing);
      const bench::stopwatch one;
      ctx.start(p);
      start_s += one.wall_s();
      p.join();
      bench::check(p.exitcode() == 0, "the child exits with 0");
    }
    const double wall = sw.wall_s();
    bench::line("MP start_latency")
        .str("impl", "corio")
        .str("method", method)
        .num("N", n)
        .num("us_per_process", wall * 1e6 / double(n))
        .num("us_per_start", start_s * 1e6 / double(n))
        .num("wall_s", wall)
        .print();
  }
}

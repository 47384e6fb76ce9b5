// W7's physical floor (docs/benchmarks.md): N = 2,000 `/bin/true` started
// with posix_spawn and reaped with waitpid, at most 64 at once, no event
// loop: what starting and reaping processes costs on this machine, C-style.
#include "bench_util.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

extern char** environ;

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 2000);
  constexpr int kAtOnce = 64;
  char prog[] = "/bin/true";
  char* child_argv[] = {prog, nullptr};
  bench::stopwatch sw;
  std::int64_t started = 0, reaped = 0;
  int running = 0;
  while (reaped < n) {
    while (started < n && running < kAtOnce) {
      pid_t pid;
      bench::check(::posix_spawn(&pid, prog, nullptr, nullptr, child_argv, environ) == 0, "posix_spawn");
      ++started;
      ++running;
    }
    int status = 0;
    bench::check(::waitpid(-1, &status, 0) > 0, "waitpid");
    bench::check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "every /bin/true exits with 0");
    --running;
    ++reaped;
  }
  const double wall = sw.wall_s(), cpu = sw.cpu_s();
  const double dn = double(n);
  bench::line("W7 subprocess")
      .str("impl", "floor:posix_spawn")
      .num("N", n)
      .num("procs_per_s", dn / wall)
      .num("us_per_proc", wall * 1e6 / dn)
      .num("wall_s", wall)
      .num("cpu_s", cpu)
      .num("at_once", std::int64_t{kAtOnce})
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

// W7 subprocess (docs/benchmarks.md): spawn N = 2,000 `/bin/true` through
// the asyncio subprocess API, at most 64 at once (a semaphore), and await
// each exit status. Python peer: bench/python/w7_subprocess.py; the floor:
// w7_spawn_floor.cpp (posix_spawn + waitpid, no event loop).
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace {

constexpr int kAtOnce = 64;

corio::task<int> one(corio::semaphore& sem) {
  co_await sem.acquire();
  int rc = -1;
  try {
    corio::process p = co_await corio::create_subprocess_exec("/bin/true");
    rc = co_await p.wait();
  } catch (...) {
    sem.release();
    throw;
  }
  sem.release();
  co_return rc;
}

struct times {
  double wall_s, cpu_s;
};

corio::task<times> spawn_all(std::int64_t n) {
  corio::semaphore sem(kAtOnce);
  bench::stopwatch sw;
  std::vector<corio::task<int>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) tasks.push_back(corio::create_task(one(sem)));
  const std::vector<int> codes = co_await corio::gather(std::move(tasks));
  times t{sw.wall_s(), sw.cpu_s()};
  for (int c : codes) bench::check(c == 0, "every /bin/true exits with 0");
  co_return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 2000);
  const times t = corio::run(spawn_all(n));
  const double dn = double(n);
  bench::line("W7 subprocess")
      .str("impl", "corio")
      .num("N", n)
      .num("procs_per_s", dn / t.wall_s)
      .num("us_per_proc", t.wall_s * 1e6 / dn)
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("at_once", std::int64_t{kAtOnce})
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

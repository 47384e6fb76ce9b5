// W1 spawn (docs/benchmarks.md): create N tasks of a coroutine that
// returns its argument + 1, gather them all, sum the results.
// Python peer: bench/python/w1_spawn.py.
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <cstdint>
#include <utility>
#include <vector>

namespace {

corio::task<std::int64_t> work(std::int64_t x) { co_return x + 1; }

struct times {
  double wall_s, cpu_s;
};

corio::task<times> spawn_and_gather(std::int64_t n) {
  bench::stopwatch sw;
  std::vector<corio::task<std::int64_t>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) tasks.push_back(corio::create_task(work(i)));
  std::vector<std::int64_t> results = co_await corio::gather(std::move(tasks));
  std::int64_t sum = 0;
  for (std::int64_t r : results) sum += r;
  times t{sw.wall_s(), sw.cpu_s()};
  bench::check(sum == n * (n - 1) / 2 + n, "sum of results");
  co_return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 1'000'000);
  const long base_kb = bench::peak_rss_kb();
  const times t = corio::run(spawn_and_gather(n));
  const long peak_kb = bench::peak_rss_kb();
  const double dn = double(n);
  bench::line("W1 spawn")
      .str("impl", "corio")
      .num("N", n)
      .num("tasks_per_s", dn / t.wall_s)
      .num("ns_per_task", t.wall_s * 1e9 / dn)
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{peak_kb})
      // Same definition as the native peers (whole-process peak / N), and
      // the Python scripts' (growth over the start-up footprint / N).
      .num("bytes_per_task", double(peak_kb) * 1024.0 / dn)
      .num("bytes_per_task_net", double(peak_kb - base_kb) * 1024.0 / dn)
      .print();
}

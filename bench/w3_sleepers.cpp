// W3 sleepers (docs/benchmarks.md): N tasks each sleep a deterministic
// pseudo-random time in [0, 1 s) (LCG x = x*1103515245+12345 mod 2^31 from
// x = 1, delay = x mod 1000 ms), gathered. Python peer:
// bench/python/w3_sleepers.py.
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

namespace {

corio::task<> sleeper(std::int64_t delay_ms) { co_await corio::sleep(std::chrono::milliseconds(delay_ms)); }

struct times {
  double wall_s, spawn_s, cpu_s;
};

corio::task<times> sleepers(std::int64_t n) {
  bench::stopwatch sw;
  std::vector<corio::task<>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  std::uint64_t x = 1;
  for (std::int64_t i = 0; i < n; ++i) {
    x = (x * 1103515245u + 12345u) & 0x7fffffffu;
    tasks.push_back(corio::create_task(sleeper(static_cast<std::int64_t>(x % 1000))));
  }
  const double spawn_s = sw.wall_s();
  co_await corio::gather(std::move(tasks));
  co_return times{sw.wall_s(), spawn_s, sw.cpu_s()};
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 1'000'000);
  const long base_kb = bench::peak_rss_kb();
  const times t = corio::run(sleepers(n));
  const long peak_kb = bench::peak_rss_kb();
  const double dn = double(n);
  bench::line("W3 sleepers")
      .str("impl", "corio")
      .num("N", n)
      .num("wall_s", t.wall_s)
      .num("spawn_s", t.spawn_s)
      .num("overshoot_s", t.wall_s - 0.999)  // the longest sleep is 999 ms
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{peak_kb})
      .num("bytes_per_task", double(peak_kb) * 1024.0 / dn)
      .num("bytes_per_task_net", double(peak_kb - base_kb) * 1024.0 / dn)
      .print();
}

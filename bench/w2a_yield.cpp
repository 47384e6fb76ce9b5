// W2a switch (docs/benchmarks.md): one task yields to the loop with
// sleep(0) N times. Python peer: bench/python/w2a_yield.py.
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <chrono>
#include <cstdint>

namespace {

struct times {
  double wall_s, cpu_s;
};

corio::task<times> yield_n(std::int64_t n) {
  using namespace std::chrono_literals;
  bench::stopwatch sw;
  for (std::int64_t i = 0; i < n; ++i) co_await corio::sleep(0s);
  co_return times{sw.wall_s(), sw.cpu_s()};
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 10'000'000);
  const times t = corio::run(yield_n(n));
  const double dn = double(n);
  bench::line("W2a yield")
      .str("impl", "corio")
      .num("N", n)
      .num("ns_per_yield", t.wall_s * 1e9 / dn)
      .num("yields_per_s", dn / t.wall_s)
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

// W9 process pool (docs/benchmarks.md), on a multiprocessing::pool of 2
// fork workers, as the CPython peer (bench/python/w9_pool.py) uses
// multiprocessing.Pool(2) with fork. The workers are started, and have run
// one small map, before the clock starts. Not pinned: the 2 workers need
// both CPUs.
//
//   --mode map   W9a: map(x*x) over N (default 1,000,000) 64-bit integers,
//                chunksize 10,000; items/s from the map's wall time.
//   --mode cpu   W9b: the sum of i*i for i < N (default 2*10^8) split in 2
//                chunks (starmap over [0, N/2) and [N/2, N)), against the
//                same sum computed serially here; speedup = serial / pool.
//                The sum wraps modulo 2^64 (Python's is exact); both sides
//                of the comparison wrap alike, and each term is kept from
//                being folded into a closed form.
//
// Usage: w9_pool [N] [--mode map|cpu]
#include "bench_util.hpp"

#include <corio/multiprocessing.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

std::int64_t square(std::int64_t x) { return x * x; }

// Not inlined: the serial run and the workers run the same code.
[[gnu::noinline]] std::uint64_t chunk_sum(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = 0;
  for (std::uint64_t i = a; i < b; ++i) {
    std::uint64_t t = i;
    bench::opaque(t);  // one multiply-add per item, as written
    s += t * t;
  }
  return s;
}

std::uint64_t ident(std::uint64_t x) { return x; }

void run_map(std::int64_t n) {
  bench::stopwatch total;
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  (void)p.map(square, std::vector<std::int64_t>{0, 1});  // workers up before timing
  const double start_s = total.wall_s();
  std::vector<std::int64_t> xs(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) xs[static_cast<std::size_t>(i)] = i;
  bench::stopwatch sw;
  const std::vector<std::int64_t> out = p.map(square, xs, 10'000);
  const double wall = sw.wall_s();
  const double cpu = sw.cpu_s();
  bench::check(static_cast<std::int64_t>(out.size()) == n && out.back() == (n - 1) * (n - 1), "every square came back");
  p.close();
  p.join();
  bench::line("W9a pool_map")
      .str("impl", "corio")
      .num("N", n)
      .num("items_per_s", double(n) / wall)
      .num("ns_per_item", wall * 1e9 / double(n))
      .num("wall_s", wall)
      .num("parent_cpu_s", cpu)
      .num("pool_start_s", start_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

void run_cpu(std::int64_t n) {
  const auto un = static_cast<std::uint64_t>(n);
  bench::stopwatch s0;
  const std::uint64_t serial = chunk_sum(0, un);
  const double t_serial = s0.wall_s();
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  (void)p.map(ident, std::vector<std::uint64_t>{0, 1});  // workers up before timing
  bench::stopwatch s1;
  const std::vector<std::tuple<std::uint64_t, std::uint64_t>> halves{{0, un / 2}, {un / 2, un}};
  std::uint64_t par = 0;
  for (std::uint64_t v : p.starmap(chunk_sum, halves)) par += v;
  const double t_pool = s1.wall_s();
  bench::check(par == serial, "the pool's sum equals the serial one");
  p.close();
  p.join();
  bench::line("W9b pool_cpu")
      .str("impl", "corio")
      .num("N", n)
      .num("serial_s", t_serial)
      .num("pool_s", t_pool)
      .num("speedup", t_serial / t_pool)
      .num("serial_ns_per_item", t_serial * 1e9 / double(n))
      .num("pool_items_per_s", double(n) / t_pool)
      .num("wall_s", t_pool)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

}  // namespace

int main(int argc, char** argv) {
  mp::freeze_support();
  std::string mode = "map";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
      mode = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (mode != "map" && mode != "cpu") {
    std::fprintf(stderr, "usage: %s [N] [--mode map|cpu]\n", argv[0]);
    return 2;
  }
  const std::int64_t n = bench::arg_n(static_cast<int>(rest.size()), rest.data(), mode == "map" ? 1'000'000 : 200'000'000);
  if (mode == "map") {
    run_map(n);
  } else {
    run_cpu(n);
  }
}

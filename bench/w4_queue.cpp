// W4 queue (docs/benchmarks.md): a bounded corio::queue (maxsize 1024),
// P producers and P consumers move N integers in total; P = 1 and P = 4.
// Python peer: w4_queue.py in the peers' checkout (same shape: consumers
// stop at a sentinel, one per consumer). Usage: w4_queue [N] [P] (default: both P).
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

namespace {

using item = std::optional<std::int64_t>;  // nullopt: the sentinel

corio::task<> producer(corio::queue<item>& q, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) co_await q.put(i);
}

corio::task<std::int64_t> consumer(corio::queue<item>& q) {
  std::int64_t s = 0;
  for (;;) {
    item x = co_await q.get();
    if (!x) co_return s;
    s += *x;
  }
}

struct times {
  double wall_s, cpu_s;
};

corio::task<times> run_pairs(std::int64_t n, int pairs) {
  corio::queue<item> q(1024);
  bench::stopwatch sw;
  std::vector<corio::task<std::int64_t>> consumers;
  for (int k = 0; k < pairs; ++k) consumers.push_back(corio::create_task(consumer(q)));
  std::vector<corio::task<>> producers;
  for (int k = 0; k < pairs; ++k) producers.push_back(producer(q, n * k / pairs, n * (k + 1) / pairs));
  co_await corio::gather(std::move(producers));
  for (int k = 0; k < pairs; ++k) co_await q.put(std::nullopt);
  std::vector<std::int64_t> sums = co_await corio::gather(std::move(consumers));
  times t{sw.wall_s(), sw.cpu_s()};
  std::int64_t total = 0;
  for (std::int64_t s : sums) total += s;
  bench::check(total == n * (n - 1) / 2, "sum of the items");
  co_return t;
}

void measure(std::int64_t n, int pairs) {
  const times t = corio::run(run_pairs(n, pairs));
  bench::line(pairs == 1 ? "W4 queue_1x1" : "W4 queue_4x4")
      .str("impl", "corio")
      .num("N", n)
      .num("items_per_s", double(n) / t.wall_s)
      .num("ns_per_item", t.wall_s * 1e9 / double(n))
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 10'000'000);
  if (argc > 2) {
    measure(n, std::atoi(argv[2]));
  } else {
    measure(n, 1);
    measure(n, 4);
  }
}

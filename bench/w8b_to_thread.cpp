// W8b to_thread (docs/benchmarks.md): from a running loop, N
// sequential `co_await corio::to_thread(noop)` round trips (loop thread ->
// default executor's worker -> back to the loop through
// call_soon_threadsafe). The executor is started outside the timed part by
// a first round trip, as the Python peer does. Not pinned: the loop thread
// and the worker share the machine's CPUs.
// Python peer: w8b_to_thread.py in the peers' checkout.
#include "bench_util.hpp"

#include <corio/corio.hpp>
#include <corio/threads.hpp>

#include <cstdint>

namespace {

std::int64_t calls = 0;  // written by the worker, read on the loop after each round trip

void noop() { ++calls; }

struct times {
  double wall_s, cpu_s;
};

corio::task<times> run(std::int64_t n) {
  co_await corio::to_thread(noop);  // start the default executor outside the timed part
  bench::stopwatch sw;
  for (std::int64_t i = 0; i < n; ++i) co_await corio::to_thread(noop);
  times t{sw.wall_s(), sw.cpu_s()};
  bench::check(calls == n + 1, "every round trip ran its callable once");
  co_return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 10'000);
  const times t = corio::run(run(n));
  bench::line("W8b to_thread")
      .str("impl", "corio")
      .num("N", n)
      .num("us_per_roundtrip", t.wall_s * 1e6 / double(n))
      .num("roundtrips_per_s", double(n) / t.wall_s)
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

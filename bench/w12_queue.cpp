// W12a ipc_queue (docs/benchmarks.md): a forked producer puts N items on a
// multiprocessing::queue (no maxsize, the default 1 MiB ring) and this
// process gets them all. `--item int` (default, N = 1,000,000) puts the ints
// 0..N-1 and checks their sum; `--item 1KiB` (N = 200,000) puts a 1024-byte
// std::string and checks the total length. The producer is forked and
// waiting before the clock starts; it stops when the last item is taken.
//
// Usage: w12_queue [N] [--pin cpu0] [--item int|1KiB]
#include "ipc_util.hpp"

#include <corio/multiprocessing/queues.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

template <class T, class Make, class Take>
double run(std::int64_t n, Make make, Take take) {
  mp::queue<T> q;
  mp::event ready, go;
  const pid_t pid = ::fork();
  bench::check(pid >= 0, "fork");
  if (pid == 0) {
    ready.set();
    go.wait();
    for (std::int64_t i = 0; i < n; ++i) q.put(make(i));
    ::_exit(0);
  }
  ready.wait();
  const double t0 = bench::monotonic_s();
  go.set();
  for (std::int64_t i = 0; i < n; ++i) take(q.get());
  const double wall = bench::monotonic_s() - t0;
  int status = 0;
  bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "the producer exits with 0");
  return wall;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::queue_args args = bench::parse_queue_args(argc, argv);
  const std::string& item = args.item;
  const std::int64_t n = args.n;

  double wall;
  if (item == "int") {
    std::int64_t sum = 0;
    wall = run<std::int64_t>(n, [](std::int64_t i) { return i; }, [&](std::int64_t v) { sum += v; });
    bench::check(sum == n * (n - 1) / 2, "the sum of the items is N(N-1)/2");
  } else {
    const std::string payload(1024, 'x');
    std::int64_t total = 0;
    wall = run<std::string>(
        n, [&](std::int64_t) -> const std::string& { return payload; },
        [&](const std::string& s) { total += static_cast<std::int64_t>(s.size()); });
    bench::check(total == n * 1024, "every item has its 1024 bytes");
  }
  bench::line("W12a ipc_queue")
      .str("impl", "corio")
      .num("N", n)
      .num("items_per_s", double(n) / wall)
      .str("item", item)
      .str("pin", bench::pin_tag())
      .num("ns_per_item", wall * 1e9 / double(n))
      .num("wall_s", wall)
      .num("producer_cpu_s", bench::children_cpu_s())
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

// W8a executor (docs/benchmarks.md): submit N no-op callables to a
// thread_pool_executor with 2 workers, collecting the futures, then wait for
// all of them. The workers are started outside the timed part (one job
// submitted and waited for first), as the Python peer does. Not pinned: the
// 2 workers and the submitting thread share the machine's CPUs.
// Python peer: w8a_executor.py in the peers' checkout (concurrent.futures).
#include "bench_util.hpp"

#include <corio/corio.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/futures/wait.hpp>

#include <cstdint>
#include <vector>

namespace {

void noop() {}

struct times {
  double wall_s, cpu_s;
};

times run(std::int64_t n) {
  corio::futures::thread_pool_executor ex(2);
  ex.submit(noop).result();  // start the workers outside the timed part
  std::vector<corio::futures::future<void>> futs;
  bench::stopwatch sw;
  futs.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) futs.push_back(ex.submit(noop));
  corio::futures::wait(futs);
  times t{sw.wall_s(), sw.cpu_s()};
  std::int64_t finished = 0;
  for (auto& f : futs) finished += f.done() ? 1 : 0;
  bench::check(finished == n, "every job finished");
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 1'000'000);
  const times t = run(n);
  bench::line("W8a executor")
      .str("impl", "corio")
      .num("N", n)
      .num("tasks_per_s", double(n) / t.wall_s)
      .num("ns_per_task", t.wall_s * 1e9 / double(n))
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

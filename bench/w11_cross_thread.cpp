// W11 cross-thread (docs/benchmarks.md): another thread posts N callbacks
// into a running loop with call_soon_threadsafe; timed from the poster's
// start until the last callback has run. As the native peers do, the loop
// thread is pinned to CPU 0 and the poster to CPU 1 (when the machine has
// two CPUs). Python peer: w11_cross_thread.py, in the peers' checkout.
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <pthread.h>
#include <sched.h>

#include <cstdint>
#include <thread>

namespace {

void pin_self(int cpu) {
  if (std::thread::hardware_concurrency() < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct times {
  double wall_s, cpu_s;
};

corio::task<times> run(std::int64_t n) {
  corio::event_loop& loop = corio::get_running_loop();
  corio::future<void> done = loop.create_future<void>();
  std::int64_t count = 0;
  auto cb = [&count, &done, n] {
    if (++count == n) done.set_result();
  };
  bench::stopwatch sw;
  std::thread poster([&loop, &cb, n] {
    pin_self(1);
    for (std::int64_t i = 0; i < n; ++i) loop.call_soon_threadsafe(cb);
  });
  co_await done;
  times t{sw.wall_s(), sw.cpu_s()};
  poster.join();
  bench::check(count == n, "every callback ran once");
  co_return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::arg_n(argc, argv, 1'000'000);
  pin_self(0);
  const times t = corio::run(run(n));
  bench::line("W11 cross_thread")
      .str("impl", "corio")
      .num("N", n)
      .num("callbacks_per_s", double(n) / t.wall_s)
      .num("ns_per_callback", t.wall_s * 1e9 / double(n))
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

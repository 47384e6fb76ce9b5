// W12c ipc_value (docs/benchmarks.md): two processes each increment one
// shared multiprocessing::value<int> under its lock N times (default
// 1,000,000); the final value must be exactly 2N. The loop is Python's
//
//   with v.get_lock():
//       v.value += 1
//
// spelled `auto g = v.get_lock().scoped(); v.set(v.get() + 1);`: the value's
// own rlock taken once, then again (re-entered) by get() and by set().
// `--variant obj` increments the shared int in place under the lock
// (`++*v.get_obj()`), what C++ code would write. The children are forked
// and waiting before the clock starts; it stops when the later one ends.
//
// Usage: w12c_ipc_value [N] [--pin cpu0] [--variant python|obj]
#include "ipc_util.hpp"

#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

namespace mp = corio::multiprocessing;

int main(int argc, char** argv) {
  std::string variant = "python";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--variant") == 0 && i + 1 < argc) {
      variant = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  bench::check(variant == "python" || variant == "obj", "--variant is python or obj");
  const std::int64_t n = bench::parse_ipc_args(static_cast<int>(rest.size()), rest.data(), 1'000'000).n;

  mp::value<int> v(0);
  mp::semaphore ready(0);
  mp::event go;
  mp::raw_array<double> ends(2);
  pid_t pids[2];
  for (int k = 0; k < 2; ++k) {
    pids[k] = ::fork();
    bench::check(pids[k] >= 0, "fork");
    if (pids[k] == 0) {
      ready.release();
      go.wait();
      if (variant == "python") {
        for (std::int64_t i = 0; i < n; ++i) {
          auto g = v.get_lock().scoped();
          v.set(v.get() + 1);
        }
      } else {
        const mp::raw_value<int> obj = v.get_obj();
        for (std::int64_t i = 0; i < n; ++i) {
          auto g = v.get_lock().scoped();
          ++*obj;
        }
      }
      ends[static_cast<std::size_t>(k)] = bench::monotonic_s();
      ::_exit(0);
    }
  }
  ready.acquire();
  ready.acquire();
  const double t0 = bench::monotonic_s();
  go.set();
  for (const pid_t pid : pids) {
    int status = 0;
    bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "both children exit with 0");
  }
  const double wall = std::max(ends[0], ends[1]) - t0;
  const std::int64_t final_value = v.get();
  bench::check(final_value == 2 * n, "the final value is exactly 2N");
  const double total = 2.0 * double(n);
  bench::line("W12c ipc_value")
      .str("impl", variant == "python" ? "corio" : "corio:obj")
      .num("N", n)
      .str("pin", bench::pin_tag())
      .num("procs", std::int64_t{2})
      .num("increments_per_s", total / wall)
      .num("ns_per_increment", wall * 1e9 / total)
      .num("wall_s", wall)
      .num("final", final_value)
      .num("children_cpu_s", bench::children_cpu_s())
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

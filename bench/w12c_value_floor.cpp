// W12c's floor (docs/benchmarks.md): the same two processes and N
// increments as w12c_ipc_value, under a plain process-shared pthread mutex
// (not robust, not recursive) in an anonymous shared mapping: what a lock
// between processes costs on this machine, C-style.
//
// Usage: w12c_value_floor [N] [--pin cpu0]
#include "ipc_util.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <new>

namespace {

struct shared {
  pthread_mutex_t mu;
  long value;
  std::atomic<int> ready;
  std::atomic<int> go;
  double end[2];
};

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = bench::parse_ipc_args(argc, argv, 1'000'000).n;
  void* mem = ::mmap(nullptr, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  bench::check(mem != MAP_FAILED, "mmap");
  auto* s = new (mem) shared{};
  pthread_mutexattr_t a;
  ::pthread_mutexattr_init(&a);
  ::pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  ::pthread_mutex_init(&s->mu, &a);
  pid_t pids[2];
  for (int k = 0; k < 2; ++k) {
    pids[k] = ::fork();
    bench::check(pids[k] >= 0, "fork");
    if (pids[k] == 0) {
      s->ready.fetch_add(1);
      while (s->go.load(std::memory_order_acquire) == 0) ::sched_yield();
      for (std::int64_t i = 0; i < n; ++i) {
        ::pthread_mutex_lock(&s->mu);
        ++s->value;
        ::pthread_mutex_unlock(&s->mu);
      }
      s->end[k] = bench::monotonic_s();
      ::_exit(0);
    }
  }
  while (s->ready.load() < 2) ::sched_yield();
  const double t0 = bench::monotonic_s();
  s->go.store(1, std::memory_order_release);
  for (const pid_t pid : pids) {
    int status = 0;
    bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                 "both children exit with 0");
  }
  const double wall = std::max(s->end[0], s->end[1]) - t0;
  bench::check(s->value == 2 * n, "the final value is exactly 2N");
  const double total = 2.0 * double(n);
  bench::line("W12c ipc_value")
      .str("impl", "floor:pshared_mutex")
      .num("N", n)
      .str("pin", bench::pin_tag())
      .num("procs", std::int64_t{2})
      .num("increments_per_s", total / wall)
      .num("ns_per_increment", wall * 1e9 / total)
      .num("wall_s", wall)
      .num("final", std::int64_t{s->value})
      .num("children_cpu_s", bench::children_cpu_s())
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

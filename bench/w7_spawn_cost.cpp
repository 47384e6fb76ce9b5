// W7's side figures (docs/benchmarks.md): what one child costs through the
// sync subprocess module, and what spawning costs when the parent is large.
//
//  - `run_call`: N sequential subprocess::run({"/bin/true"}) (spawn, wait,
//    reap, pipes closed): microseconds per call.
//  - `spawn_cost`: starting /bin/true from a parent with 0 MiB, then with
//    1 GiB (or --mib M) of touched, resident memory: corio's spawn (popen:
//    clone with CLONE_VM | CLONE_VFORK), posix_spawn, and fork + exec.
//    us_spawn is the call until it returns in the parent; us_roundtrip
//    adds the child's exit and the reap.
//
// Usage: w7_spawn_cost [N] [--mib M]
#include "bench_util.hpp"

#include <corio/subprocess/popen.hpp>
#include <corio/subprocess/run.hpp>

#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

extern char** environ;

namespace sp = corio::subprocess;

namespace {

char g_prog[] = "/bin/true";
char* g_argv[] = {g_prog, nullptr};

using clk = std::chrono::steady_clock;
double us(clk::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

void wait_ok(pid_t pid) {
  int status = 0;
  bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "/bin/true exits with 0");
}

struct cost {
  double spawn_us = 0, roundtrip_us = 0;
};

// `start` starts one child and returns what `finish` needs to reap it.
template <class Start, class Finish>
cost measure(std::int64_t n, Start start, Finish finish) {
  cost c;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto t0 = clk::now();
    auto child = start();
    const auto t1 = clk::now();
    finish(child);
    const auto t2 = clk::now();
    c.spawn_us += us(t1 - t0);
    c.roundtrip_us += us(t2 - t0);
  }
  c.spawn_us /= double(n);
  c.roundtrip_us /= double(n);
  return c;
}

void report(const char* impl, long mib, std::int64_t n, const cost& c) {
  bench::line("W7 spawn_cost")
      .str("impl", impl)
      .num("parent_mib", std::int64_t{mib})
      .num("N", n)
      .num("us_spawn", c.spawn_us)
      .num("us_roundtrip", c.roundtrip_us)
      .print();
}

void spawn_costs(std::int64_t n, long mib) {
  report("corio:popen", mib, n,
         measure(n, [] { return sp::popen({"/bin/true"}); }, [](sp::popen& p) { bench::check(p.wait() == 0, "exit 0"); }));
  report("posix_spawn", mib, n, measure(n, [] {
           pid_t pid;
           bench::check(::posix_spawn(&pid, g_prog, nullptr, nullptr, g_argv, environ) == 0, "posix_spawn");
           return pid;
         }, [](pid_t pid) { wait_ok(pid); }));
  report("fork_exec", mib, n, measure(n, [] {
           const pid_t pid = ::fork();
           bench::check(pid >= 0, "fork");
           if (pid == 0) {
             ::execve(g_prog, g_argv, environ);
             ::_exit(127);
           }
           return pid;
         }, [](pid_t pid) { wait_ok(pid); }));
}

}  // namespace

int main(int argc, char** argv) {
  long mib = 1024;
  int argn = 1;
  std::int64_t n = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mib") == 0 && i + 1 < argc) {
      mib = std::strtol(argv[++i], nullptr, 10);
    } else {
      argv[argn++] = argv[i];
    }
  }
  n = bench::arg_n(argn, argv, n);

  {
    const std::int64_t calls = 5 * n;
    const auto t0 = clk::now();
    for (std::int64_t i = 0; i < calls; ++i) bench::check(sp::run({"/bin/true"}).returncode == 0, "exit 0");
    bench::line("W7 run_call")
        .str("impl", "corio")
        .num("N", calls)
        .num("us_per_call", us(clk::now() - t0) / double(calls))
        .print();
  }

  spawn_costs(n, 0);
  // A large parent: every page touched, so that fork has page tables to copy.
  const std::size_t bytes = static_cast<std::size_t>(mib) << 20;
  void* big = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  bench::check(big != MAP_FAILED, "mmap of the large parent's memory");
  ::madvise(big, bytes, MADV_NOHUGEPAGE);  // 4 KiB pages, as a typical heap has
  std::memset(big, 1, bytes);
  spawn_costs(n, mib);
  ::munmap(big, bytes);
}

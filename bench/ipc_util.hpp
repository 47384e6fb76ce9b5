// What the two-process benchmarks (W12) share: their command line
// (`[N] [--pin cpu0]`), the pin= field of their line, and the CPU time of
// the children.
#pragma once

#include "bench_util.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

struct ipc_args {
  std::int64_t n;
};

/// `[N] [--pin cpu0]`: with --pin cpu0 the process (and so its children)
/// runs on CPU 0 only, as `taskset -c 0` would.
inline ipc_args parse_ipc_args(int argc, char** argv, std::int64_t def) {
  ipc_args a{def};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--pin") == 0 && i + 1 < argc && std::strcmp(argv[i + 1], "cpu0") == 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(0, &set);
      check(::sched_setaffinity(0, sizeof set, &set) == 0, "sched_setaffinity to CPU 0");
      ++i;
    } else {
      char* end = nullptr;
      const double v = std::strtod(argv[i], &end);
      if (end == argv[i] || *end != '\0' || v < 1) {
        std::fprintf(stderr, "usage: %s [N] [--pin cpu0]   (N >= 1, default %lld)\n", argv[0],
                     static_cast<long long>(def));
        std::exit(2);
      }
      a.n = static_cast<std::int64_t>(v);
    }
  }
  return a;
}

/// "none" when the process may run on every CPU, "cpu<k>" when on one only.
inline std::string pin_tag() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return "none";
  const int n = CPU_COUNT(&set);
  if (n == 1) {
    for (int k = 0; k < CPU_SETSIZE; ++k)
      if (CPU_ISSET(k, &set)) return "cpu" + std::to_string(k);
  }
  if (n < ::sysconf(_SC_NPROCESSORS_ONLN)) return "cpus" + std::to_string(n);
  return "none";
}

/// CPU time (user + sys) of the children reaped so far, in seconds.
inline double children_cpu_s() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// CLOCK_MONOTONIC in seconds: comparable between processes.
inline double monotonic_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

/// W12a's command line: `[--item int|1KiB] [N] [--pin cpu0]`; N defaults to
/// 1,000,000 ints or 200,000 1 KiB items.
struct queue_args {
  std::string item = "int";
  std::int64_t n = 0;
};

inline queue_args parse_queue_args(int argc, char** argv) {
  queue_args a;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--item") == 0 && i + 1 < argc) {
      a.item = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  check(a.item == "int" || a.item == "1KiB", "--item is int or 1KiB");
  a.n = parse_ipc_args(static_cast<int>(rest.size()), rest.data(), a.item == "int" ? 1'000'000 : 200'000).n;
  return a;
}

}  // namespace bench

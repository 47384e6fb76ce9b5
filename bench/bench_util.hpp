// Timing, memory and output helpers shared by the benchmark programs
// (docs/benchmarks.md). Each program measures only its workload and
// prints one `W<id> <name> impl=corio key=value ...` line.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace bench {

/// Process CPU time (user + sys, all threads) in seconds. Stays honest when
/// another job shares the CPU the benchmark is pinned to.
inline double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

/// Peak resident set size of the whole process so far, in KiB (what
/// /usr/bin/time -v reports for the native peers).
inline long peak_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// Wall and CPU time of one measured region.
class stopwatch {
 public:
  stopwatch() : wall0_(std::chrono::steady_clock::now()), cpu0_(cpu_now()) {}
  double wall_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0_).count();
  }
  double cpu_s() const { return cpu_now() - cpu0_; }

 private:
  std::chrono::steady_clock::time_point wall0_;
  double cpu0_;
};

/// The optional problem size N, first command-line argument (digits only;
/// 1e6-style forms are accepted too).
inline std::int64_t arg_n(int argc, char** argv, std::int64_t def) {
  if (argc < 2) return def;
  char* end = nullptr;
  const double v = std::strtod(argv[1], &end);
  if (end == argv[1] || *end != '\0' || v < 1) {
    std::fprintf(stderr, "usage: %s [N]   (N >= 1, default %lld)\n", argv[0], static_cast<long long>(def));
    std::exit(2);
  }
  return static_cast<std::int64_t>(v);
}

/// Builds the one-line result: head, then key=value fields in order.
class line {
 public:
  explicit line(std::string head) : s_(std::move(head)) {
#ifndef NDEBUG
    // A figure from an unoptimised build compared with optimised peers would mislead.
    std::fprintf(stderr, "warning: benchmark built without NDEBUG (not a Release build)\n");
#endif
  }
  line& str(const char* k, const std::string& v) {
    s_ += ' ';
    s_ += k;
    s_ += '=';
    s_ += v;
    return *this;
  }
  line& num(const char* k, std::int64_t v) { return str(k, std::to_string(v)); }
  /// Like the Python scripts: integers above 100, else 3 or 6 decimals.
  line& num(const char* k, double v) {
    char buf[64];
    const double a = v < 0 ? -v : v;
    std::snprintf(buf, sizeof buf, a >= 100 ? "%.0f" : a >= 1 ? "%.3f" : "%.6f", v);
    return str(k, buf);
  }
  void print() const {
    std::printf("%s\n", s_.c_str());
    std::fflush(stdout);
  }

 private:
  std::string s_;
};

/// Makes the compiler forget what it knows about `v` (in the manner of
/// Google Benchmark's DoNotOptimize): work that depends on it cannot be
/// folded at compile time or hoisted out of a loop.
template <class T>
inline void opaque(T& v) {
  asm volatile("" : "+r"(v));
}

/// Tells the compiler that `v` is used, so that the work producing it
/// cannot be dropped.
template <class T>
inline void escape(const T& v) {
  asm volatile("" : : "m"(v) : "memory");
}

/// Exits with a message when a workload's result is wrong: a fast wrong
/// answer must never be reported.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::exit(1);
  }
}

}  // namespace bench

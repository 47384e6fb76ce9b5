// What the examples share: an optional time scale and a virtual clock, so
// that each can run as Python's docs show it (delays in seconds), quickly
// (`say_after 0.05`: one "second" lasts 50 ms), or instantly and
// deterministically on virtual time (`say_after --virtual`, used by the tests).
#pragma once

#include <corio/corio.hpp>
#include <corio/testing/loop.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace demo {

struct options {
  double scale = 1.0;         // length of one delay unit (a docs "second"), in seconds
  bool virtual_time = false;  // loop time jumps from timer to timer

  /// k delay units as a loop duration.
  corio::duration units(double k) const {
    return std::chrono::duration_cast<corio::duration>(std::chrono::duration<double>(k * scale));
  }
  corio::loop_options loop_options() const {
    return virtual_time ? corio::testing::virtual_time() : corio::loop_options{};
  }
  /// Loop time since `start`, in delay units, as "2.0".
  std::string since(const corio::event_loop& loop, corio::time_point start) const {
    const double s = std::chrono::duration<double>(loop.time() - start).count() / scale;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", s);
    return buf;
  }
};

/// Parses `[scale] [--virtual]`.
inline options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--virtual") == 0) {
      o.virtual_time = true;
      continue;
    }
    char* end = nullptr;
    o.scale = std::strtod(argv[i], &end);
    if (end == argv[i] || *end != '\0' || !(o.scale > 0)) {
      std::fprintf(stderr, "usage: %s [scale > 0, seconds per delay unit] [--virtual]\n", argv[0]);
      std::exit(2);
    }
  }
  return o;
}

}  // namespace demo

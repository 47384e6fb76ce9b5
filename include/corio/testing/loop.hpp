// The kit for testing code built on corio (Python: asyncio's test_utils,
// Trio's MockClock): deterministic loops and stepping helpers.
#pragma once

#include <corio/events.hpp>
#include <corio/tasks.hpp>

#include <chrono>
#include <cstddef>

namespace corio::testing {

/// Options for a loop on virtual time: loop.time() starts at 0 and jumps to
/// the next timer whenever the loop would otherwise wait, so a test of a
/// ten-minute timeout runs in microseconds and never depends on the machine's
/// speed.
inline loop_options virtual_time() {
  loop_options o;
  o.clock = clock_kind::virtual_;
  o.debug = false;
  return o;
}

/// Python: test_utils.run_briefly. Runs exactly `iterations` loop iterations.
inline void run_briefly(event_loop& loop, std::size_t iterations = 1) {
  for (std::size_t i = 0; i < iterations; ++i) {
    loop.stop();
    loop.run_forever();
  }
}

/// Runs the loop for `d` of loop time (instantly on a virtual clock), letting
/// it wait for timers as it normally would.
template <class Rep, class Period>
void run_for(event_loop& loop, std::chrono::duration<Rep, Period> d) {
  loop.call_later(d, [&loop] { loop.stop(); });
  loop.run_forever();
}

/// Runs single iterations (which never wait for timers: see run_for) until
/// `pred()` holds or `max_iterations` ran; returns pred().
template <class Pred>
bool run_until(event_loop& loop, Pred pred, std::size_t max_iterations = 100000) {
  for (std::size_t i = 0; i < max_iterations && !pred(); ++i) run_briefly(loop);
  return pred();
}

}  // namespace corio::testing

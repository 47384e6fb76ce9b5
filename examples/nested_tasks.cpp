// Python docs, "Coroutines and Tasks": a coroutine scheduled from another
// with create_task (nested), next to a periodic task (a ticker) that runs
// while the main task waits, and is cancelled at the end as in the docs'
// Task.cancel() example:
//
//   task.cancel()
//   try:
//       await task
//   except asyncio.CancelledError:
//       print("main(): cancel_me is cancelled now")
//
// Usage: nested_tasks [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <iostream>
#include <string>

namespace {

corio::task<int> nested() { co_return 42; }

// Prints a line every unit until cancelled.
corio::task<> ticker(demo::options o, corio::time_point start) {
  corio::event_loop& loop = corio::get_running_loop();
  int n = 0;
  try {
    for (;;) {
      co_await corio::sleep(o.units(1));
      std::cout << "  tick " << ++n << " at " << o.since(loop, start) << '\n';
    }
  } catch (const corio::cancelled_error&) {
    std::cout << "ticker: cancelled after " << n << " ticks\n";
    throw;
  }
}

// A task that itself creates a task (the nested one) and awaits it.
corio::task<int> worker(std::string name, int steps, double step_units, demo::options o, corio::time_point start) {
  corio::event_loop& loop = corio::get_running_loop();
  for (int i = 1; i <= steps; ++i) {
    co_await corio::sleep(o.units(step_units));
    std::cout << name << ": step " << i << " at " << o.since(loop, start) << '\n';
  }
  corio::task<int> inner = corio::create_task(nested());
  const int v = co_await inner;
  std::cout << name << ": nested task returned " << v << '\n';
  co_return v + steps;
}

corio::task<> main_task(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  corio::task<> tick = corio::create_task(ticker(o, start), "ticker");
  // Steps of 0.7 and 1.3 units never coincide with a tick, so the order of
  // the lines does not depend on how ties are broken.
  corio::task<int> a = corio::create_task(worker("A", 3, 0.7, o, start));
  corio::task<int> b = corio::create_task(worker("B", 2, 1.3, o, start));
  const int ra = co_await a;
  const int rb = co_await b;
  std::cout << "main: workers returned " << ra << " and " << rb << '\n';

  tick.cancel();
  try {
    co_await tick;
  } catch (const corio::cancelled_error&) {
    // The ticker's cancellation, not this task's: nothing to rethrow.
    std::cout << "main: ticker is cancelled now (cancelled=" << tick.cancelled() << ")\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  std::cout << std::boolalpha;
  corio::run(main_task(o), o.loop_options());
}

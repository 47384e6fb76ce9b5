// Python docs, "Coroutines and Tasks": say_after, awaited one after the other
// (3 s), then run as two concurrent tasks (2 s).
//
//   async def say_after(delay, what):
//       await asyncio.sleep(delay)
//       print(what)
//
// Usage: say_after [scale] [--virtual]   (say_after 0.01: one second lasts 10 ms)
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <iostream>
#include <string>

namespace {

corio::task<> say_after(corio::duration delay, std::string what) {
  co_await corio::sleep(delay);
  std::cout << what << '\n';
}

// Awaiting a coroutine runs it to the end before the next line: 1 + 2 units.
corio::task<> sequential(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  std::cout << "sequential: started\n";
  co_await say_after(o.units(1), "hello");
  co_await say_after(o.units(2), "world");
  std::cout << "sequential: finished after " << o.since(loop, start) << " units\n";
}

// create_task schedules both at once; they sleep side by side: max(1, 2) units.
corio::task<> concurrent(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  corio::task<> task1 = corio::create_task(say_after(o.units(1), "hello"));
  corio::task<> task2 = corio::create_task(say_after(o.units(2), "world"));
  std::cout << "concurrent: started\n";
  co_await task1;
  co_await task2;
  std::cout << "concurrent: finished after " << o.since(loop, start) << " units\n";
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(sequential(o), o.loop_options());
  corio::run(concurrent(o), o.loop_options());
}

// Python docs, "Event Loop" examples: callbacks on a bare event loop, no
// tasks. "Hello World with call_soon()", the order callbacks run in, and
// "Display the current date with call_later()" (a callback that schedules
// itself every unit for five units, then stops the loop).
//
// Usage: loop_callbacks [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <functional>
#include <iostream>
#include <string>

namespace {

void print(const std::string& s) { std::cout << s << '\n'; }

// Python:
//   def display_date(end_time, loop):
//       print(datetime.datetime.now())
//       if (loop.time() + 1.0) < end_time:
//           loop.call_later(1, display_date, end_time, loop)
//       else:
//           loop.stop()
struct display_date {
  corio::event_loop* loop;
  corio::time_point start, end_time;
  demo::options o;
  int n = 0;

  void operator()() {
    std::cout << "tick " << ++n << " at " << o.since(*loop, start) << '\n';
    if (loop->time() + o.units(1) < end_time)
      loop->call_later(o.units(1), std::ref(*this));  // the state lives in main
    else
      loop->stop();
  }
};

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  {
    print("-- hello world");
    corio::event_loop loop(o.loop_options());
    loop.call_soon([&loop] {
      print("Hello World");
      loop.stop();
    });
    loop.run_forever();
    loop.close();
  }
  {
    print("-- order");
    corio::event_loop loop(o.loop_options());
    // Timers run by deadline, not in the order they were scheduled...
    loop.call_later(o.units(2), print, "call_later(2): fifth");
    loop.call_later(o.units(1), print, "call_later(1): fourth");
    // ...and callbacks due now run first, first in first out.
    loop.call_soon(print, "call_soon #1: first");
    corio::handle skipped = loop.call_soon(print, "call_soon #2: cancelled, never printed");
    loop.call_soon(print, "call_soon #3: second");
    skipped.cancel();
    // A callback scheduled by a running callback waits for the next iteration.
    loop.call_soon([&loop] {
      print("call_soon #4: third, schedules #5");
      loop.call_soon(print, "call_soon #5: still before the timers");
    });
    loop.call_later(o.units(3), [&loop] {
      print("call_later(3): stop");
      loop.stop();
    });
    loop.run_forever();
    loop.close();
  }
  {
    print("-- display_date");
    corio::event_loop loop(o.loop_options());
    display_date cb{&loop, loop.time(), loop.time() + o.units(5), o};
    loop.call_soon(std::ref(cb));
    loop.run_forever();
    loop.close();
  }
}

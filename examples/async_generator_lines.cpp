// An async generator producing lines with pauses between them, consumed by
// a task with `async for`; then the same under a timeout, which cancels the
// consumer while the generator sleeps: the cancellation is raised inside
// the generator, whose cleanup runs.
//
//   async def tail(lines):
//       try:
//           for line in lines:
//               await asyncio.sleep(1)
//               yield line
//       finally:
//           print("tail: closed")
//
//   async def main():
//       async with aclosing(tail(LOG)) as lines:
//           async for line in lines:
//               print(f"{elapsed():.1f}: {line}")
//       try:
//           async with asyncio.timeout(2.5):
//               async with aclosing(tail(LOG)) as lines:
//                   async for line in lines:
//                       print(f"{elapsed():.1f}: {line}")
//       except TimeoutError:
//           print(f"{elapsed():.1f}: timed out")
//
// Usage: async_generator_lines [scale] [--virtual]   (async_generator_lines 0.05: one second lasts 50 ms)
#include "demo_time.hpp"

#include <corio/async_generator.hpp>
#include <corio/corio.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

// Python's `finally:`: a destructor runs however the generator ends.
struct closing_note {
  ~closing_note() { std::printf("tail: closed\n"); }
};

corio::async_generator<std::string> tail(std::vector<std::string> lines, demo::options o) {
  closing_note note;
  for (std::string& line : lines) {
    co_await corio::sleep(o.units(1));
    co_yield std::move(line);
  }
}

corio::task<> main_task(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  const std::vector<std::string> log = {"GET /", "GET /about", "POST /login", "GET /logout"};
  auto print_line = [&](const std::string& line) {
    std::printf("%s: %s\n", o.since(loop, start).c_str(), line.c_str());
  };

  co_await corio::for_each(tail(log, o), print_line);

  try {
    co_await corio::timeout(o.units(2.5), [&]() -> corio::task<> {
      co_await corio::for_each(tail(log, o), print_line);
    });
  } catch (const corio::timeout_error&) {
    std::printf("%s: timed out\n", o.since(loop, start).c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

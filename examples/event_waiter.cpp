// Python docs, asyncio.Event: a task waits for an event that main sets a
// second later.
//
//   async def waiter(event):
//       print('waiting for it ...')
//       await event.wait()
//       print('... got it!')
//
// Usage: event_waiter [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <cstdio>

namespace {

corio::task<> waiter(corio::event& ev, demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  std::printf("waiting for it ...\n");
  co_await ev.wait();
  std::printf("... got it! after %s units\n", o.since(loop, start).c_str());
}

corio::task<> main_task(demo::options o) {
  corio::event ev;
  auto t = corio::create_task(waiter(ev, o));
  co_await corio::sleep(o.units(1));
  std::printf("main: setting the event\n");
  ev.set();
  co_await t;
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

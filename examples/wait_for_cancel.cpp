// Python docs, "Timeouts": wait_for gives a long task one second, then
// cancels it. The task sees the cancellation as cancelled_error at its
// await, cleans up, and rethrows so that it ends up cancelled.
//
//   async def eternity():
//       await asyncio.sleep(3600)
//       print('yay!')
//   try:
//       await asyncio.wait_for(eternity(), timeout=1.0)
//   except TimeoutError:
//       print('timeout!')
//
// Usage: wait_for_cancel [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <iostream>

namespace {

corio::task<> eternity(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  std::cout << "eternity: sleeping for an hour\n";
  try {
    co_await corio::sleep(o.units(3600));
    std::cout << "yay!\n";
  } catch (const corio::cancelled_error&) {
    std::cout << "eternity: cancelled after " << o.since(loop, start) << " units, cleaning up\n";
    // Swallowing the cancellation would let the task finish normally and
    // wait_for would return instead of timing out: rethrow it.
    throw;
  }
}

corio::task<> main_task(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  // A task rather than a bare coroutine, so that it can be inspected afterwards.
  corio::task<> t = corio::create_task(eternity(o), "eternity");
  try {
    co_await corio::wait_for(t, o.units(1));
  } catch (const corio::timeout_error&) {
    std::cout << "timeout! after " << o.since(loop, start) << " units\n";
  }
  std::cout << t.get_name() << ": done=" << t.done() << " cancelled=" << t.cancelled() << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  std::cout << std::boolalpha;
  corio::run(main_task(o), o.loop_options());
}

// Python docs, "Futures": a future created by the main task, set by another
// task after a delay, and awaited by the main task meanwhile.
//
//   async def set_after(fut, delay, value):
//       await asyncio.sleep(delay)
//       fut.set_result(value)
//
//   fut = loop.create_future()
//   loop.create_task(set_after(fut, 1, '... world'))
//   print('hello ...')
//   print(await fut)
//
// Usage: future_handoff [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <iostream>
#include <stdexcept>
#include <string>

namespace {

// The future is a handle: this copy and the caller's share one state.
corio::task<> set_after(corio::future<std::string> fut, corio::duration delay, std::string value) {
  co_await corio::sleep(delay);
  fut.set_result(std::move(value));
}

// The same hand-off for an error: set_exception, and the awaiting task
// gets the exception from its co_await.
corio::task<> fail_after(corio::future<std::string> fut, corio::duration delay) {
  co_await corio::sleep(delay);
  fut.set_exception(std::runtime_error("no world today"));
}

corio::task<> main_task(demo::options o) {
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();

  corio::future<std::string> fut = loop.create_future<std::string>();
  corio::task<> setter = loop.create_task(set_after(fut, o.units(1), "... world"));
  std::cout << "hello ...\n";
  const std::string value = co_await fut;
  std::cout << value << " (after " << o.since(loop, start) << " units)\n";
  co_await setter;

  corio::future<std::string> bad = loop.create_future<std::string>();
  corio::task<> failer = loop.create_task(fail_after(bad, o.units(1)));
  try {
    const std::string never = co_await bad;
    std::cout << never << '\n';
  } catch (const std::runtime_error& e) {
    std::cout << "awaiting the second future threw: " << e.what() << '\n';
  }
  co_await failer;
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

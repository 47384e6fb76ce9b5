// Printing objects to see what they are doing, as a Python tutorial would
// with print(task), print(fut), print(queue), print(lock), print(thread):
//
//   async def worker(name, queue):
//       while True:
//           item = await queue.get()
//           await asyncio.sleep(1)
//           queue.task_done()
//
//   async def main():
//       queue = asyncio.Queue(maxsize=3)
//       ...
//       print(task)     # <Task pending name='worker-1' coro=<worker() ...> wait_for=...>
//       print(queue)    # <Queue maxsize=3 _queue=[2, 3] tasks=3>
//
// `std::cout << x` prints what Python's repr() shows; corio::to_string(x)
// returns it. Addresses and thread ids differ from run to run.
//
// Usage: print_objects [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>
#include <corio/threading/thread.hpp>

#include <iostream>
#include <stdexcept>
#include <string>

namespace {

corio::task<> worker(corio::queue<int>& queue, corio::lock& lock, demo::options o) {
  for (;;) {
    const int item = co_await queue.get();
    {
      auto guard = co_await lock.scoped();
      co_await corio::sleep(o.units(item));
    }
    queue.task_done();
  }
}

corio::task<int> answer() { co_return 42; }

corio::task<> main_task(demo::options o) {
  corio::queue<int> queue(3);
  corio::lock lock;
  auto w = corio::create_task(worker(queue, lock, o), "worker-1");
  std::cout << w << '\n';

  for (int item : {1, 2, 3}) co_await queue.put(item);
  std::cout << queue << '\n';
  co_await corio::sleep(o.units(0.5));
  std::cout << w << '\n';
  std::cout << lock << '\n';
  std::cout << queue << '\n';

  auto fut = corio::create_future<std::string>();
  std::cout << fut << '\n';
  fut.set_result("ready");
  std::cout << fut << '\n';

  auto a = corio::create_task(answer());
  co_await a;
  std::cout << a << '\n';

  auto failing = corio::create_future<int>();
  failing.set_exception(std::invalid_argument("negative size"));
  std::cout << corio::to_string(failing) << '\n';
  static_cast<void>(failing.exception());

  co_await queue.join();
  w.cancel();
  co_await corio::sleep(o.units(0));
  std::cout << w << '\n';

  corio::threading::thread t(corio::threading::thread_options{.name = "reporter"},
                             [] { std::cout << "inside: " << corio::threading::current_thread() << '\n'; });
  std::cout << t << '\n';
  t.start();
  t.join();
  std::cout << t << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

// A loop that runs forever on a worker thread, fed from the main thread with
// call_soon_threadsafe and stopped the same way (Python docs, "Concurrency
// and Multithreading": loop.call_soon_threadsafe is the one loop method
// other threads may call).
//
//   loop = asyncio.new_event_loop()
//   t = threading.Thread(target=loop.run_forever); t.start()
//   loop.call_soon_threadsafe(callback, i)
//   loop.call_soon_threadsafe(loop.stop); t.join()
//
// Usage: loop_in_thread
#include <corio/corio.hpp>

#include <cstdio>
#include <thread>

int main() {
  corio::event_loop loop;
  std::thread worker([&] {
    loop.run_forever();  // sleeps until something is posted
    std::printf("worker: the loop has stopped\n");
  });

  int total = 0;  // touched only on the loop's thread
  for (int i = 1; i <= 5; ++i) {
    loop.call_soon_threadsafe([&total, &worker, i] {
      total += i;
      std::printf("on the loop thread (%s): job %d, total %d\n",
                  std::this_thread::get_id() == worker.get_id() ? "worker" : "main?", i, total);
    });
  }
  // A coroutine can be handed over too: run_coroutine_threadsafe returns a
  // concurrent future the main thread blocks on.
  auto answer = corio::run_coroutine_threadsafe(
      [](int& t) -> corio::task<int> {
        co_await corio::sleep(std::chrono::milliseconds(10));
        co_return t * 2;
      }(total),
      loop);
  std::printf("main: the coroutine says %d\n", answer.result());

  loop.call_soon_threadsafe([&loop] { loop.stop(); });
  worker.join();
  loop.close();
  std::printf("main: done\n");
}

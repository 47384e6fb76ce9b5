// Blocking work kept off the loop (Python docs, loop.run_in_executor):
// once in the loop's default thread pool, once in a pool of our own, and
// with asyncio.to_thread, while the loop stays free to run other tasks.
//
//   result = await loop.run_in_executor(None, blocking_io)
//   with concurrent.futures.ThreadPoolExecutor() as pool:
//       result = await loop.run_in_executor(pool, cpu_bound)
//   result = await asyncio.to_thread(blocking_io)
//
// Usage: run_in_executor
#include <corio/corio.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/threads.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>

namespace {

std::string blocking_io(int ms) {
  // Stands in for a file read or a library call that blocks.
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return "read " + std::to_string(ms) + " ms worth";
}

std::uint64_t cpu_bound(std::uint64_t n) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < n; ++i) s += i * i;
  return s;
}

corio::task<> ticker(int& ticks) {
  for (;;) {
    co_await corio::sleep(std::chrono::milliseconds(1));
    ++ticks;
  }
}

corio::task<> main_task() {
  corio::event_loop& loop = corio::get_running_loop();
  int ticks = 0;
  auto t = corio::create_task(ticker(ticks));

  // 1. The default executor (made on first use).
  std::string r1 = co_await loop.run_in_executor(nullptr, blocking_io, 50);
  std::printf("default thread pool: %s\n", r1.c_str());

  // 2. A pool of our own.
  {
    corio::futures::thread_pool_executor pool(2, "cpu");
    std::uint64_t r2 = co_await loop.run_in_executor(&pool, cpu_bound, std::uint64_t{1000});
    std::printf("custom thread pool: %llu\n", static_cast<unsigned long long>(r2));
  }  // the pool's destructor waits for its threads

  // 3. to_thread: the default executor, in a copy of this task's context.
  std::string r3 = co_await corio::to_thread(blocking_io, 20);
  std::printf("to_thread: %s\n", r3.c_str());

  t.cancel();
  std::printf("the loop kept running meanwhile: %s\n", ticks > 0 ? "yes" : "no");
}

}  // namespace

int main() { corio::run(main_task()); }

// Python docs, asyncio.Queue: three workers take twenty jobs from a queue;
// main waits for the queue to be worked off with join(), then cancels the
// workers and gathers them with return_exceptions=True.
//
//   async def worker(name, queue):
//       while True:
//           sleep_for = await queue.get()
//           await asyncio.sleep(sleep_for)
//           queue.task_done()
//           print(f'{name} has slept for {sleep_for:.2f} seconds')
//
// The jobs' lengths come from a fixed pseudo-random sequence, so that the
// output is the same on every run. Usage: worker_pool [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

corio::task<> worker(std::string name, corio::queue<double>& jobs, demo::options o) {
  for (;;) {
    const double sleep_for = co_await jobs.get();
    co_await corio::sleep(o.units(sleep_for));
    jobs.task_done();
    std::printf("%s has slept for %.2f units\n", name.c_str(), sleep_for);
  }
}

corio::task<> main_task(demo::options o) {
  corio::queue<double> jobs;
  double total = 0;
  std::uint32_t x = 1;
  for (int i = 0; i < 20; ++i) {
    x = x * 1103515245u + 12345u;
    const double sleep_for = 0.05 + double((x >> 8) % 951) / 1000.0;  // 0.05 .. 1.0
    total += sleep_for;
    jobs.put_nowait(sleep_for);
  }
  std::vector<corio::task<>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(corio::create_task(worker("worker-" + std::to_string(i), jobs, o)));

  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  co_await jobs.join();
  const std::string elapsed = o.since(loop, start);

  for (auto& w : workers) w.cancel();
  auto outcomes = co_await corio::gather_settled(std::move(workers));
  int cancelled = 0;
  for (auto& r : outcomes) cancelled += r.cancelled();
  std::printf("====\n");
  std::printf("3 workers slept in parallel for %s units\n", elapsed.c_str());
  std::printf("total expected sleep time: %.2f units\n", total);
  std::printf("workers cancelled: %d\n", cancelled);
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

// A process pool and a thread pool side by side under one event loop
// (Python docs, "Executing code in thread or process pools"):
//
//   with concurrent.futures.ProcessPoolExecutor() as pool:
//       result = await loop.run_in_executor(pool, cpu_bound)
//
// CPU-bound work goes to processes (each has its own core), blocking calls
// to threads; as_completed hands the results over as they finish, while
// the loop stays free.
#include <corio/corio.hpp>
#include <corio/futures/process_pool_executor.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/multiprocessing.hpp>
#include <corio/threads.hpp>
#include <corio/wait.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

std::uint64_t sum_of_squares(std::uint64_t n) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < n; ++i) s += i * i;
  return s;
}

std::uint64_t blocking_io(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<std::uint64_t>(ms);
}

corio::task<> main_task() {
  corio::event_loop& loop = corio::get_running_loop();
  corio::futures::process_pool_executor processes(2);
  corio::futures::thread_pool_executor threads(2);

  std::vector<corio::future<std::uint64_t>> jobs;
  jobs.push_back(loop.run_in_executor(&processes, sum_of_squares, std::uint64_t{1000}));
  jobs.push_back(loop.run_in_executor(&processes, sum_of_squares, std::uint64_t{2000}));
  jobs.push_back(loop.run_in_executor(&threads, blocking_io, 10));
  // A future of the executor itself, wrapped for the loop.
  jobs.push_back(corio::wrap_future(processes.submit(sum_of_squares, std::uint64_t{10})));

  std::multiset<std::uint64_t> results;  // the completion order varies
  for (auto next : corio::as_completed(std::move(jobs))) results.insert(co_await next);
  for (std::uint64_t r : results) std::printf("%llu\n", static_cast<unsigned long long>(r));
  std::printf("%zu results, the loop never blocked\n", results.size());
}

}  // namespace

int main() {
  corio::multiprocessing::freeze_support();
  corio::run(main_task());
}

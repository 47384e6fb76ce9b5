// A hundred threads increment one counter under a threading.Lock; without
// the lock, increments would be lost.
//
//   lock = threading.Lock()
//   def work():
//       for _ in range(1000):
//           with lock:
//               counter += 1
//   threads = [threading.Thread(target=work) for _ in range(100)]
//
// Usage: threads_counter
#include <corio/corio.hpp>

#include <cstdio>
#include <memory>
#include <vector>

namespace th = corio::threading;

int main() {
  th::lock lock;
  long counter = 0;
  std::vector<std::unique_ptr<th::thread>> threads;
  for (int i = 0; i < 100; ++i) {
    threads.push_back(std::make_unique<th::thread>([&lock, &counter] {
      for (int k = 0; k < 1000; ++k) {
        auto guard = lock.scoped();  // with lock:
        ++counter;
      }
    }));
  }
  for (auto& t : threads) t->start();
  for (auto& t : threads) t->join();
  std::printf("100 threads x 1000 increments = %ld\n", counter);
  std::printf("threads alive now: %zu (the main thread)\n", th::active_count());
}

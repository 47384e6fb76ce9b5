// A worker thread drains a queue.Queue; the main thread waits with join()
// until every item got its task_done() (Python docs, the queue module).
//
//   def worker():
//       while True:
//           item = q.get()
//           print(f'Working on {item}')
//           q.task_done()
//   threading.Thread(target=worker, daemon=True).start()
//   for item in range(5): q.put(item)
//   q.join()
//
// Usage: threads_queue_worker
#include <corio/corio.hpp>

#include <cstdio>

namespace th = corio::threading;

int main() {
  th::queue<int> q;
  th::thread worker(th::thread_options{.name = "worker"}, [&q] {
    for (;;) {
      int item = 0;
      try {
        item = q.get();
      } catch (const corio::queue_shut_down&) {
        return;  // Python 3.13: get() after shutdown() once drained
      }
      std::printf("Working on %d\n", item);
      std::printf("Finished %d\n", item);
      q.task_done();
    }
  });
  worker.start();

  for (int item = 0; item < 5; ++item) q.put(item);
  q.join();  // blocks until all 5 were task_done()
  std::printf("All work completed\n");
  q.shutdown();
  worker.join();
}

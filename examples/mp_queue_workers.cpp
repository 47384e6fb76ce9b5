// Many processes writing one queue (Python docs, multiprocessing,
// "Exchanging objects between processes" and the Queue example):
//
//   def worker(k, q):
//       for i in range(3):
//           q.put((k, i * i))
//
//   if __name__ == '__main__':
//       q = Queue()
//       workers = [Process(target=worker, args=(k, q)) for k in range(4)]
//       for p in workers: p.start()
//       results = sorted(q.get() for _ in range(12))
//       for p in workers: p.join()
//
// Forked workers share the queue by inheritance; a spawned one, which starts
// a fresh copy of the program, opens it from its handle. The items come in
// whatever order the workers ran: the parent sorts them.
#include <corio/multiprocessing.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <utility>
#include <vector>

namespace mp = corio::multiprocessing;

using item = std::pair<int, int>;  // (worker, value)

void worker(int k, mp::queue<item> q) {
  for (int i = 0; i < 3; ++i) q.put({k, i * i});
}

// A spawned worker gets the queue's handle, and the queue from it.
void spawned_worker(int k, mp::shared_handle h) { worker(k, mp::queue<item>::from_handle(h)); }

int main() {
  mp::freeze_support();  // in a spawned child: runs its target and exits here
  mp::queue<item> q;
  std::deque<mp::process> workers;  // a process does not move: a deque keeps it in place
  for (int k = 0; k < 4; ++k) workers.emplace_back([k, q] { worker(k, q); });
  workers.emplace_back(spawned_worker, 4, q.corio_handle());
  for (int k = 0; k < 4; ++k) workers[static_cast<std::size_t>(k)].start();  // fork, the default
  mp::get_context("spawn").start(workers.back());

  std::vector<item> results;
  for (int n = 0; n < 15; ++n) results.push_back(q.get());
  for (auto& p : workers) p.join();
  std::sort(results.begin(), results.end());
  for (const auto& [k, v] : results) std::printf("worker %d: %d\n", k, v);
  std::printf("queue empty: %s\n", q.empty() ? "yes" : "no");
}

// multiprocessing.Pool (Python docs, multiprocessing "Using a pool of
// workers"):
//
//   def f(x):
//       return x*x
//
//   if __name__ == '__main__':
//       with Pool(processes=4) as pool:
//           print(pool.map(f, range(10)))
//           res = pool.apply_async(f, (20,))
//           print(res.get(timeout=1))
//           res = pool.apply_async(time.sleep, (10,))
//           try:
//               print(res.get(timeout=1))
//           except TimeoutError:
//               print("We lacked patience and got a multiprocessing.TimeoutError")
//
// Tasks are functions (or capture-less lambdas) whose arguments and results
// cross through the codec; the pool's workers are processes, so a worker
// that dies takes only its task with it. Leaving the scope terminates the
// pool, as Python's `with` does.
#include <corio/multiprocessing.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

int f(int x) { return x * x; }

long add(long a, long b) { return a + b; }

int nap(int seconds) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  return seconds;
}

std::string join(const std::vector<int>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

int main() {
  mp::freeze_support();
  mp::pool pool(4);
  std::vector<int> xs{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

  // apply blocks; apply_async returns at once.
  std::printf("apply: %d\n", pool.apply(f, 7));
  auto res = pool.apply_async(f, 20);
  std::printf("apply_async: %d\n", res.get(std::chrono::seconds(30)));

  // A callback runs in the pool's result thread before get() returns.
  int seen = 0;
  auto with_cb = pool.apply_async(mp::callbacks{[&](long& v) { seen = static_cast<int>(v); }}, add, 40L, 2L);
  with_cb.wait();
  std::printf("callback saw %d\n", seen);

  // map, with the default chunks and with chunks of 3, and map_async.
  std::printf("map: %s\n", join(pool.map(f, xs)).c_str());
  std::printf("map chunksize=3: %s\n", join(pool.map(f, xs, 3)).c_str());
  auto later = pool.map_async(f, xs);
  std::printf("map_async: %s\n", join(later.get()).c_str());

  // imap_unordered yields in completion order; sorted here for the print.
  std::vector<int> any_order;
  for (int r : pool.imap_unordered(f, xs)) any_order.push_back(r);
  std::sort(any_order.begin(), any_order.end());
  std::printf("imap_unordered (sorted): %s\n", join(any_order).c_str());

  // A long task and a short patience.
  auto slow = pool.apply_async(nap, 10);
  try {
    std::printf("%d\n", slow.get(std::chrono::milliseconds(100)));
  } catch (const mp::timeout_error&) {
    std::printf("We lacked patience and got a multiprocessing.TimeoutError\n");
  }
  // The pool is terminated here, with the nap still running.
}

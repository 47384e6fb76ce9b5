// Producer and consumer threads sharing a list, coordinated by a
// threading.Condition (Python docs: "Condition objects").
//
//   with cv:
//       while not an_item_is_available():
//           cv.wait()
//       get_an_available_item()
//   ...
//   with cv:
//       make_an_item_available()
//       cv.notify()
//
// Usage: threads_condition
#include <corio/corio.hpp>

#include <cstdio>
#include <deque>

namespace th = corio::threading;

int main() {
  th::condition cv;  // over its own RLock, as Python's default
  std::deque<int> items;
  bool finished = false;
  int consumed_sum = 0;

  th::thread consumer(th::thread_options{.name = "consumer"}, [&] {
    for (;;) {
      auto guard = cv.scoped();
      cv.wait_for([&] { return !items.empty() || finished; });
      if (items.empty()) return;  // finished and drained
      const int x = items.front();
      items.pop_front();
      consumed_sum += x;
      std::printf("%s got %d\n", th::current_thread().name().c_str(), x);
    }
  });
  consumer.start();

  th::thread producer(th::thread_options{.name = "producer"}, [&] {
    for (int i = 1; i <= 5; ++i) {
      auto guard = cv.scoped();
      items.push_back(i * 10);
      cv.notify();
    }
    auto guard = cv.scoped();
    finished = true;
    cv.notify_all();
  });
  producer.start();

  producer.join();
  consumer.join();
  std::printf("consumed in order, total %d\n", consumed_sum);
}

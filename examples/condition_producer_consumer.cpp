// Producer/consumer with asyncio.Condition: two consumers wait for items; the
// producer adds one at a time and notifies one waiter; a final notify_all
// tells the consumers the producer is done.
//
//   async with cond:
//       await cond.wait_for(lambda: items or done)
//
// Usage: condition_producer_consumer [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <cstdio>
#include <deque>
#include <string>

namespace {

struct shared {
  corio::condition cond;
  std::deque<int> items;
  bool done = false;
};

corio::task<> consumer(std::string name, shared& s, demo::options o) {
  for (;;) {
    int item;
    {
      auto guard = co_await s.cond.scoped();
      co_await s.cond.wait_for([&] { return !s.items.empty() || s.done; });
      if (s.items.empty()) break;  // done, and nothing left
      item = s.items.front();
      s.items.pop_front();
    }
    std::printf("%s consumed item %d\n", name.c_str(), item);
    co_await corio::sleep(o.units(0.3));  // work on it, outside the lock
  }
  std::printf("%s: no more items\n", name.c_str());
}

corio::task<> producer(shared& s, demo::options o) {
  for (int i = 1; i <= 6; ++i) {
    co_await corio::sleep(o.units(0.2));
    auto guard = co_await s.cond.scoped();
    s.items.push_back(i);
    std::printf("produced item %d\n", i);
    s.cond.notify(1);
  }
  auto guard = co_await s.cond.scoped();
  s.done = true;
  s.cond.notify_all();
}

corio::task<> main_task(demo::options o) {
  shared s;
  co_await corio::gather(consumer("consumer-a", s, o), consumer("consumer-b", s, o), producer(s, o));
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

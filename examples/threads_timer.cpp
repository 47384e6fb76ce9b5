// Periodic work driven by threading.Timer: each tick re-arms the next, and
// a pending timer is cancelled before it fires.
//
//   def tick(n):
//       print("tick", n)
//       if n < 3: threading.Timer(0.01, tick, args=(n + 1,)).start()
//   t = threading.Timer(60, never); t.start(); t.cancel()
//
// Usage: threads_timer
#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

namespace th = corio::threading;
using namespace std::chrono_literals;

int main() {
  th::event all_done;
  std::vector<std::unique_ptr<th::timer>> timers;  // touched by the main thread and the ticks, in turn
  th::lock timers_lock;

  std::function<void(int)> tick = [&](int n) {
    std::printf("tick %d on %s\n", n, th::current_thread().name().c_str());
    if (n == 3) {
      all_done.set();
      return;
    }
    auto guard = timers_lock.scoped();
    timers.push_back(std::make_unique<th::timer>(th::thread_options{.name = "tick-" + std::to_string(n + 1)}, 10ms,
                                                 tick, n + 1));
    timers.back()->start();
  };
  th::timer never(60s, [] { std::printf("this never prints\n"); });
  never.start();
  never.cancel();  // before it fires: its thread ends at once
  never.join();
  std::printf("the 60 s timer was cancelled\n");

  {  // the ticks start after that line, so the output's order never varies
    auto guard = timers_lock.scoped();
    timers.push_back(std::make_unique<th::timer>(th::thread_options{.name = "tick-1"}, 10ms, tick, 1));
    timers.back()->start();
  }

  all_done.wait();
  auto guard = timers_lock.scoped();
  for (auto& t : timers) t->join();
  std::printf("3 ticks, each on its own thread\n");
}

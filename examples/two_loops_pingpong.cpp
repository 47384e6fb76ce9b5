// Two event loops on two threads hand coroutines to each other: each side
// schedules its reply on the other loop with run_coroutine_threadsafe and
// awaits the concurrent future through wrap_future, so neither loop ever
// blocks. Five round trips, then both loops end.
//
//   fut = asyncio.run_coroutine_threadsafe(pong(n), other_loop)
//   n = await asyncio.wrap_future(fut)
//
// Usage: two_loops_pingpong
#include <corio/corio.hpp>
#include <corio/threads.hpp>

#include <cstdio>
#include <future>
#include <thread>

namespace {

corio::task<int> pong(int n) {
  std::printf("  pong loop: got %d, answering %d\n", n, n + 1);
  co_return n + 1;
}

corio::task<int> ping(corio::event_loop& other, int rounds) {
  int n = 0;
  for (int i = 0; i < rounds; ++i) {
    std::printf("ping loop: sending %d\n", n);
    corio::futures::future<int> reply = corio::run_coroutine_threadsafe(pong(n), other);
    n = co_await corio::wrap_future(reply);  // awaits without blocking this loop
    std::printf("ping loop: got back %d\n", n);
  }
  co_return n;
}

}  // namespace

int main() {
  corio::event_loop pong_loop;
  std::promise<void> pong_ready;
  std::thread pong_thread([&] {
    pong_loop.call_soon([&] { pong_ready.set_value(); });
    pong_loop.run_forever();
  });
  pong_ready.get_future().wait();

  int result = 0;
  std::thread ping_thread([&] { result = corio::run(ping(pong_loop, 5)); });
  ping_thread.join();

  pong_loop.call_soon_threadsafe([&] { pong_loop.stop(); });
  pong_thread.join();
  pong_loop.close();
  std::printf("after 5 round trips: %d\n", result);
}

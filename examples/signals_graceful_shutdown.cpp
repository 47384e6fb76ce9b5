// Stopping cleanly on SIGTERM (Python docs, loop.add_signal_handler): the
// handler runs on the loop's thread like any callback, so it may touch loop
// objects; here it sets an event. The workers finish the job in hand and
// leave, and main waits for them before it returns.
//
//   loop = asyncio.get_running_loop()
//   stop = asyncio.Event()
//   loop.add_signal_handler(signal.SIGTERM, stop.set)
//   workers = [asyncio.create_task(worker(i, stop)) for i in (1, 2)]
//   await stop.wait()
//   await asyncio.gather(*workers)
//
// The program sends itself SIGTERM after 3.5 units (as a service manager
// would); with --wait it prints its pid and waits for `kill -TERM <pid>`.
//
// Usage: signals_graceful_shutdown [scale] [--virtual] [--wait]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

namespace {

corio::task<> worker(int id, const corio::event& stop, demo::options o) {
  int job = 0;
  while (!stop.is_set()) {
    co_await corio::sleep(o.units(id));  // one job: worker 1 takes 1 unit, worker 2 takes 2
    std::printf("worker %d: job %d done\n", id, ++job);
  }
  std::printf("worker %d: stopping after %d jobs\n", id, job);
}

corio::task<> main_task(demo::options o, bool wait_for_kill) {
  corio::event_loop& loop = corio::get_running_loop();
  corio::event stop;
  loop.add_signal_handler(SIGTERM, [&stop] {
    std::printf("main: SIGTERM received, shutting down\n");
    stop.set();
  });
  std::vector<corio::task<>> workers;
  for (int id : {1, 2}) workers.push_back(corio::create_task(worker(id, stop, o)));
  if (wait_for_kill) {
    std::printf("main: waiting for SIGTERM (kill -TERM %d)\n", static_cast<int>(::getpid()));
    std::fflush(stdout);
  } else {
    loop.call_later(o.units(3.5), [] {
      std::printf("main: sending myself SIGTERM\n");
      ::kill(::getpid(), SIGTERM);
    });
  }
  co_await stop.wait();
  co_await corio::gather(std::move(workers));
  loop.remove_signal_handler(SIGTERM);  // SIGTERM is fatal again from here on
  std::printf("main: every worker stopped cleanly\n");
}

}  // namespace

int main(int argc, char** argv) {
  // --wait is this example's own; the rest is the gallery's [scale] [--virtual].
  bool wait_for_kill = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--wait") == 0)
      wait_for_kill = true;
    else
      args.push_back(argv[i]);
  }
  const demo::options o = demo::parse(static_cast<int>(args.size()), args.data());
  corio::run(main_task(o, wait_for_kill), o.loop_options());
}

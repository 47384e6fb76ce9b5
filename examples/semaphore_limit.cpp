// A semaphore limits concurrency: 100 downloads, at most 10 at a time
// (Python: `async with sem:` around the work, asyncio.Semaphore(10)).
//
// Usage: semaphore_limit [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

struct stats {
  int inside = 0;
  int most = 0;
  int done = 0;
};

corio::task<> download(int id, corio::semaphore& sem, stats& s, demo::options o) {
  auto guard = co_await sem.scoped();  // released on every way out of this scope
  ++s.inside;
  s.most = std::max(s.most, s.inside);
  co_await corio::sleep(o.units(0.1 * (1 + id % 3)));
  --s.inside;
  ++s.done;
}

corio::task<> main_task(demo::options o) {
  corio::semaphore sem(10);
  stats s;
  std::vector<corio::task<>> jobs;
  for (int i = 0; i < 100; ++i) jobs.push_back(download(i, sem, s, o));
  corio::event_loop& loop = corio::get_running_loop();
  const corio::time_point start = loop.time();
  co_await corio::gather(std::move(jobs));
  std::printf("downloads finished: %d\n", s.done);
  std::printf("at most %d ran at once\n", s.most);
  std::printf("took %s units (10 at a time, 0.1 to 0.3 units each)\n", o.since(loop, start).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

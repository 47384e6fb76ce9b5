// A process that starts two threads (Python: threading inside a
// multiprocessing child). The child exits only once its non-daemon threads
// are done, as Python's does; their output comes back through a queue of
// the threading module, and the child's exit code through the parent.
#include <corio/multiprocessing.hpp>
#include <corio/threading/queue.hpp>
#include <corio/threading/thread.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace mp = corio::multiprocessing;
namespace th = corio::threading;

void child_main() {
  th::queue<std::string> results;
  std::vector<std::unique_ptr<th::thread>> threads;
  for (const char* n : {"1", "2"}) {
    threads.push_back(std::make_unique<th::thread>(th::thread_options{.name = std::string("T") += n},
                                                   [&results, n] { results.put(std::string("thread ") += n); }));
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
  std::vector<std::string> lines{results.get(), results.get()};
  std::sort(lines.begin(), lines.end());
  for (const auto& l : lines) std::printf("%s: %s done\n", mp::current_process().name().c_str(), l.c_str());
}

int main() {
  mp::process p(mp::process_options{.name = "threaded"}, child_main);
  p.start();
  p.join();
  std::printf("threaded exited with %d\n", *p.exitcode());
}

// multiprocessing.Process with a target (Python docs, multiprocessing
// "The Process class"):
//
//   def f(name):
//       print('hello', name)
//
//   if __name__ == '__main__':
//       p = Process(target=f, args=('bob',))
//       p.start()
//       p.join()
//
// The target runs in a child process (fork, the default start method); its
// exit code comes back to the parent, 0 here, 1 for an exception that
// escaped it (printed by the child after "Process <name>:").
#include <corio/multiprocessing.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace mp = corio::multiprocessing;

void f(std::string name) { std::printf("hello %s\n", name.c_str()); }

void fails() { throw std::runtime_error("no such user"); }

int main() {
  mp::process p(f, std::string("bob"));
  p.start();
  p.join();
  std::printf("%s exited with %d\n", p.name().c_str(), *p.exitcode());

  mp::process q(mp::process_options{.name = "checker"}, [] { std::printf("checking in a child\n"); });
  q.start();
  q.join();
  std::printf("%s exited with %d\n", q.name().c_str(), *q.exitcode());
}

// A Process subclass overriding run() (Python docs: "the run() method may
// be overridden in a subclass"):
//
//   class Worker(Process):
//       def __init__(self, n):
//           super().__init__()
//           self.n = n
//       def run(self):
//           print(f'{self.name}: {self.n} squared is {self.n * self.n}')
//
// run() runs on the child's copy of the object (fork). Its default name is
// the class's: "worker-1".
#include <corio/multiprocessing.hpp>

#include <cstdio>
#include <vector>

namespace mp = corio::multiprocessing;

struct worker : mp::process {
  int n;
  explicit worker(int v) : n(v) {}
  void run() override { std::printf("%s: %d squared is %d\n", name().c_str(), n, n * n); }
};

int main() {
  for (int i = 1; i <= 3; ++i) {
    worker w(i);
    w.start();
    w.join();
  }
  std::printf("all workers exited\n");
}

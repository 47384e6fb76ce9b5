// A value and an array changed by children (Python docs, "Sharing state
// between processes"):
//
//   def f(n, a):
//       n.value = 3.1415927
//       for i in range(len(a)):
//           a[i] = -a[i]
//
//   if __name__ == '__main__':
//       num = Value('d', 0.0)
//       arr = Array('i', range(10))
//       p = Process(target=f, args=(num, arr))
//       p.start()
//       p.join()
//       print(num.value)
//       print(arr[:])
//
// With fork the child's copies map the same memory; with spawn and
// forkserver the objects cross as handles, and the child attaches to them.
// A counter shows the value's lock across two children at once.
#include <corio/multiprocessing.hpp>

#include <cstdio>

namespace mp = corio::multiprocessing;

void f(mp::value<double> n, mp::array<int> a) {
  n.set(3.1415927);
  for (std::size_t i = 0; i < a.size(); ++i) a.set(i, -a.get(i));
}

void count(mp::value<int> counter, int times) {
  for (int i = 0; i < times; ++i) {
    auto g = counter.get_lock().scoped();  // get() and set() as one step
    counter.set(counter.get() + 1);
  }
}

void print(const mp::value<double>& num, const mp::array<int>& arr) {
  std::printf("%.7f\n[", num.get());
  for (std::size_t i = 0; i < arr.size(); ++i) std::printf("%s%d", i ? ", " : "", arr.get(i));
  std::printf("]\n");
}

int main() {
  mp::freeze_support();  // in a spawned child: runs the target and exits here
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    const mp::context ctx = mp::get_context(method);
    mp::value<double> num(0.0);
    mp::array<int> arr{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    mp::process p(f, num, arr);
    ctx.start(p);
    p.join();
    std::printf("%s:\n", method);
    print(num, arr);

    mp::value<int> counter(0);
    mp::process a(count, counter, 1000), b(count, counter, 1000);
    ctx.start(a);
    ctx.start(b);
    a.join();
    b.join();
    std::printf("counter: %d\n", counter.get());
  }
}

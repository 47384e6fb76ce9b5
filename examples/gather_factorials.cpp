// Python docs, "Running Tasks Concurrently": asyncio.gather of three
// factorial tasks named A, B and C, each sleeping one second per step.
//
//   L = await asyncio.gather(factorial("A", 2), factorial("B", 3), factorial("C", 4))
//   print(L)
//
// Usage: gather_factorials [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <cstdint>
#include <iostream>
#include <string>

namespace {

// Parameters are copied into the coroutine frame, so `name` outlives the
// caller's argument (a reference parameter would dangle once the task waits).
corio::task<std::int64_t> factorial(std::string name, int number, corio::duration step) {
  std::int64_t f = 1;
  for (int i = 2; i <= number; ++i) {
    std::cout << "Task " << name << ": Compute factorial(" << number << "), currently i=" << i << "...\n";
    co_await corio::sleep(step);
    f *= i;
  }
  std::cout << "Task " << name << ": factorial(" << number << ") = " << f << '\n';
  co_return f;
}

corio::task<> main_task(demo::options o) {
  // The three coroutines become tasks and run concurrently; the results come
  // back in argument order, whatever order the tasks finish in.
  auto [a, b, c] = co_await corio::gather(factorial("A", 2, o.units(1)), factorial("B", 3, o.units(1)),
                                          factorial("C", 4, o.units(1)));
  std::cout << '[' << a << ", " << b << ", " << c << "]\n";
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  corio::run(main_task(o), o.loop_options());
}

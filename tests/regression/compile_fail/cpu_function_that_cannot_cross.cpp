// Each CASE but 0 must fail to compile with the static_assert message that
// tests/CMakeLists.txt expects: a task queue's CPU function runs in another
// process, so it must be code (a function or a capture-less lambda), and it
// cannot be a coroutine (a pool process has no loop). CASE 0 spells it
// correctly.
#include <corio/distributed/task_queue.hpp>

#include <string>

namespace {
int square(int x) { return x * x; }
}  // namespace

void use(corio::distributed::worker& w) {
#if CASE == 0
  w.register_cpu_function("square", square);
  w.register_cpu_function("concat", [](std::string a, std::string b) { return a + b; });
#elif CASE == 1
  int k = 3;
  w.register_cpu_function("times_k", [k](int x) { return x * k; });
#elif CASE == 2
  w.register_cpu_function("coroutine", [](int x) -> corio::task<int> { co_return x; });
#endif
}

// A program built against the installed corio package.
#include <corio/corio.hpp>

#include <cstdio>

using namespace std::chrono_literals;

corio::task<int> add_one(int x) {
  co_await corio::sleep(1ms);
  co_return x + 1;
}

corio::task<int> amain() {
  auto [a, b] = co_await corio::gather(add_one(1), add_one(2));
  co_return a + b;
}

int main() {
  const int r = corio::run(amain());
  std::printf("consumer: %d\n", r);
  return r == 5 ? 0 : 1;
}

// The umbrella header compiles on its own and brings every concept along.
#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <tuple>

using namespace std::chrono_literals;

namespace {

corio::task<int> double_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return 2 * v;
}

corio::task<int> tour() {
  auto [a, b] = co_await corio::gather(double_after(1ms, 1), double_after(2ms, 2));
  int c = co_await corio::wait_for(double_after(1ms, 3), 1s);
  int d = co_await corio::shield(double_after(1ms, 4));
  int e = co_await corio::task_group::run([](corio::task_group& tg) -> corio::task<int> {
    corio::task<int> t = tg.create_task(double_after(1ms, 5));
    co_return co_await t;
  });
  std::vector<corio::task<int>> ts;
  ts.push_back(corio::create_task(double_after(1ms, 6)));
  auto done = co_await corio::wait(std::move(ts));
  int f = done.done.at(0).result();
  bool timed_out = false;
  try {
    co_await corio::timeout(1ms, [] { return double_after(1s, 0); });
  } catch (const corio::timeout_error&) {
    timed_out = true;
  }
  co_return a + b + c + d + e + f + (timed_out ? 1000 : 0);
}

corio::generator<int> evens(int n) {
  for (int i = 0; i < n; ++i) co_yield 2 * i;
}

corio::async_generator<int> slow_evens(int n) {
  for (int x : evens(n)) {
    co_await corio::sleep(1ms);
    co_yield x;
  }
}

corio::task<int> sum_of(corio::async_generator<int> g) {
  int s = 0;
  co_await corio::for_each(std::move(g), [&s](int x) { s += x; });
  co_return s;
}

}  // namespace

TEST(Umbrella, every_concept_is_reachable_through_corio_hpp) {
  EXPECT_EQ(corio::run(tour()), 2 * (1 + 2 + 3 + 4 + 5 + 6) + 1000);
  EXPECT_EQ(corio::run(sum_of(slow_evens(4))), 0 + 2 + 4 + 6);
}

// Stress: deep delegation chains and many generators. The root of a
// delegation chain resumes its innermost generator directly and enters or
// leaves a level through its own resume loop, so ten thousand levels of
// yield_from must cost no more machine stack than one, in every build (this
// does not rely on symmetric transfer being a tail call). Sizes are bounded
// and nothing is timed: the per-element cost across depths is measured by
// bench/w10_generator (impl=corio:delegate).
#include <corio/async_generator.hpp>
#include <corio/generator.hpp>

#include <corio/gather.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "small_stack.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio::async_generator;
using corio::generator;
using corio::yield_from;
using corio_test::counted;
using corio_test::distance;
using corio_test::on_small_stack;
using corio_test::stack_mark;

namespace {

constexpr int kDepth = 10'000;
constexpr std::uintptr_t kStackBound = 64 * 1024;

// Sums what an async generator yields.
corio::task<long long> sum_of(async_generator<int>& g) {
  long long s = 0;
  for (;;) {
    std::optional<int> v = co_await g.next();
    if (!v) break;
    s += *v;
  }
  co_return s;
}

struct marks {
  std::uintptr_t deepest = 0;  // stack depth at the innermost yield
  int cleaned = 0;             // levels whose handler saw generator_exit
  std::vector<int> close_order;
};

// Level `depth` yields -depth, delegates to level depth - 1, and returns the
// sum of what it got back plus one; level 0 yields `n` values, adding what
// is sent to it.
generator<int, int, long> level(int depth, int n, marks& m) {
  counted local(depth);
  bool closing = false;
  long r = 0;
  try {
    if (depth == 0) {
      m.deepest = stack_mark();
      for (int i = 0; i < n; ++i) {
        int* v = co_yield i;
        r += v ? *v : 0;
      }
      co_return r;
    }
    r = co_yield yield_from(level(depth - 1, n, m));
  } catch (const corio::generator_exit&) {
    closing = true;
  }
  if (closing) {
    ++m.cleaned;
    m.close_order.push_back(depth);
    throw corio::generator_exit();
  }
  co_return r + 1;
}

generator<int> thrower(int depth) {
  if (depth == 0) {
    co_yield 0;
    throw std::runtime_error("from the bottom");
  }
  co_yield yield_from(thrower(depth - 1));
}

}  // namespace

TEST(StressGenerators, ten_thousand_levels_of_yield_from_use_constant_stack) {
  counted::reset();
  marks m;
  std::uintptr_t top = 0;
  long sum = 0;
  long result = -1;
  on_small_stack([&] {
    top = stack_mark();
    auto g = level(kDepth, 1000, m);
    for (;;) {
      std::optional<int> v = g.next();
      if (!v) break;
      sum += *v;
    }
    result = g.return_value();
  });
  EXPECT_EQ(sum, 999L * 1000 / 2);
  EXPECT_EQ(result, kDepth);  // each level added one on the way up
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_LT(distance(top, m.deepest), kStackBound)
      << kDepth << " levels put the innermost generator " << distance(top, m.deepest) << " bytes down the stack";
}

TEST(StressGenerators, sends_reach_the_bottom_of_ten_thousand_levels) {
  marks m;
  long result = -1;
  on_small_stack([&] {
    auto g = level(kDepth, 100, m);
    (void)g.next();
    for (int i = 1; i <= 100; ++i) (void)g.send(i);
    result = g.return_value();
  });
  EXPECT_EQ(result, 100L * 101 / 2 + kDepth);
}

TEST(StressGenerators, close_of_ten_thousand_levels_cleans_up_each_from_the_innermost) {
  counted::reset();
  marks m;
  on_small_stack([&] {
    auto g = level(kDepth, 10, m);
    (void)g.next();
    g.close();
    EXPECT_EQ(g.state(), corio::generator_state::closed);
  });
  EXPECT_EQ(m.cleaned, kDepth + 1);
  ASSERT_EQ(m.close_order.size(), static_cast<std::size_t>(kDepth + 1));
  EXPECT_EQ(m.close_order.front(), 0);
  EXPECT_EQ(m.close_order.back(), kDepth);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(StressGenerators, destroying_ten_thousand_suspended_levels_does_not_recurse) {
  counted::reset();
  marks m;
  on_small_stack([&] {
    auto g = level(kDepth, 10, m);
    (void)g.next();
    EXPECT_EQ(counted::alive(), static_cast<std::size_t>(kDepth + 1));
  });
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(m.cleaned, 0);  // destruction raises nothing inside
}

TEST(StressGenerators, an_exception_from_the_bottom_of_ten_thousand_levels_reaches_the_caller) {
  std::string what;
  on_small_stack([&] {
    auto g = thrower(kDepth);
    (void)g.next();
    try {
      (void)g.next();
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
    EXPECT_EQ(g.state(), corio::generator_state::closed);
  });
  EXPECT_EQ(what, "from the bottom");
}

TEST(StressGenerators, a_hundred_thousand_suspended_generators_advanced_in_turn) {
  counted::reset();
  constexpr int kGens = 100'000;
  constexpr int kSteps = 5;
  auto make = [](int id) -> generator<int> {
    counted c(id);
    for (int i = 0; i < kSteps; ++i) co_yield id * kSteps + i;
  };
  std::vector<generator<int>> gens;
  gens.reserve(kGens);
  for (int i = 0; i < kGens; ++i) gens.push_back(make(i));
  long long sum = 0;
  for (int step = 0; step < kSteps; ++step)
    for (auto& g : gens) sum += g.next().value_or(0);
  EXPECT_EQ(counted::alive(), static_cast<std::size_t>(kGens));
  for (auto& g : gens) EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(counted::alive(), 0u);
  const long long n = static_cast<long long>(kGens) * kSteps;
  EXPECT_EQ(sum, n * (n - 1) / 2);
}

// -- async generators ---------------------------------------------------------------------

TEST(StressGenerators, a_million_values_from_an_async_generator_that_never_suspends_use_constant_stack) {
  std::uintptr_t top = 0, inside = 0;
  long long sum = -1;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    top = stack_mark();
    sum = loop.run_until_complete([](std::uintptr_t& deepest) -> corio::task<long long> {
      auto g = [](std::uintptr_t& d) -> async_generator<int> {
        for (int i = 0; i < 1'000'000; ++i) {
          if (i == 999'999) d = stack_mark();
          co_yield i;
        }
      }(deepest);
      co_return co_await sum_of(g);
    }(inside));
  });
  EXPECT_EQ(sum, 999'999LL * 1'000'000 / 2);
  EXPECT_LT(distance(top, inside), kStackBound);
}

TEST(StressGenerators, a_hundred_thousand_values_each_after_a_loop_turn) {
  long long sum = -1;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    sum = loop.run_until_complete([]() -> corio::task<long long> {
      long long s = 0;
      co_await corio::for_each(
          []() -> async_generator<int> {
            for (int i = 0; i < 100'000; ++i) {
              co_await corio::sleep(0s);  // resumed from the loop, then hands the value over
              co_yield i;
            }
          }(),
          [&s](int v) { s += v; });
      co_return s;
    }());
  });
  EXPECT_EQ(sum, 99'999LL * 100'000 / 2);
}

TEST(StressGenerators, a_thousand_tasks_each_draining_its_own_async_generator) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  auto consumer = [](int id) -> corio::task<long long> {
    auto g = [](int seed) -> async_generator<int> {
      counted c(seed);
      std::uint32_t x = static_cast<std::uint32_t>(seed);
      for (int i = 0; i < 100; ++i) {
        x = x * 1103515245u + 12345u;
        co_await corio::sleep(std::chrono::milliseconds((x >> 16) % 10));
        co_yield i;
      }
    }(id);
    co_return co_await sum_of(g);
  };
  std::vector<long long> sums = loop.run_until_complete([](auto make) -> corio::task<std::vector<long long>> {
    std::vector<corio::task<long long>> tasks;
    for (int i = 0; i < 1000; ++i) tasks.push_back(corio::create_task(make(i)));
    co_return co_await corio::gather(std::move(tasks));
  }(consumer));
  ASSERT_EQ(sums.size(), 1000u);
  for (long long s : sums) EXPECT_EQ(s, 99 * 100 / 2);
  EXPECT_EQ(counted::alive(), 0u);
}

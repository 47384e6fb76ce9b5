// Unit tests for <corio/generator.hpp>: generator<Yield, Send, Return>,
// iteration, values and their copies, moves, yield_from. The Python rules
// (send before start, close, throw, re-entrancy...) are in
// tests/semantics/test_gen.cpp.
#include <corio/generator.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <memory>
#include <numeric>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "counted.hpp"
#include "error_util.hpp"

using corio::generator;
using corio::generator_state;
using corio::yield_from;
using corio_test::counted;
using corio_test::error_of;
using corio_test::holds;

namespace {

generator<int> count_to(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

generator<int> from_vector(std::vector<int> v) {
  for (int x : v) co_yield x;
}

template <class G>
std::vector<typename G::yield_type> drain(G& g) {
  std::vector<typename G::yield_type> out;
  for (;;) {
    auto v = g.next();
    if (!v) break;
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace

static_assert(std::ranges::input_range<generator<int>>);
static_assert(std::ranges::view<generator<int>>);
static_assert(std::input_iterator<generator<int>::iterator>);
static_assert(std::is_same_v<std::ranges::range_reference_t<generator<std::string>>, std::string&>);
static_assert(std::is_same_v<generator<int>::next_result, std::optional<int>>);
static_assert(std::is_same_v<generator<void, int>::next_result, bool>);
static_assert(!std::is_copy_constructible_v<generator<int>>);

TEST(Generator, range_for_sees_every_value_in_order) {
  std::vector<int> seen;
  for (int x : count_to(5)) seen.push_back(x);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Generator, an_empty_body_gives_an_empty_range) {
  auto g = count_to(0);
  EXPECT_EQ(g.begin(), g.end());
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(Generator, next_returns_values_then_empty) {
  auto g = count_to(2);
  EXPECT_EQ(g.next(), std::optional<int>(0));
  EXPECT_EQ(g.next(), std::optional<int>(1));
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(g.next(), std::nullopt);
}

TEST(Generator, works_with_std_ranges_algorithms) {
  std::vector<int> out;
  std::ranges::copy(from_vector({3, 1, 4, 1, 5}), std::back_inserter(out));
  EXPECT_EQ(out, (std::vector<int>{3, 1, 4, 1, 5}));

  auto g = count_to(100);
  auto it = std::ranges::find(g.begin(), g.end(), 42);
  ASSERT_NE(it, g.end());
  EXPECT_EQ(*it, 42);
  EXPECT_EQ(g.next(), std::optional<int>(43));  // the generator goes on from there
}

// clang 14 cannot compile libstdc++ 12's range adaptors at all.
#if !defined(__clang__) || __clang_major__ >= 15
TEST(Generator, composes_with_range_adaptors) {
  std::vector<int> out;
  for (int x : count_to(1000) | std::views::filter([](int x) { return x % 3 == 0; }) | std::views::take(4))
    out.push_back(x);
  EXPECT_EQ(out, (std::vector<int>{0, 3, 6, 9}));
}
#endif

TEST(Generator, a_second_loop_continues_where_the_first_stopped) {
  auto g = count_to(6);
  std::vector<int> first, second;
  for (int x : g) {
    first.push_back(x);
    if (x == 2) break;
  }
  for (int x : g) second.push_back(x);
  EXPECT_EQ(first, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(second, (std::vector<int>{3, 4, 5}));  // as with two `for` loops over one Python generator
}

TEST(Generator, the_iterator_refers_to_the_value_in_the_frame) {
  auto g = []() -> generator<std::string> {
    std::string s = "abc";
    co_yield std::move(s);
    co_yield "second";
  }();
  auto it = g.begin();
  std::string& ref = *it;
  EXPECT_EQ(ref, "abc");
  ref += "!";  // the body's string, yielded by rvalue
  EXPECT_EQ(*it, "abc!");
  ++it;
  EXPECT_EQ(*it, "second");
}

TEST(Generator, yielding_an_lvalue_hands_out_a_copy) {
  counted::reset();
  {
    auto g = [](counted& seen) -> generator<counted> {
      counted c(7);
      co_yield c;  // the consumer may move from what it gets; `c` stays intact
      seen = c;
    };
    counted after;
    auto gen = g(after);
    std::optional<counted> v = gen.next();
    ASSERT_TRUE(v);
    EXPECT_EQ(v->id, 7);
    EXPECT_EQ(gen.next(), std::nullopt);
    EXPECT_EQ(after.id, 7);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Generator, yielding_an_rvalue_moves_it_to_the_consumer) {
  counted::reset();
  auto g = []() -> generator<counted> { co_yield counted(3); }();
  std::optional<counted> v = g.next();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->id, 3);
  EXPECT_EQ(counted::copies, 0u);
}

TEST(Generator, move_only_values_and_return) {
  auto g = []() -> generator<std::unique_ptr<int>, void, std::unique_ptr<int>> {
    co_yield std::make_unique<int>(1);
    auto p = std::make_unique<int>(2);
    co_yield std::move(p);
    co_return std::make_unique<int>(3);
  }();
  auto a = g.next();
  auto b = g.next();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(**a, 1);
  EXPECT_EQ(**b, 2);
  EXPECT_EQ(g.next(), std::nullopt);
  std::unique_ptr<int> r = std::move(g.return_value());
  EXPECT_EQ(*r, 3);
}

TEST(Generator, converting_yields) {
  auto g = []() -> generator<std::string> {
    co_yield "literal";
    const char* p = "pointer";
    co_yield p;
  }();
  EXPECT_EQ(drain(g), (std::vector<std::string>{"literal", "pointer"}));
}

TEST(Generator, send_values_arrive_at_co_yield) {
  auto g = []() -> generator<int, int, int> {
    int total = 0;
    for (;;) {
      int* v = co_yield total;
      if (!v) co_return total;  // next() instead of send(): stop
      total += *v;
    }
  }();
  EXPECT_EQ(g.next(), std::optional<int>(0));
  EXPECT_EQ(g.send(5), std::optional<int>(5));
  EXPECT_EQ(g.send(10), std::optional<int>(15));
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(g.return_value(), 15);
}

TEST(Generator, send_hands_its_argument_to_the_body_without_copying) {
  counted::reset();
  std::vector<int> ids;
  auto g = [](std::vector<int>& out) -> generator<void, counted> {
    for (;;) {
      counted* c = co_yield {};
      if (!c) co_return;
      counted mine = std::move(*c);
      out.push_back(mine.id);
    }
  }(ids);
  (void)g.next();
  (void)g.send(counted(1));
  counted two(2);
  (void)g.send(std::move(two));
  EXPECT_EQ(ids, (std::vector<int>{1, 2}));
  EXPECT_EQ(counted::copies, 0u);
}

TEST(Generator, void_yield_reports_steps_as_bool) {
  std::vector<std::string> got;
  auto g = [](std::vector<std::string>& out) -> generator<void, std::string> {
    for (;;) {
      std::string* s = co_yield {};
      if (!s) break;
      out.push_back(std::move(*s));  // send()'s own argument: the body may move from it
    }
  }(got);
  EXPECT_TRUE(g.next());
  EXPECT_TRUE(g.send("a"));
  EXPECT_TRUE(g.send("b"));
  EXPECT_FALSE(g.next());  // the body stops on a next()
  EXPECT_FALSE(g.send("c"));
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
}

TEST(Generator, a_generator_can_be_moved_while_suspended) {
  auto g = count_to(4);
  EXPECT_EQ(g.next(), std::optional<int>(0));
  generator<int> h = std::move(g);
  EXPECT_EQ(g.state(), generator_state::closed);  // the moved-from object is empty
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(h.next(), std::optional<int>(1));
  g = std::move(h);
  EXPECT_EQ(g.next(), std::optional<int>(2));
}

TEST(Generator, destroying_frames_runs_destructors_of_locals_and_parameters) {
  counted::reset();
  {
    auto g = [](counted param) -> generator<int> {
      counted local(1);
      co_yield param.id;
      co_yield local.id;
    }(counted(9));
    EXPECT_EQ(g.next(), std::optional<int>(9));
    EXPECT_GT(counted::alive(), 0u);
  }
  EXPECT_EQ(counted::alive(), 0u);
  {
    auto never_started = [](counted) -> generator<int> { co_return; }(counted(2));
    (void)never_started;
  }
  EXPECT_EQ(counted::alive(), 0u);
}

// -- yield_from -------------------------------------------------------------------------

namespace {

generator<int, void, int> pair_then(int a, int r) {
  co_yield a;
  co_yield a + 1;
  co_return r;
}

generator<int, void, int> two_pairs() {
  const int x = co_yield yield_from(pair_then(10, 1));
  const int y = co_yield yield_from(pair_then(20, 2));
  co_yield x + y;
  co_return x * 100 + y;
}

generator<int> nested(int depth, int leaf_values) {
  if (depth == 0) {
    for (int i = 0; i < leaf_values; ++i) co_yield i;
    co_return;
  }
  co_yield -depth;
  co_yield yield_from(nested(depth - 1, leaf_values));
}

}  // namespace

TEST(Generator, yield_from_passes_values_and_returns_the_sub_result) {
  auto g = two_pairs();
  EXPECT_EQ(drain(g), (std::vector<int>{10, 11, 20, 21, 3}));
  EXPECT_EQ(g.return_value(), 102);
}

TEST(Generator, yield_from_nests) {
  auto g = nested(3, 2);
  EXPECT_EQ(drain(g), (std::vector<int>{-3, -2, -1, 0, 1}));
}

TEST(Generator, yield_from_a_named_generator) {
  auto g = []() -> generator<int> {
    generator<int> inner = count_to(3);
    co_yield yield_from(std::move(inner));
    co_yield 99;
  }();
  EXPECT_EQ(drain(g), (std::vector<int>{0, 1, 2, 99}));
}

TEST(Generator, yield_from_an_empty_generator_throws_in_the_body) {
  auto g = []() -> generator<int> {
    generator<int> none;
    bool refused = false;
    try {
      co_yield yield_from(std::move(none));
    } catch (const std::invalid_argument&) {
      refused = true;  // C++ allows no co_yield inside a handler
    }
    if (refused) co_yield -1;
  }();
  EXPECT_EQ(g.next(), std::optional<int>(-1));
}

TEST(Generator, yield_from_a_finished_generator_gives_its_result_at_once) {
  auto g = []() -> generator<int, void, int> {
    auto sub = pair_then(5, 42);
    while (sub.next()) {
    }
    const int r = co_yield yield_from(std::move(sub));
    co_yield r;
    co_return r;
  }();
  EXPECT_EQ(drain(g), (std::vector<int>{42}));
}

TEST(Generator, yield_from_a_generator_that_is_itself_delegating) {
  // The sub-generator is suspended two levels deep; the new root takes over
  // its whole chain.
  auto g = []() -> generator<int> {
    auto sub = nested(2, 3);
    (void)sub.next();  // -2
    (void)sub.next();  // -1
    (void)sub.next();  // 0, from two levels down
    co_yield yield_from(std::move(sub));
    co_yield 100;
  }();
  EXPECT_EQ(drain(g), (std::vector<int>{1, 2, 100}));
}

TEST(Generator, sends_reach_the_innermost_generator) {
  auto inner = []() -> generator<int, int, int> {
    int sum = 0;
    for (int i = 0; i < 3; ++i) {
      int* v = co_yield sum;
      sum += v ? *v : 0;
    }
    co_return sum;
  };
  auto outer = [](auto make_inner) -> generator<int, int, int> {
    const int r = co_yield yield_from(make_inner());
    int* v = co_yield -r;
    co_return r + (v ? *v : 0);
  }(inner);
  EXPECT_EQ(outer.next(), std::optional<int>(0));
  EXPECT_EQ(outer.send(1), std::optional<int>(1));
  EXPECT_EQ(outer.send(2), std::optional<int>(3));
  EXPECT_EQ(outer.send(3), std::optional<int>(-6));  // inner returned 6
  EXPECT_EQ(outer.send(1000), std::nullopt);
  EXPECT_EQ(outer.return_value(), 1006);
}

TEST(Generator, range_for_over_a_delegating_generator) {
  int sum = 0;
  for (int x : nested(5, 10)) sum += x;
  EXPECT_EQ(sum, -15 + 45);
}

TEST(Generator, destroying_a_delegating_generator_destroys_every_level) {
  counted::reset();
  {
    auto level = [](auto& self, int depth) -> generator<int> {
      counted c(depth);
      if (depth == 0) {
        co_yield 0;
        co_yield 1;
      } else {
        co_yield yield_from(self(self, depth - 1));
      }
    };
    auto g = level(level, 5);
    EXPECT_EQ(g.next(), std::optional<int>(0));
    EXPECT_EQ(counted::alive(), 6u);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Generator, generator_frames_come_from_the_frame_pool) {
  // Creating and dropping generators in a loop reuses the same blocks; this
  // only checks that nothing leaks or breaks when frames are recycled.
  long total = 0;
  for (int i = 0; i < 10'000; ++i) {
    auto g = count_to(3);
    for (int x : g) total += x;
  }
  EXPECT_EQ(total, 30'000);
}

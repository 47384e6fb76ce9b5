// Unit tests for the loop's timer structure (wheel + near heap).
#include <corio/detail/timer_wheel.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

using corio::detail::timer_node;
using corio::detail::timer_wheel;

namespace {

std::vector<timer_node*> expire_all(timer_wheel& w, std::int64_t upto) {
  std::vector<timer_node*> out;
  w.expire(upto, [&](timer_node* n) { out.push_back(n); });
  return out;
}

constexpr std::int64_t kMs = 1'000'000;

}  // namespace

TEST(TimerWheel, expires_in_deadline_order_across_levels) {
  timer_wheel w(0);
  std::mt19937_64 rng(42);
  std::vector<timer_node> nodes(5000);
  for (auto& n : nodes) {
    n.when = static_cast<std::int64_t>(rng() % (100'000 * kMs));  // up to 100 s: several levels
    w.insert(&n);
  }
  EXPECT_EQ(w.size(), nodes.size());
  std::vector<timer_node*> got;
  for (std::int64_t t = 0; t <= 100'000 * kMs; t += 7 * kMs) {
    auto part = expire_all(w, t);
    for (auto* n : part) EXPECT_LE(n->when, t);
    got.insert(got.end(), part.begin(), part.end());
  }
  auto rest = expire_all(w, 200'000 * kMs);
  got.insert(got.end(), rest.begin(), rest.end());
  ASSERT_EQ(got.size(), nodes.size());
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](auto* a, auto* b) { return a->when < b->when; }));
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, equal_deadlines_fire_in_arrival_order) {
  timer_wheel w(0);
  std::vector<timer_node> nodes(100);
  for (auto& n : nodes) {
    n.when = 5 * kMs;
    w.insert(&n);
  }
  auto got = expire_all(w, 5 * kMs);
  ASSERT_EQ(got.size(), nodes.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], &nodes[i]);
}

TEST(TimerWheel, removed_timers_never_fire) {
  timer_wheel w(0);
  std::vector<timer_node> nodes(1000);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].when = static_cast<std::int64_t>(i) * kMs;
    w.insert(&nodes[i]);
  }
  for (std::size_t i = 0; i < nodes.size(); i += 2) w.remove(&nodes[i]);
  auto got = expire_all(w, 2000 * kMs);
  ASSERT_EQ(got.size(), 500u);
  for (auto* n : got) EXPECT_EQ((n - nodes.data()) % 2, 1);
  for (auto& n : nodes) EXPECT_FALSE(n.armed());
}

TEST(TimerWheel, a_timer_in_the_past_is_due_at_once) {
  timer_wheel w(1000 * kMs);
  timer_node a, b;
  a.when = -2 * kMs;
  b.when = -1 * kMs;
  w.insert(&b);
  w.insert(&a);
  auto got = expire_all(w, 1000 * kMs);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], &a);  // EL-06: -2 before -1
  EXPECT_EQ(got[1], &b);
}

TEST(TimerWheel, next_deadline_never_after_the_earliest_timer) {
  timer_wheel w(0);
  timer_node n;
  n.when = 3'600'000 * kMs;  // an hour
  w.insert(&n);
  EXPECT_LE(w.next_deadline(), n.when);
  EXPECT_TRUE(expire_all(w, n.when - 1).empty());
  EXPECT_EQ(expire_all(w, n.when).size(), 1u);
}

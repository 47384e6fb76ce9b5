// White-box tests of the loop's set of pending tasks
// (corio/detail/task_registry.hpp).
#include <corio/detail/task_registry.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

using corio::detail::task_base;
using corio::detail::task_registry;

namespace {

// The registry stores pointers and never dereferences them; any even,
// distinct values will do (the low bit marks free slots).
task_base* fake(std::uintptr_t i) { return reinterpret_cast<task_base*>((i + 1) * 16); }

std::multiset<task_base*> contents(const task_registry& r) {
  std::multiset<task_base*> out;
  r.for_each([&](task_base* t) { out.insert(t); });
  return out;
}

}  // namespace

TEST(TaskRegistry, starts_empty) {
  task_registry r;
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(contents(r).empty());
}

TEST(TaskRegistry, add_returns_distinct_slots_and_for_each_sees_every_task_once) {
  task_registry r;
  std::set<std::uint32_t> slots;
  std::multiset<task_base*> added;
  for (std::uintptr_t i = 0; i < 100; ++i) {
    slots.insert(r.add(fake(i)));
    added.insert(fake(i));
  }
  EXPECT_EQ(slots.size(), 100u);
  EXPECT_EQ(r.size(), 100u);
  EXPECT_EQ(contents(r), added);
}

TEST(TaskRegistry, remove_takes_out_only_that_task) {
  task_registry r;
  const std::uint32_t a = r.add(fake(1));
  const std::uint32_t b = r.add(fake(2));
  const std::uint32_t c = r.add(fake(3));
  r.remove(b);
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(contents(r), (std::multiset<task_base*>{fake(1), fake(3)}));
  r.remove(a);
  r.remove(c);
  EXPECT_EQ(r.size(), 0u);
  EXPECT_TRUE(contents(r).empty());
}

TEST(TaskRegistry, freed_slots_are_reused_most_recent_first) {
  task_registry r;
  std::vector<std::uint32_t> s;
  for (std::uintptr_t i = 0; i < 5; ++i) s.push_back(r.add(fake(i)));
  r.remove(s[1]);
  r.remove(s[3]);
  EXPECT_EQ(r.add(fake(10)), s[3]);
  EXPECT_EQ(r.add(fake(11)), s[1]);
  EXPECT_EQ(r.add(fake(12)), 5u) << "with no free slot left, a new one is used";
  EXPECT_EQ(contents(r), (std::multiset<task_base*>{fake(0), fake(10), fake(2), fake(11), fake(4), fake(12)}));
}

TEST(TaskRegistry, grows_past_one_chunk_without_moving_entries) {
  task_registry r;
  const std::uint32_t n = 3 * task_registry::kChunk + 17;
  std::vector<std::uint32_t> slots;
  for (std::uint32_t i = 0; i < n; ++i) slots.push_back(r.add(fake(i)));
  EXPECT_EQ(r.size(), n);
  std::vector<task_base*> seen;
  r.for_each([&](task_base* t) { seen.push_back(t); });
  ASSERT_EQ(seen.size(), n);
  for (std::uint32_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], fake(i)) << "slot order is insertion order here";
  for (std::uint32_t i = 0; i < n; i += 2) r.remove(slots[i]);
  EXPECT_EQ(r.size(), n / 2);
  std::size_t count = 0;
  r.for_each([&](task_base* t) {
    ++count;
    EXPECT_EQ((reinterpret_cast<std::uintptr_t>(t) / 16 - 1) % 2, 1u);
  });
  EXPECT_EQ(count, n / 2);
}

TEST(TaskRegistry, random_adds_and_removes_keep_the_set_exact) {
  task_registry r;
  std::mt19937 rng(3);
  std::vector<std::pair<std::uint32_t, task_base*>> live;
  std::uintptr_t next = 0;
  std::uint32_t high = 0;
  std::size_t peak = 0;
  for (int step = 0; step < 100000; ++step) {
    if (live.empty() || rng() % 5 < 3) {
      task_base* t = fake(next++);
      const std::uint32_t s = r.add(t);
      high = std::max(high, s + 1);
      live.emplace_back(s, t);
    } else {
      const std::size_t i = rng() % live.size();
      r.remove(live[i].first);
      live[i] = live.back();
      live.pop_back();
    }
    ASSERT_EQ(r.size(), live.size());
    peak = std::max(peak, live.size());
  }
  std::multiset<task_base*> expected;
  std::set<std::uint32_t> slots;
  for (auto& [s, t] : live) {
    expected.insert(t);
    slots.insert(s);
  }
  EXPECT_EQ(slots.size(), live.size()) << "no slot handed out twice";
  EXPECT_EQ(contents(r), expected);
  // Free slots are always reused first, so the slots in use never exceed
  // the most tasks alive at once.
  EXPECT_EQ(high, peak);
}

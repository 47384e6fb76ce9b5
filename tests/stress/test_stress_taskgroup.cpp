// Stress: task groups with many children.
#include <corio/taskgroups.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

constexpr std::size_t kManyChildren = 50'000;
constexpr std::size_t kChildrenWithFailure = 20'000;

struct tally {
  std::size_t finished = 0;
  std::size_t cancelled = 0;
};

corio::task<> child(corio::duration d, tally& t) {
  counted local;
  try {
    co_await corio::sleep(d);
  } catch (const corio::cancelled_error&) {
    ++t.cancelled;
    throw;
  }
  ++t.finished;
}

}  // namespace

TEST(StressTaskGroup, fifty_thousand_children_all_finish_before_the_group_ends) {
  counted::reset();
  constexpr std::size_t kChildren = kManyChildren;
  corio::event_loop loop(corio::testing::virtual_time());
  tally t;
  loop.run_until_complete([](tally& tl) -> corio::task<> {
    std::mt19937 rng(5);
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      for (std::size_t i = 0; i < kManyChildren; ++i)
        tg.create_task(child(std::chrono::microseconds(rng() % 10'000'000), tl));
      co_return;
    });
    EXPECT_EQ(tl.finished, kManyChildren) << "run() returns only after every child";
  }(t));
  EXPECT_EQ(t.finished, kChildren);
  EXPECT_EQ(t.cancelled, 0u);
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(StressTaskGroup, one_failure_among_twenty_thousand_children_cancels_the_rest_and_is_the_only_member) {
  counted::reset();
  constexpr std::size_t kChildren = kChildrenWithFailure;
  corio::event_loop loop(corio::testing::virtual_time());
  std::size_t reports = 0;
  loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context&) { ++reports; });
  tally t;
  std::vector<std::string> members;
  std::uint32_t cancelling_after = 99;
  corio::task<> parent = loop.create_task([](tally& tl, std::vector<std::string>& m, std::uint32_t& c) -> corio::task<> {
    std::mt19937 rng(6);
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        for (std::size_t i = 0; i < kChildrenWithFailure; ++i) {
          tg.create_task(child(std::chrono::milliseconds(1 + rng() % 10'000), tl));
          if (i == kChildrenWithFailure / 2) {
            tg.create_task([]() -> corio::task<> {
              co_await corio::sleep(5s);
              throw std::runtime_error("the one failure");
            }());
          }
        }
        co_await corio::sleep(1h);  // the body is cancelled too
      });
    } catch (const corio::exception_group& g) {
      for (const auto& e : g.exceptions()) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          m.push_back(x.what());
        }
      }
    }
    c = corio::current_task().cancelling();
  }(t, members, cancelling_after));
  loop.run_until_complete(parent);
  EXPECT_EQ(members, std::vector<std::string>{"the one failure"});
  EXPECT_EQ(t.finished + t.cancelled, kChildren);
  EXPECT_GT(t.finished, 0u);
  EXPECT_GT(t.cancelled, 0u);
  EXPECT_EQ(loop.time().time_since_epoch(), 5s) << "nothing waited for the cancelled children's deadlines";
  EXPECT_EQ(cancelling_after, 0u);
  EXPECT_FALSE(parent.cancelled());
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(reports, 0u);
}

TEST(StressTaskGroup, a_thousand_nested_groups_unwind_a_failure_at_the_bottom) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  tally t;
  struct nest {
    static corio::task<> level(int depth, tally& tl) {
      co_await corio::task_group::run([depth, &tl](corio::task_group& tg) -> corio::task<> {
        tg.create_task(child(1h, tl));  // a sibling at every level, cancelled by the failure
        if (depth == 0) {
          co_await corio::sleep(1s);
          throw std::runtime_error("bottom");
        }
        co_await level(depth - 1, tl);
      });
    }
  };
  int depth_seen = -1;
  try {
    loop.run_until_complete(nest::level(1000, t));
  } catch (const corio::exception_group& g) {
    // Each level wraps the one below: a chain of single-member groups.
    depth_seen = 0;
    std::exception_ptr cur = g.exceptions().at(0);
    for (;;) {
      try {
        std::rethrow_exception(cur);
      } catch (const corio::exception_group& inner) {
        ++depth_seen;
        cur = inner.exceptions().at(0);
        continue;
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "bottom");
      }
      break;
    }
  }
  EXPECT_EQ(depth_seen, 1000);
  EXPECT_EQ(t.cancelled, 1001u);
  EXPECT_EQ(loop.pending_task_count(), 0u);
  EXPECT_EQ(counted::alive(), 0u);
}

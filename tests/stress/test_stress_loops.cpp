// Stress: many event loops, one after another. Futures and tasks name their
// loop through a small reference; one that outlives its loop must never find
// a later loop in its place, however many loops came and went.
#include <corio/events.hpp>

#include <corio/futures.hpp>
#include <corio/tasks.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

TEST(StressLoops, ten_thousand_loops_with_pending_work_leak_nothing) {
  counted::reset();
  std::size_t reports = 0;
  for (int i = 0; i < 10'000; ++i) {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context&) { ++reports; });
    loop.call_soon([c = counted()] {});
    loop.call_later(1h, [c = counted()] {});
    loop.create_task([](counted) -> corio::task<> { co_await corio::sleep(1h); }(counted()));
    corio::testing::run_briefly(loop);
  }
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(reports, 10'000u) << "each loop reports its one pending task";
}

TEST(StressLoops, a_future_outliving_its_loop_never_sees_a_later_loop) {
  corio::future<int> orphan;
  {
    corio::event_loop first(corio::testing::virtual_time());
    orphan = first.create_future<int>();
  }
  ASSERT_THROW(orphan.get_loop(), std::runtime_error);
  // More loops than a 16-bit generation counter can tell apart, each reusing
  // the slot the first one freed.
  for (int i = 0; i < 70'000; ++i) {
    corio::event_loop later(corio::testing::virtual_time());
    bool sees_later = false;
    try {
      sees_later = &orphan.get_loop() == &later;
    } catch (const std::runtime_error&) {
    }
    ASSERT_FALSE(sees_later) << "after " << i + 1 << " later loops, the orphan future took loop " << i + 1
                             << " for its own";
  }
}

// Unit tests for <corio/testing/loop.hpp>: virtual time and stepping helpers.
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <vector>

using namespace std::chrono_literals;

TEST(TestingLoop, virtual_time_options_ask_for_a_virtual_clock_without_debug) {
  corio::loop_options o = corio::testing::virtual_time();
  EXPECT_EQ(o.clock, corio::clock_kind::virtual_);
  ASSERT_TRUE(o.debug.has_value());
  EXPECT_FALSE(*o.debug);
}

TEST(TestingLoop, virtual_time_starts_at_zero_and_stands_still_while_there_is_work) {
  corio::event_loop loop(corio::testing::virtual_time());
  EXPECT_EQ(loop.time().time_since_epoch(), 0ns);
  for (int i = 0; i < 100; ++i) loop.call_soon([] {});
  corio::testing::run_briefly(loop, 5);
  EXPECT_EQ(loop.time().time_since_epoch(), 0ns);
}

TEST(TestingLoop, an_idle_virtual_loop_jumps_to_the_next_timer) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<corio::duration> seen;
  loop.call_later(std::chrono::hours(24), [&] { seen.push_back(loop.time().time_since_epoch()); });
  loop.call_later(10min, [&] { seen.push_back(loop.time().time_since_epoch()); });
  loop.call_later(std::chrono::hours(25), [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(seen, (std::vector<corio::duration>{10min, std::chrono::hours(24)}));
  EXPECT_EQ(loop.time().time_since_epoch(), std::chrono::hours(25));
}

TEST(TestingLoop, a_ten_minute_sleep_completes_at_exactly_ten_minutes) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> { co_await corio::sleep(10min); }());
  EXPECT_EQ(loop.time().time_since_epoch(), 10min);
}

TEST(TestingLoop, run_briefly_runs_exactly_the_number_of_iterations_asked) {
  corio::event_loop loop(corio::testing::virtual_time());
  int iterations = 0;
  // A callback that reschedules itself runs once per iteration.
  std::function<void()> tick = [&] {
    ++iterations;
    loop.call_soon(tick);
  };
  loop.call_soon(tick);
  corio::testing::run_briefly(loop);
  EXPECT_EQ(iterations, 1);
  corio::testing::run_briefly(loop, 7);
  EXPECT_EQ(iterations, 8);
  loop.close();
}

TEST(TestingLoop, run_briefly_on_an_idle_virtual_loop_does_not_advance_time) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool fired = false;
  loop.call_later(1s, [&] { fired = true; });
  corio::testing::run_briefly(loop, 3);
  EXPECT_FALSE(fired);
  EXPECT_EQ(loop.time().time_since_epoch(), 0ns);
}

TEST(TestingLoop, run_until_stops_as_soon_as_the_predicate_holds) {
  corio::event_loop loop(corio::testing::virtual_time());
  int count = 0;
  std::function<void()> tick = [&] {
    ++count;
    loop.call_soon(tick);
  };
  loop.call_soon(tick);
  EXPECT_TRUE(corio::testing::run_until(loop, [&] { return count >= 10; }));
  EXPECT_EQ(count, 10);
  loop.close();
}

TEST(TestingLoop, run_until_gives_up_after_max_iterations) {
  corio::event_loop loop(corio::testing::virtual_time());
  int count = 0;
  std::function<void()> tick = [&] {
    ++count;
    loop.call_soon(tick);
  };
  loop.call_soon(tick);
  EXPECT_FALSE(corio::testing::run_until(loop, [] { return false; }, 25));
  EXPECT_EQ(count, 25);
  loop.close();
}

TEST(TestingLoop, advance_time_makes_timers_due_on_the_next_iteration) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool fired = false;
  corio::timer_handle h = loop.call_later(5s, [&] { fired = true; });
  loop.advance_time(4s);
  corio::testing::run_briefly(loop);
  EXPECT_FALSE(fired);
  loop.advance_time(1s);
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(fired);
  EXPECT_EQ(loop.time(), h.when());
}

// Unit tests for <corio/locks.hpp>: asyncio.Event so far.
#include <corio/locks.hpp>

#include <corio/gather.hpp>
#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

corio::task<> record_wait(corio::event& ev, std::vector<int>& out, int id) {
  const bool r = co_await ev.wait();
  out.push_back(r ? id : -id);
}

}  // namespace

TEST(Event, wait_on_a_set_event_returns_true_without_suspending) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  ev.set();
  EXPECT_TRUE(ev.is_set());
  int steps = 0;
  auto t = loop.create_task([](corio::event& e, int& s) -> corio::task<bool> {
    const bool r = co_await e.wait();
    ++s;
    co_return r;
  }(ev, steps));
  corio::testing::run_briefly(loop);  // one step: no suspension needed
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.result());
  EXPECT_EQ(steps, 1);
}

TEST(Event, set_wakes_every_waiter_in_arrival_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  std::vector<int> order;
  for (int i = 1; i <= 5; ++i) loop.create_task(record_wait(ev, order, i));
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(order.empty());
  ev.set();
  ev.clear();  // SY-07: clearing after set does not un-wake the waiters
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(ev.is_set());
}

TEST(Event, cancelled_waiter_leaves_no_trace_and_sees_cancelled_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  std::vector<int> order;
  auto a = loop.create_task(record_wait(ev, order, 1));
  auto b = loop.create_task(record_wait(ev, order, 2));
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(a.cancel("stop"));
  corio::testing::run_briefly(loop);
  ASSERT_TRUE(a.done());
  EXPECT_TRUE(a.cancelled());
  try {
    a.result();
    FAIL() << "a cancelled task's result() must throw";
  } catch (const corio::cancelled_error& e) {
    EXPECT_EQ(std::string(e.what()), "stop");
  }
  ev.set();
  corio::testing::run_briefly(loop);
  EXPECT_EQ(order, std::vector<int>{2});
  EXPECT_TRUE(b.done());
}

TEST(Event, waits_work_under_a_timeout) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event ev;
  auto t = loop.create_task([](corio::event& e) -> corio::task<bool> {
    try {
      co_await corio::wait_for(
          [](corio::event& e2) -> corio::task<> { co_await e2.wait(); }(e), 50ms);
    } catch (const corio::timeout_error&) {
      co_return false;
    }
    co_return true;
  }(ev));
  EXPECT_FALSE(loop.run_until_complete(t));
  EXPECT_EQ(loop.time().time_since_epoch(), 50ms);
}

TEST(Event, an_event_used_from_two_loops_is_an_error) {
  corio::event ev;
  {
    corio::event_loop first(corio::testing::virtual_time());
    auto t = first.create_task([](corio::event& e) -> corio::task<> { co_await e.wait(); }(ev));
    corio::testing::run_briefly(first);
    corio::event_loop second(corio::testing::virtual_time());
    auto u = second.create_task([](corio::event& e) -> corio::task<> { co_await e.wait(); }(ev));
    EXPECT_THROW(second.run_until_complete(u), std::runtime_error);  // SY-01
    t.cancel();
    corio::testing::run_briefly(first);
    EXPECT_TRUE(t.cancelled());
  }
}

TEST(Event, two_tasks_ping_pong) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::event a, b;
  constexpr int kRounds = 1000;
  int pongs = 0;
  auto ping = [](corio::event& x, corio::event& y) -> corio::task<> {
    for (int i = 0; i < kRounds; ++i) {
      x.set();
      co_await y.wait();
      y.clear();
    }
  };
  auto pong = [](corio::event& x, corio::event& y, int& n) -> corio::task<> {
    for (int i = 0; i < kRounds; ++i) {
      co_await x.wait();
      x.clear();
      ++n;
      y.set();
    }
  };
  loop.run_until_complete([&]() -> corio::task<> { co_await corio::gather(ping(a, b), pong(a, b, pongs)); }());
  EXPECT_EQ(pongs, kRounds);
}

// Task and future handles kept after their loop was closed or destroyed:
// cancel() and set_result() used to crash on a destroyed loop (a null loop
// dereferenced on the way to waking the awaiting task) and, on a closed one,
// to leave the task pending for ever without a word. Python raises
// RuntimeError("Event loop is closed"); so does corio now, before anything
// changes.
#include <corio/corio.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <string>

#include "error_util.hpp"

using namespace std::chrono_literals;
using corio_test::error_of;
using corio_test::holds;
using corio_test::message_of;

namespace {

corio::task<> sleeper() { co_await corio::sleep(1h); }
corio::task<> waiter(corio::future<int> f) { co_await f; }
corio::task<> tick() { co_await corio::sleep(1ms); }

bool says_loop_closed(const std::exception_ptr& e) {
  return holds<std::runtime_error>(e) && message_of(e).rfind("Event loop is closed", 0) == 0;
}

TEST(HandlesAfterTheirLoop, cancel_of_a_task_whose_loop_is_closed_raises_event_loop_is_closed) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> t = loop.create_task(sleeper());
  loop.run_until_complete(tick());
  loop.close();
  const auto e = error_of([&] { t.cancel(); });
  EXPECT_TRUE(says_loop_closed(e)) << message_of(e);
  EXPECT_NE(message_of(e).find(t.get_name()), std::string::npos) << message_of(e);
  EXPECT_FALSE(t.done());
}

TEST(HandlesAfterTheirLoop, cancel_of_a_task_whose_loop_is_destroyed_raises_instead_of_crashing) {
  corio::task<> t;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    t = loop.create_task(sleeper());
    loop.run_until_complete(tick());
  }
  EXPECT_TRUE(says_loop_closed(error_of([&] { t.cancel(); })));
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(says_loop_closed(error_of([&] { t.cancel("again"); })));
}

TEST(HandlesAfterTheirLoop, cancel_of_a_never_started_task_of_a_closed_loop_raises) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> t = loop.create_task(sleeper());
  loop.close();
  EXPECT_TRUE(says_loop_closed(error_of([&] { t.cancel(); })));
}

TEST(HandlesAfterTheirLoop, cancel_of_a_done_task_after_its_loop_is_gone_is_false) {
  corio::task<> t;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    t = loop.create_task(tick());
    loop.run_until_complete(t);
  }
  EXPECT_FALSE(t.cancel());
  EXPECT_TRUE(t.done());
}

TEST(HandlesAfterTheirLoop, set_result_on_an_awaited_future_after_its_loop_is_destroyed_raises) {
  corio::future<int> f;
  corio::task<> t;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    f = loop.create_future<int>();
    t = loop.create_task(waiter(f));
    loop.run_until_complete(tick());
  }
  EXPECT_TRUE(says_loop_closed(error_of([&] { f.set_result(1); })));
  EXPECT_TRUE(says_loop_closed(error_of([&] { f.set_exception(std::runtime_error("x")); })));
  EXPECT_TRUE(says_loop_closed(error_of([&] { f.cancel(); })));
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(t.done());
}

TEST(HandlesAfterTheirLoop, set_result_on_an_awaited_future_after_its_loop_is_closed_raises) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> f = loop.create_future<int>();
  corio::task<> t = loop.create_task(waiter(f));
  loop.run_until_complete(tick());
  loop.close();
  EXPECT_TRUE(says_loop_closed(error_of([&] { f.set_result(1); })));
  EXPECT_FALSE(f.done());
}

TEST(HandlesAfterTheirLoop, a_future_nobody_awaits_can_still_be_completed_after_its_loop_is_gone) {
  // Python too: set_result with no callbacks to schedule does not need the loop.
  corio::future<int> f;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    f = loop.create_future<int>();
  }
  f.set_result(5);
  EXPECT_EQ(f.result(), 5);
}

TEST(HandlesAfterTheirLoop, add_done_callback_after_the_loop_is_gone_raises) {
  corio::future<int> f;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    f = loop.create_future<int>();
  }
  f.set_result(1);
  EXPECT_TRUE(holds<std::runtime_error>(error_of([&] { f.add_done_callback([](corio::future<int>&) {}); })));
}

}  // namespace

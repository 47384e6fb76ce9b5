// `loop.call_soon(work)` with `corio::task<> work()` compiled, created the
// coroutine and dropped it: its body never ran (Python: TypeError). Every
// callback API whose callback's result is dropped now refuses such a callback
// at compile time; compile_fail/callback_returning_a_coroutine.cpp checks each
// message. Here: the spelling the messages point to runs the coroutine.
#include <corio/events.hpp>
#include <corio/futures.hpp>
#include <corio/tasks.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>

#include "loop_util.hpp"

using namespace std::chrono_literals;

namespace {

corio::task<> work(int& ran) {
  ++ran;
  co_return;
}

}  // namespace

TEST(CallbackReturningACoroutine, scheduling_it_with_create_task_in_the_callback_runs_its_body) {
  corio::event_loop loop(corio::testing::virtual_time());
  int ran = 0;
  loop.run_until_complete(corio_test::bounded([](corio::event_loop& l, int& r) -> corio::task<> {
    l.call_soon([&l, &r] { l.create_task(work(r)); });
    l.call_later(1ms, [&l, &r] { l.create_task(work(r)); });
    l.call_soon_threadsafe([&l, &r] { l.create_task(work(r)); });
    corio::future<int> f = l.create_future<int>();
    f.add_done_callback([&l, &r](corio::future<int>&) { l.create_task(work(r)); });
    f.set_result(1);
    co_await corio::sleep(10ms);
  }(loop, ran)));
  EXPECT_EQ(ran, 4);
}

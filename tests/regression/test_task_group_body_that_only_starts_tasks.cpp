// A task_group body that only starts tasks (Python: `async with TaskGroup()
// as tg: for ...: tg.create_task(...)`) has nothing to await; written
// `-> corio::task<>` without a trailing `co_return;` it is not a coroutine but
// a function that falls off its end: undefined behaviour that hung (g++ only
// warns). Such a body is now written as a plain function returning void,
// which task_group::run accepts.
#include <corio/taskgroups.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "error_util.hpp"
#include "loop_util.hpp"

using namespace std::chrono_literals;
using corio_test::bounded;

namespace {

corio::task<> add_after(corio::duration d, int i, int& sum) {
  co_await corio::sleep(d);
  sum += i;
}

corio::task<> fail_after(corio::duration d, std::string what) {
  co_await corio::sleep(d);
  throw std::runtime_error(what);
}

corio::task<> sleep_long(int& cancelled) {
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
    ++cancelled;
    throw;
  }
}

// The first exception an exception_group in `e` holds.
std::exception_ptr first_in_group(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const corio::base_exception_group& g) {
    return g.exceptions().empty() ? nullptr : g.exceptions().front();
  } catch (...) {
    return nullptr;
  }
}

template <class F>
concept group_body = requires(F f) { corio::task_group::run(std::move(f)); };

}  // namespace

// The body with no co_await and no co_return is a plain function returning void.
static_assert(group_body<void (*)(corio::task_group&)>);
static_assert(group_body<void (*)()>);
static_assert(group_body<corio::task<> (*)(corio::task_group&)>);

TEST(TaskGroupPlainBody, a_void_body_that_only_starts_tasks_waits_for_all_of_them) {
  corio::event_loop loop(corio::testing::virtual_time());
  int sum = 0;
  loop.run_until_complete(bounded([](int& s) -> corio::task<> {
    co_await corio::task_group::run([&s](corio::task_group& tg) {
      for (int i = 0; i < 3; ++i) tg.create_task(add_after(std::chrono::milliseconds(1 + i), i, s));
    });
    EXPECT_EQ(s, 3);  // every child finished before run() returned
  }(sum)));
  EXPECT_EQ(sum, 3);
}

TEST(TaskGroupPlainBody, a_void_body_without_the_group_parameter_is_accepted) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  loop.run_until_complete(bounded([](bool& r) -> corio::task<> {
    co_await corio::task_group::run([&r] { r = true; });
  }(ran)));
  EXPECT_TRUE(ran);
}

TEST(TaskGroupPlainBody, a_child_failing_after_a_void_body_cancels_the_others_and_is_grouped) {
  corio::event_loop loop(corio::testing::virtual_time());
  int cancelled = 0;
  std::exception_ptr err;
  loop.run_until_complete(bounded([](int& c, std::exception_ptr& e) -> corio::task<> {
    try {
      co_await corio::task_group::run([&c](corio::task_group& tg) {
        tg.create_task(sleep_long(c));
        tg.create_task(fail_after(1ms, "child failed"));
      });
    } catch (...) {
      e = std::current_exception();
    }
  }(cancelled, err)));
  ASSERT_TRUE(corio_test::holds<corio::exception_group>(err));
  EXPECT_EQ(cancelled, 1);
}

TEST(TaskGroupPlainBody, a_void_body_that_throws_cancels_its_children_and_is_grouped) {
  corio::event_loop loop(corio::testing::virtual_time());
  int cancelled = 0;
  std::exception_ptr err;
  corio::any_task child;
  loop.run_until_complete(bounded([](int& c, std::exception_ptr& e, corio::any_task& ch) -> corio::task<> {
    try {
      co_await corio::task_group::run([&c, &ch](corio::task_group& tg) {
        ch = tg.create_task(sleep_long(c));
        throw std::runtime_error("body failed");
      });
    } catch (...) {
      e = std::current_exception();
    }
  }(cancelled, err, child)));
  ASSERT_TRUE(corio_test::holds<corio::exception_group>(err));
  EXPECT_EQ(corio_test::message_of(first_in_group(err)), "body failed");
  EXPECT_TRUE(child.cancelled());  // cancelled before its first step, as in Python
}

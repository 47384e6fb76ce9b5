// Unit tests for <corio/runners.hpp>: corio::run and corio::runner.
#include <corio/runners.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<int> add(int a, int b) {
  co_await corio::sleep(0s);
  co_return a + b;
}

}  // namespace

// -- run ------------------------------------------------------------------------------

TEST(Run, returns_the_result_of_main) {
  EXPECT_EQ(corio::run(value_after(1ms, 5)), 5);
}

TEST(Run, rethrows_the_exception_of_main) {
  EXPECT_THROW(corio::run([]() -> corio::task<> {
                 co_await corio::sleep(0s);
                 throw std::domain_error("main failed");
               }()),
               std::domain_error);
}

TEST(Run, accepts_a_callable_and_its_arguments) {
  EXPECT_EQ(corio::run(add, 2, 3), 5);
  EXPECT_EQ(corio::run([](int x) { return add(x, x); }, 4), 8);
}

TEST(Run, a_move_only_result_is_returned) {
  std::unique_ptr<int> p = corio::run([]() -> corio::task<std::unique_ptr<int>> {
    co_await corio::sleep(0s);
    co_return std::make_unique<int>(1);
  }());
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 1);
}

TEST(Run, runs_on_a_virtual_clock_when_asked) {
  // An hour of loop time costs nothing on a virtual clock.
  EXPECT_EQ(corio::run(value_after(std::chrono::hours(1), 2), corio::testing::virtual_time()), 2);
}

TEST(Run, from_inside_a_running_loop_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool threw = false;
  bool inner_ran = false;
  loop.run_until_complete([](bool& t, bool& r) -> corio::task<> {
    try {
      corio::run([](bool& flag) -> corio::task<> {
        flag = true;
        co_return;
      }(r));
    } catch (const std::runtime_error&) {
      t = true;
    }
    co_return;
  }(threw, inner_ran));
  EXPECT_TRUE(threw);
  EXPECT_FALSE(inner_ran);
}

TEST(Run, cancels_the_tasks_left_behind_and_waits_for_their_cleanup) {
  counted::reset();
  int cleanups = 0;
  corio::run(
      [](int& c) -> corio::task<> {
        for (int i = 0; i < 3; ++i) {
          corio::create_task([](int& n) -> corio::task<> {
            counted local;
            try {
              co_await corio::sleep(std::chrono::hours(1));
            } catch (const corio::cancelled_error&) {
              ++n;
              throw;
            }
          }(c));
        }
        co_await corio::sleep(0s);
      }(cleanups),
      corio::testing::virtual_time());
  EXPECT_EQ(cleanups, 3);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Run, errors_of_tasks_left_behind_go_to_the_exception_handler) {
  std::vector<corio::exception_context> seen;
  corio::run(
      [](std::vector<corio::exception_context>& log) -> corio::task<> {
        corio::get_running_loop().set_exception_handler(
            [&log](corio::event_loop&, const corio::exception_context& c) { log.push_back(c); });
        corio::create_task([]() -> corio::task<> {
          try {
            co_await corio::sleep(std::chrono::hours(1));
          } catch (const corio::cancelled_error&) {
          }
          throw std::runtime_error("failed while shutting down");
        }(), corio::task_options{"straggler"});
        co_await corio::sleep(0s);
      }(seen),
      corio::testing::virtual_time());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].message, "unhandled exception during asyncio.run() shutdown");
  EXPECT_EQ(seen[0].task, "straggler");
}

// -- runner ---------------------------------------------------------------------------

TEST(Runner, reuses_one_loop_across_runs) {
  corio::runner r(corio::testing::virtual_time());
  corio::event_loop* first = &r.get_loop();
  EXPECT_EQ(r.run(value_after(1s, 1)), 1);
  corio::event_loop* during = nullptr;
  r.run([](corio::event_loop*& l) -> corio::task<> {
    l = &corio::get_running_loop();
    co_return;
  }(during));
  EXPECT_EQ(first, during);
  EXPECT_EQ(r.run(value_after(1s, 2)), 2);
  EXPECT_EQ(r.get_loop().time().time_since_epoch(), 2s) << "time carries over from one run to the next";
}

TEST(Runner, a_task_started_in_one_run_continues_in_the_next) {
  corio::runner r(corio::testing::virtual_time());
  corio::task<int> background;
  r.run([](corio::task<int>& bg) -> corio::task<> {
    bg = corio::create_task(value_after(5s, 7));
    co_return;
  }(background));
  EXPECT_FALSE(background.done());
  EXPECT_EQ(r.run([](corio::task<int> bg) -> corio::task<int> { co_return co_await bg; }(background)), 7);
}

TEST(Runner, close_is_idempotent_and_run_after_close_throws_runtime_error) {
  corio::runner r(corio::testing::virtual_time());
  EXPECT_EQ(r.run(value_after(0s, 1)), 1);
  r.close();
  r.close();
  EXPECT_THROW(r.run(value_after(0s, 1)), std::runtime_error);
  EXPECT_THROW(r.get_loop(), std::runtime_error);
}

TEST(Runner, close_cancels_what_is_left) {
  counted::reset();
  int cancelled = 0;
  {
    corio::runner r(corio::testing::virtual_time());
    r.run([](int& c) -> corio::task<> {
      corio::create_task([](int& n) -> corio::task<> {
        counted local;
        try {
          co_await corio::sleep(std::chrono::hours(1));
        } catch (const corio::cancelled_error&) {
          ++n;
          throw;
        }
      }(c));
      co_await corio::sleep(0s);  // let it start, so that it has something to clean up
    }(cancelled));
    EXPECT_EQ(counted::alive(), 1u) << "the task outlives the run that started it";
  }
  EXPECT_EQ(cancelled, 1) << "the destructor closes the runner";
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(Runner, closing_an_unused_runner_creates_no_loop) {
  corio::runner r;
  r.close();
  EXPECT_THROW(r.get_loop(), std::runtime_error);
}

TEST(Runner, run_from_inside_its_own_loop_throws_runtime_error) {
  corio::runner r(corio::testing::virtual_time());
  bool threw = r.run([](corio::runner& self) -> corio::task<bool> {
    try {
      self.run(value_after(0s, 1));
    } catch (const std::runtime_error&) {
      co_return true;
    }
    co_return false;
  }(r));
  EXPECT_TRUE(threw);
}

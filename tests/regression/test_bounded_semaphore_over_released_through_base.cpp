// A bounded semaphore used through a plain `semaphore&` (code written for any
// semaphore) lost its bound: release() was not virtual and the bounded one
// only hid it, so an over-release went unnoticed. Python's BoundedSemaphore
// raises ValueError whichever way it is reached.
#include <corio/locks.hpp>
#include <corio/testing/loop.hpp>
#include <corio/threading/semaphore.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

#include "error_util.hpp"
#include "loop_util.hpp"

using corio_test::bounded;
using corio_test::error_of;
using corio_test::holds;
using corio_test::message_of;

namespace {

// Written for any asyncio semaphore.
corio::task<> acquire_then_release_twice(corio::semaphore& sem) {
  co_await sem.acquire();
  sem.release();
  sem.release();
}

}  // namespace

TEST(BoundedSemaphoreThroughBase, asyncio_over_release_through_semaphore_ref_throws_and_keeps_the_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::bounded_semaphore bsem(1);
  std::exception_ptr err;
  loop.run_until_complete(bounded([](corio::semaphore& sem, std::exception_ptr& e) -> corio::task<> {
    try {
      co_await acquire_then_release_twice(sem);
    } catch (...) {
      e = std::current_exception();
    }
  }(bsem, err)));
  ASSERT_TRUE(holds<std::invalid_argument>(err));
  EXPECT_EQ(message_of(err), "BoundedSemaphore released too many times");
  EXPECT_EQ(bsem.value(), 1);
}

TEST(BoundedSemaphoreThroughBase, asyncio_plain_semaphore_through_the_same_code_may_go_above_its_start) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::semaphore sem(1);
  loop.run_until_complete(bounded(acquire_then_release_twice(sem)));
  EXPECT_EQ(sem.value(), 2);  // Python: Semaphore has no bound
}

TEST(BoundedSemaphoreThroughBase, asyncio_release_up_to_the_bound_through_base_wakes_a_waiter) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::bounded_semaphore bsem(1);
  corio::semaphore& sem = bsem;
  bool got = false;
  loop.run_until_complete(bounded([](corio::semaphore& s, bool& g) -> corio::task<> {
    co_await s.acquire();
    auto waiter = corio::create_task([](corio::semaphore& s2, bool& g2) -> corio::task<> {
      co_await s2.acquire();
      g2 = true;
      s2.release();
    }(s, g));
    co_await corio_test::yield_once();
    s.release();  // the permit goes to the waiter
    co_await waiter;
  }(sem, got)));
  EXPECT_TRUE(got);
  EXPECT_EQ(bsem.value(), 1);
  EXPECT_TRUE(holds<std::invalid_argument>(error_of([&] { sem.release(); })));
}

TEST(BoundedSemaphoreThroughBase, threading_over_release_through_semaphore_ref_throws_and_keeps_the_value) {
  corio::threading::bounded_semaphore bsem(2);
  corio::threading::semaphore& sem = bsem;
  ASSERT_TRUE(sem.acquire(false));
  sem.release();
  const auto err = error_of([&] { sem.release(); });
  ASSERT_TRUE(holds<std::invalid_argument>(err));
  EXPECT_EQ(message_of(err), "Semaphore released too many times");
  EXPECT_TRUE(holds<std::invalid_argument>(error_of([&] { sem.release(3); })));
  EXPECT_EQ(sem.value(), 2);
}

TEST(BoundedSemaphoreThroughBase, threading_plain_semaphore_through_the_same_code_may_go_above_its_start) {
  corio::threading::semaphore sem(1);
  sem.release(2);
  EXPECT_EQ(sem.value(), 3);
}

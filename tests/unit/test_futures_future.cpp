// Unit tests for <corio/futures/future.hpp>: corio::futures::future<T>, the
// thread-safe future of concurrent.futures: states, results, blocking and
// timed waits, take_result, done callbacks, identity.
#include <corio/futures/future.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "threading_util.hpp"
#include "unit/counted.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace cf = corio::futures;
using corio_test::counted;
using corio_test::later;
using corio_test::on_time;
using corio_test::steady;
using corio_test::what_of;

// -- construction and states -------------------------------------------------------

TEST(FuturesFuture, a_new_future_is_pending) {
  cf::future<int> f;
  EXPECT_TRUE(f.valid());
  EXPECT_FALSE(f.done());
  EXPECT_FALSE(f.running());
  EXPECT_FALSE(f.cancelled());
}

TEST(FuturesFuture, copies_are_the_same_future_and_hash_alike) {
  cf::future<int> a;
  cf::future<int> b = a;
  cf::future<int> c;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  EXPECT_EQ(a.id(), b.id());
  std::unordered_set<cf::future<int>> set{a, b, c};
  EXPECT_EQ(set.size(), 2u);
  b.set_result(4);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(a.result(), 4);
}

TEST(FuturesFuture, a_moved_from_handle_is_empty) {
  cf::future<int> a;
  cf::future<int> b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the documented state
  EXPECT_FALSE(static_cast<bool>(a));
  EXPECT_TRUE(b.valid());
  a = b;
  EXPECT_TRUE(a == b);
}

TEST(FuturesFuture, set_running_moves_pending_to_running_once) {
  cf::future<int> f;
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  EXPECT_TRUE(f.running());
  EXPECT_FALSE(f.done());
  EXPECT_THROW(f.set_running_or_notify_cancel(), corio::invalid_state_error);
  f.set_result(1);
  EXPECT_FALSE(f.running());
  EXPECT_THROW(f.set_running_or_notify_cancel(), corio::invalid_state_error);
}

TEST(FuturesFuture, set_running_on_a_cancelled_future_returns_false_once) {
  cf::future<> f;
  EXPECT_TRUE(f.cancel());
  EXPECT_FALSE(f.set_running_or_notify_cancel());
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(f.cancel());  // still cancelled (CANCELLED_AND_NOTIFIED)
  EXPECT_THROW(f.set_running_or_notify_cancel(), corio::invalid_state_error);
}

// -- results -----------------------------------------------------------------------

TEST(FuturesFuture, result_returns_the_value_by_reference_every_time) {
  cf::future<std::string> f;
  f.set_result("abc");
  const std::string& a = f.result();
  const std::string& b = f.result();
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(a, "abc");
  EXPECT_EQ(f.exception(), nullptr);
}

TEST(FuturesFuture, set_result_builds_the_value_from_several_arguments) {
  cf::future<std::string> f;
  f.set_result(3u, 'x');
  EXPECT_EQ(f.result(), "xxx");
}

TEST(FuturesFuture, a_throwing_value_constructor_leaves_the_future_pending) {
  struct picky {
    explicit picky(int v) {
      if (v < 0) throw std::invalid_argument("negative");
    }
  };
  cf::future<picky> f;
  EXPECT_THROW(f.set_result(-1), std::invalid_argument);
  EXPECT_FALSE(f.done());
  f.set_result(1);
  EXPECT_TRUE(f.done());
}

TEST(FuturesFuture, a_void_future_finishes_without_a_value) {
  cf::future<> f;
  f.set_result();
  EXPECT_TRUE(f.done());
  EXPECT_NO_THROW(f.result());
  EXPECT_NO_THROW(f.take_result());
  EXPECT_EQ(f.exception(), nullptr);
  EXPECT_THROW(f.set_result(), corio::invalid_state_error);
}

TEST(FuturesFuture, set_exception_accepts_an_exception_object_or_pointer) {
  cf::future<int> f;
  f.set_exception(std::runtime_error("bad"));
  EXPECT_EQ(what_of<std::runtime_error>([&] { f.result(); }), "bad");
  cf::future<int> g;
  g.set_exception(std::make_exception_ptr(std::logic_error("worse")));
  EXPECT_THROW(g.result(), std::logic_error);
  EXPECT_THROW(std::rethrow_exception(g.exception()), std::logic_error);
}

TEST(FuturesFuture, a_null_exception_is_refused) {
  cf::future<int> f;
  EXPECT_THROW(f.set_exception(std::exception_ptr()), std::invalid_argument);
  EXPECT_FALSE(f.done());
}

TEST(FuturesFuture, take_result_moves_a_move_only_value_out_once) {
  cf::future<std::unique_ptr<int>> f;
  f.set_result(std::make_unique<int>(7));
  EXPECT_EQ(*f.result(), 7);
  std::unique_ptr<int> p = f.take_result();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 7);
  EXPECT_THROW(f.take_result(), corio::invalid_state_error);
  EXPECT_THROW(f.result(), corio::invalid_state_error);
  EXPECT_EQ(f.exception(), nullptr);  // it did succeed
}

TEST(FuturesFuture, take_result_rethrows_a_stored_exception_and_can_repeat) {
  cf::future<std::unique_ptr<int>> f;
  f.set_exception(std::runtime_error("x"));
  EXPECT_THROW(f.take_result(), std::runtime_error);
  EXPECT_THROW(f.take_result(), std::runtime_error);
}

TEST(FuturesFuture, the_value_is_destroyed_with_the_last_handle) {
  counted::reset();
  {
    cf::future<counted> f;
    f.set_result(5);
    cf::future<counted> g = f;
    f = cf::future<counted>();
    EXPECT_EQ(counted::alive(), 1u);
    EXPECT_EQ(g.result().id, 5);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(FuturesFuture, a_value_type_with_large_alignment_is_stored_aligned) {
  struct alignas(64) wide {
    int v;
  };
  cf::future<wide> f;
  f.set_result(wide{3});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&f.result()) % 64, 0u);
  EXPECT_EQ(f.result().v, 3);
}

// -- blocking and timeouts ---------------------------------------------------------

TEST(FuturesFuture, result_blocks_until_another_thread_sets_it) {
  corio_test::watchdog dog(20s, "result_blocks_until_another_thread_sets_it");
  cf::future<int> f;
  later t([&] { f.set_result(42); });
  EXPECT_EQ(f.result(), 42);
}

TEST(FuturesFuture, many_threads_blocked_on_one_future_all_wake) {
  corio_test::watchdog dog(20s, "many_threads_blocked_on_one_future_all_wake");
  cf::future<int> f;
  std::atomic<int> woke{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      if (f.result() == 9) ++woke;
    });
  std::this_thread::sleep_for(10ms);
  f.set_result(9);
  for (auto& t : ts) t.join();
  EXPECT_EQ(woke.load(), 4);
}

TEST(FuturesFuture, result_with_a_timeout_throws_timeout_error_in_bounded_time) {
  cf::future<int> f;
  const auto t0 = steady::now();
  EXPECT_THROW(f.result(50ms), corio::timeout_error);
  const auto elapsed = steady::now() - t0;
  EXPECT_TRUE(on_time(elapsed, 50ms));
  EXPECT_FALSE(f.done());  // a timeout cancels nothing
  EXPECT_FALSE(f.cancelled());
}

TEST(FuturesFuture, zero_or_negative_timeouts_only_check) {
  cf::future<int> f;
  EXPECT_THROW(f.result(0s), corio::timeout_error);
  EXPECT_THROW(f.result(-5s), corio::timeout_error);
  EXPECT_THROW(f.exception(0ms), corio::timeout_error);
  EXPECT_THROW(f.take_result(0ms), corio::timeout_error);
  f.set_result(1);
  EXPECT_EQ(f.result(0s), 1);
  EXPECT_EQ(f.result(-1s), 1);
  EXPECT_EQ(f.exception(0s), nullptr);
}

TEST(FuturesFuture, huge_timeouts_do_not_overflow) {
  cf::future<int> f;
  f.set_result(3);
  EXPECT_EQ(f.result(std::chrono::hours::max()), 3);
  EXPECT_EQ(f.result(std::chrono::nanoseconds::max()), 3);
  EXPECT_EQ(f.result(std::chrono::duration<double>(1e300)), 3);
}

TEST(FuturesFuture, a_timed_result_returns_when_set_before_the_deadline) {
  corio_test::watchdog dog(20s, "a_timed_result_returns_when_set_before_the_deadline");
  cf::future<int> f;
  later t([&] { f.set_result(8); });
  EXPECT_EQ(f.result(10s), 8);
}

TEST(FuturesFuture, cancel_wakes_a_blocked_result_with_cancelled_error) {
  corio_test::watchdog dog(20s, "cancel_wakes_a_blocked_result_with_cancelled_error");
  cf::future<int> f;
  later t([&] { f.cancel(); });
  EXPECT_THROW(f.result(10s), corio::cancelled_error);
}

// -- done callbacks ----------------------------------------------------------------

TEST(FuturesFuture, callbacks_receive_the_future_itself) {
  cf::future<int> f;
  cf::future<int> seen = cf::future<int>();
  f.add_done_callback([&](const cf::future<int>& g) { seen = g; });
  f.set_result(3);
  EXPECT_TRUE(seen == f);
  // By-value parameters work too.
  int v = 0;
  f.add_done_callback([&](cf::future<int> g) { v = g.result(); });
  EXPECT_EQ(v, 3);
}

TEST(FuturesFuture, a_move_only_callback_is_accepted_and_destroyed_after_running) {
  counted::reset();
  cf::future<> f;
  auto payload = std::make_unique<counted>(1);
  int ran = 0;
  f.add_done_callback([p = std::move(payload), &ran](const cf::future<>&) { ran += p->id; });
  EXPECT_EQ(counted::alive(), 1u);
  f.set_result();
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(FuturesFuture, callbacks_of_a_future_never_completed_are_destroyed_unrun) {
  counted::reset();
  int ran = 0;
  {
    cf::future<int> f;
    f.add_done_callback([c = counted(1), &ran](const cf::future<int>&) { ++ran; });
    EXPECT_EQ(counted::alive(), 1u);
  }
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(ran, 0);
}

TEST(FuturesFuture, a_throwing_callback_is_reported_on_stderr) {
  cf::future<int> f;
  f.add_done_callback([](const cf::future<int>&) { throw std::runtime_error("callback broke"); });
  testing::internal::CaptureStderr();
  f.set_result(1);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("exception calling callback"), std::string::npos) << err;
  EXPECT_NE(err.find("callback broke"), std::string::npos) << err;
}

TEST(FuturesFuture, a_cancellation_thrown_by_a_callback_is_contained_too) {
  cf::future<int> f;
  int later = 0;
  f.add_done_callback([](const cf::future<int>&) { throw corio::cancelled_error("odd"); });
  f.add_done_callback([&](const cf::future<int>&) { ++later; });
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(f.set_result(1));
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(later, 1);
}

TEST(FuturesFuture, a_callback_registered_from_a_callback_runs_at_once) {
  cf::future<int> f;
  std::vector<int> order;
  f.add_done_callback([&](const cf::future<int>& g) {
    order.push_back(1);
    cf::future<int> h = g;
    h.add_done_callback([&](const cf::future<int>&) { order.push_back(2); });
    order.push_back(3);
  });
  f.set_result(0);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(FuturesFuture, a_callback_may_drop_the_last_other_handle) {
  auto holder = std::make_unique<cf::future<int>>();
  cf::future<int> f = *holder;
  f.add_done_callback([&](const cf::future<int>&) { holder.reset(); });
  f.set_result(2);
  EXPECT_FALSE(holder);
  EXPECT_EQ(f.result(), 2);
}

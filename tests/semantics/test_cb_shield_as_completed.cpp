// Semantic tests for docs/semantics.md section 5, shield (CB-30..CB-32) and
// as_completed (CB-33..CB-35).
//
// Rules without a runtime test here:
//   CB-35  Passing a single future or coroutine to as_completed is a
//          TypeError in Python; corio::as_completed only takes a std::vector
//          of tasks or futures, so the mistake does not compile.
#include "cb_util.hpp"

#include <corio/gather.hpp>
#include <corio/shield.hpp>
#include <corio/wait.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using cbt::now_ms;
using cbt::outcome_of;

namespace {

corio::task<std::string> text_after(corio::duration d, std::string s) {
  co_await corio::sleep(d);
  co_return s;
}

}  // namespace

// -- shield ------------------------------------------------------------------------

TEST(CB, CB_30_cancelling_the_task_awaiting_a_shield_leaves_the_inner_running) {
  // CPython's test_shield_effect.
  corio::event_loop loop(corio::testing::virtual_time());
  int proof = 0;
  auto waiter = loop.create_future<void>();
  auto inner = [&]() -> corio::task<> {
    co_await waiter;
    proof += 1;
  };
  auto outer = [&]() -> corio::task<> {
    co_await corio::shield(inner());
    proof += 100;
  };
  auto f = loop.create_task(outer());
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(f.cancel());
  EXPECT_THROW(loop.run_until_complete(f), corio::cancelled_error);
  EXPECT_TRUE(f.cancelled());
  EXPECT_FALSE(waiter.done());  // the cancel did not reach through the shield
  waiter.set_result();
  corio::testing::run_briefly(loop, 3);
  EXPECT_EQ(proof, 1);  // the inner finished; the outer never went on
}

TEST(CB, CB_30_cancelling_the_shield_future_does_not_cancel_the_inner_task) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto inner = loop.create_task(cbt::value_after(10ms, 5));
  auto outer = corio::shield(inner);
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(outer.cancel());
  EXPECT_TRUE(outer.cancelled());
  EXPECT_FALSE(inner.cancelled());
  EXPECT_EQ(inner.cancelling(), 0u);
  EXPECT_EQ(loop.run_until_complete(inner), 5);
  EXPECT_TRUE(outer.cancelled());  // the late result does not resurrect it
}

TEST(CB, CB_31_a_cancelled_inner_cancels_the_shield) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto inner = loop.create_future<int>();
  auto outer = corio::shield(inner);
  corio::testing::run_briefly(loop);
  inner.cancel("inner gone");
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(outer.cancelled());
  EXPECT_EQ(cbt::cancel_message(outcome_of(outer)), "inner gone");
}

TEST(CB, CB_31_the_inner_result_and_exception_are_forwarded) {
  corio::event_loop loop(corio::testing::virtual_time());
  int value = 0;
  std::string error;
  auto body = [&]() -> corio::task<> {
    value = co_await corio::shield(cbt::value_after(5ms, 11));
    try {
      co_await corio::shield(cbt::fail_after(5ms, "inner failed"));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(value, 11);
  EXPECT_EQ(error, "inner failed");

  auto f = loop.create_future<int>();
  auto outer = corio::shield(f);
  f.set_exception(std::logic_error("plain future"));
  corio::testing::run_briefly(loop);
  EXPECT_THROW(outer.result(), std::logic_error);
}

TEST(CB, CB_31_shielding_an_already_done_inner_gives_its_result_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto f = loop.create_future<int>();
  f.set_result(42);
  auto outer = corio::shield(f);
  EXPECT_TRUE(outer.done());  // no loop iteration needed
  EXPECT_EQ(outer.result(), 42);
  EXPECT_EQ(loop.run_until_complete(outer), 42);
}

TEST(CB, CB_32_cancelling_a_shield_over_gather_leaves_gather_and_its_children_alone) {
  // CPython's test_shield_gather.
  corio::event_loop loop(corio::testing::virtual_time());
  auto child1 = loop.create_future<int>();
  auto child2 = loop.create_future<int>();
  bool outer_cancelled = false, children_cancelled = true;
  std::tuple<int, int> parent_result{};
  auto body = [&]() -> corio::task<> {
    auto parent = corio::gather(child1, child2);
    auto outer = corio::shield(parent);
    co_await corio::sleep(0s);
    outer.cancel();
    co_await corio::sleep(0s);
    outer_cancelled = outer.cancelled();
    children_cancelled = child1.cancelled() || child2.cancelled();
    child1.set_result(1);
    child2.set_result(2);
    parent_result = co_await parent;
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(outer_cancelled);
  EXPECT_FALSE(children_cancelled);
  EXPECT_EQ(std::get<0>(parent_result), 1);
  EXPECT_EQ(std::get<1>(parent_result), 2);
}

TEST(CB, CB_32_cancelling_gather_over_shielded_children_cancels_only_the_shields) {
  // CPython's test_gather_shield.
  corio::event_loop loop(corio::testing::virtual_time());
  auto child1 = loop.create_future<int>();
  auto child2 = loop.create_future<int>();
  bool parent_cancelled = false, inners_cancelled = false, children_cancelled = true;
  auto body = [&]() -> corio::task<> {
    auto inner1 = corio::shield(child1);
    auto inner2 = corio::shield(child2);
    auto parent = corio::gather(inner1, inner2);
    co_await corio::sleep(0s);
    parent.cancel();
    co_await corio::sleep(0s);
    parent_cancelled = cbt::holds<corio::cancelled_error>(outcome_of(parent));
    inners_cancelled = inner1.cancelled() && inner2.cancelled();
    children_cancelled = child1.cancelled() || child2.cancelled();
    child1.set_result(1);
    child2.set_result(2);
    co_await corio::sleep(0s);
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(parent_cancelled);
  EXPECT_TRUE(inners_cancelled);
  EXPECT_FALSE(children_cancelled);
  EXPECT_EQ(child1.result(), 1);
  EXPECT_EQ(child2.result(), 2);
}

// -- as_completed --------------------------------------------------------------------

TEST(CB, CB_33_as_completed_yields_results_in_completion_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> got;
  std::vector<std::int64_t> times;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<std::string>> v;
    v.push_back(text_after(30ms, "c"));  // bare coroutines become tasks
    v.push_back(text_after(10ms, "a"));
    v.push_back(text_after(20ms, "b"));
    corio::as_completed ac(std::move(v));
    for (auto next : ac) {
      got.push_back(co_await next);
      times.push_back(now_ms());
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(times, (std::vector<std::int64_t>{10, 20, 30}));  // concurrently
}

TEST(CB, CB_33_as_completed_raises_a_failed_awaitables_exception_in_its_place) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> got;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> v;
    v.push_back(cbt::value_after(30ms, 3));
    v.push_back(cbt::fail_after(20ms, "second"));
    v.push_back(cbt::value_after(10ms, 1));
    corio::as_completed ac(std::move(v));
    for (auto next : ac) {
      try {
        got.push_back(std::to_string(co_await next));
      } catch (const std::runtime_error& e) {
        got.push_back(std::string("error ") + e.what());
      }
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "error second", "3"}));
}

TEST(CB, CB_33_as_completed_counts_duplicates_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::size_t size = 0;
  std::vector<int> got;
  auto body = [&]() -> corio::task<> {
    auto a = corio::create_task(cbt::value_after(5ms, 1));
    auto b = corio::create_task(cbt::value_after(10ms, 2));
    std::vector<corio::task<int>> v{a, b, a, a};
    corio::as_completed ac(std::move(v));
    size = ac.size();
    for (auto next : ac) got.push_back(co_await next);
  };
  loop.run_until_complete(body());
  EXPECT_EQ(size, 2u);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

TEST(CB, CB_33_awaiting_the_handed_out_awaitables_in_reverse_still_gives_completion_order) {
  // CPython's test_as_completed_reverse_wait.
  corio::event_loop loop(corio::testing::virtual_time());
  std::string x, y;
  std::int64_t x_at = -1, y_at = -1;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<std::string>> v;
    v.push_back(text_after(50ms, "a"));
    v.push_back(text_after(100ms, "b"));
    corio::as_completed ac(std::move(v));
    std::vector<corio::as_completed<corio::task<std::string>>::next_result> futs;
    for (auto next : ac) futs.push_back(next);
    EXPECT_EQ(futs.size(), 2u);
    x = co_await futs[1];
    x_at = now_ms();
    y = co_await futs[0];
    y_at = now_ms();
  };
  loop.run_until_complete(body());
  EXPECT_EQ(x, "a");
  EXPECT_EQ(x_at, 50);
  EXPECT_EQ(y, "b");
  EXPECT_EQ(y_at, 100);
}

TEST(CB, CB_33_the_handed_out_awaitables_can_be_awaited_concurrently) {
  // CPython's test_as_completed_concurrent.
  corio::event_loop loop(corio::testing::virtual_time());
  using next_t = corio::as_completed<corio::task<std::string>>::next_result;
  std::vector<std::string> got;
  auto take = [&](next_t n) -> corio::task<> { got.push_back(co_await n); };
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<std::string>> v;
    v.push_back(text_after(50ms, "a"));
    v.push_back(text_after(50ms, "b"));
    corio::as_completed ac(std::move(v));
    std::vector<corio::task<>> takers;
    for (auto next : ac) takers.push_back(corio::create_task(take(next)));
    co_await corio::gather(std::move(takers));
  };
  loop.run_until_complete(body());
  ASSERT_EQ(got.size(), 2u);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(now_ms(loop), 50);
}

TEST(CB, CB_34_after_the_timeout_the_next_await_raises_timeout_and_nothing_is_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> got;
  int timeouts = 0;
  std::int64_t timeout_at = -1;
  corio::task<int> slow;
  auto body = [&]() -> corio::task<> {
    auto fast = corio::create_task(cbt::value_after(10ms, 1));
    slow = corio::create_task(cbt::value_after(1h, 2));
    std::vector<corio::task<int>> v{fast, slow};
    corio::as_completed ac(std::move(v), 20ms);
    for (auto next : ac) {
      try {
        got.push_back(co_await next);
      } catch (const corio::timeout_error&) {
        ++timeouts;
        timeout_at = now_ms();
      }
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(got, (std::vector<int>{1}));
  EXPECT_EQ(timeouts, 1);
  EXPECT_EQ(timeout_at, 20);
  EXPECT_FALSE(slow.done());
  EXPECT_EQ(slow.cancelling(), 0u);
  EXPECT_EQ(loop.run_until_complete(slow), 2);
}

TEST(CB, CB_34_results_finished_before_the_timeout_are_still_handed_out_first) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> got;
  corio::task<int> slow;
  auto body = [&]() -> corio::task<> {
    slow = corio::create_task(cbt::value_after(1h, 3));
    std::vector<corio::task<int>> v;
    v.push_back(cbt::value_after(10ms, 1));
    v.push_back(cbt::value_after(15ms, 2));
    v.push_back(slow);
    corio::as_completed ac(std::move(v), 20ms);
    co_await corio::sleep(30ms);  // a slow consumer: the timeout passed already
    for (auto next : ac) {
      try {
        got.push_back(std::to_string(co_await next));
      } catch (const corio::timeout_error&) {
        got.push_back("timeout");
      }
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "timeout"}));
  EXPECT_FALSE(slow.done());
  slow.cancel();
  EXPECT_THROW(loop.run_until_complete(slow), corio::cancelled_error);
}

TEST(CB, CB_34_an_unused_timeout_has_no_effect) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> got;
  bool later_sleep_finished = false;
  auto body = [&]() -> corio::task<> {
    std::vector<corio::task<int>> v;
    v.push_back(cbt::value_after(20ms, 2));
    v.push_back(cbt::value_after(10ms, 1));
    {
      corio::as_completed ac(std::move(v), 1h);
      for (auto next : ac) got.push_back(co_await next);
    }
    co_await corio::sleep(2h);  // past the unused deadline: nothing fires
    later_sleep_finished = true;
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
  EXPECT_TRUE(later_sleep_finished);
  EXPECT_FALSE(t.cancelled());
}

// Unit tests for <corio/gather.hpp>: gather, gather_settled and outcome<T>.
#include <corio/gather.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

#include "error_util.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;
using corio_test::what_of;

namespace {

struct handler_log {
  std::vector<corio::exception_context> seen;
  void install(corio::event_loop& loop) {
    loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context& c) { seen.push_back(c); });
  }
};

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<> nothing_after(corio::duration d, bool& done) {
  co_await corio::sleep(d);
  done = true;
}

corio::task<int> fail_after(corio::duration d, std::string what) {
  co_await corio::sleep(d);
  throw std::runtime_error(what);
}

corio::task<int> forever(bool& cancelled) {
  try {
    co_await corio::sleep(std::chrono::hours(1000));
  } catch (const corio::cancelled_error&) {
    cancelled = true;
    throw;
  }
  co_return 0;
}

corio::task<std::unique_ptr<int>> unique_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return std::make_unique<int>(v);
}

corio::task<int&> ref_after(corio::duration d, int& x) {
  co_await corio::sleep(d);
  co_return x;
}

}  // namespace

// -- outcome -----------------------------------------------------------------------------

TEST(Outcome, holds_a_value) {
  corio::outcome<std::string> o(std::in_place, "hi");
  EXPECT_TRUE(o.has_value());
  EXPECT_EQ(o.value(), "hi");
  EXPECT_EQ(o.exception(), nullptr);
  EXPECT_FALSE(o.cancelled());
  std::string moved = std::move(o).value();
  EXPECT_EQ(moved, "hi");
}

TEST(Outcome, holds_an_exception_and_rethrows_it_from_value) {
  corio::outcome<int> o(std::make_exception_ptr(std::out_of_range("nope")));
  EXPECT_FALSE(o.has_value());
  EXPECT_TRUE(o.exception());
  EXPECT_FALSE(o.cancelled());
  EXPECT_THROW(o.value(), std::out_of_range);
}

TEST(Outcome, recognises_a_cancellation) {
  corio::outcome<int> o(std::make_exception_ptr(corio::cancelled_error("c")));
  EXPECT_TRUE(o.cancelled());
  EXPECT_THROW(o.value(), corio::cancelled_error);
}

TEST(Outcome, of_void_is_empty_or_an_exception) {
  corio::outcome<void> ok;
  EXPECT_TRUE(ok.has_value());
  EXPECT_NO_THROW(ok.value());
  corio::outcome<void> ok2(std::in_place);
  EXPECT_TRUE(ok2.has_value());
  corio::outcome<void> bad(std::make_exception_ptr(corio::cancelled_error()));
  EXPECT_FALSE(bad.has_value());
  EXPECT_TRUE(bad.cancelled());
  EXPECT_THROW(bad.value(), corio::cancelled_error);
}

TEST(Outcome, holds_a_move_only_value) {
  corio::outcome<std::unique_ptr<int>> o(std::in_place, std::make_unique<int>(2));
  std::unique_ptr<int> p = std::move(o).value();
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 2);
}

// -- gather of a fixed set -----------------------------------------------------------

TEST(Gather, results_come_in_argument_order_not_finishing_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto [a, b, c] = loop.run_until_complete([]() -> corio::task<std::tuple<int, int, int>> {
    co_return co_await corio::gather(value_after(3s, 1), value_after(1s, 2), value_after(2s, 3));
  }());
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(c, 3);
  EXPECT_EQ(loop.time().time_since_epoch(), 3s) << "the children ran concurrently";
}

TEST(Gather, a_void_child_contributes_monostate) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool done = false;
  auto r = loop.run_until_complete([](bool& d) -> corio::task<std::tuple<int, std::monostate>> {
    co_return co_await corio::gather(value_after(1s, 5), nothing_after(1s, d));
  }(done));
  static_assert(std::is_same_v<decltype(r), std::tuple<int, std::monostate>>);
  EXPECT_EQ(std::get<0>(r), 5);
  EXPECT_TRUE(done);
}

TEST(Gather, a_reference_child_contributes_a_reference_wrapper) {
  corio::event_loop loop(corio::testing::virtual_time());
  int x = 0;
  int* addr = loop.run_until_complete([](int& y) -> corio::task<int*> {
    auto [r] = co_await corio::gather(ref_after(1s, y));
    static_assert(std::is_same_v<decltype(r), std::reference_wrapper<int>>);
    co_return &r.get();
  }(x));
  EXPECT_EQ(addr, &x);
}

TEST(Gather, accepts_tasks_futures_and_coroutines_together) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete([]() -> corio::task<int> {
    corio::task<int> t = corio::create_task(value_after(1s, 1));
    corio::future<int> f = corio::create_future<int>();
    corio::get_running_loop().call_later(2s, [f]() mutable { f.set_result(2); });
    auto [a, b, c] = co_await corio::gather(t, f, value_after(3s, 3));
    co_return a * 100 + b * 10 + c;
  }());
  EXPECT_EQ(r, 123);
}

TEST(Gather, the_same_task_twice_gives_its_result_twice) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete([]() -> corio::task<int> {
    corio::task<int> t = corio::create_task(value_after(1s, 4));
    auto [a, b] = co_await corio::gather(t, t);
    co_return a + b;
  }());
  EXPECT_EQ(r, 8);
}

TEST(Gather, a_child_already_done_counts_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete([]() -> corio::task<int> {
    corio::future<int> f = corio::create_future<int>();
    f.set_result(6);
    auto [a] = co_await corio::gather(f);
    co_return a;
  }());
  EXPECT_EQ(r, 6);
}

TEST(Gather, move_only_results_are_moved_out_of_children_only_gather_holds) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto r = loop.run_until_complete([]() -> corio::task<int> {
    auto [a, b] = co_await corio::gather(unique_after(1s, 1), unique_after(2s, 2));
    co_return *a + *b;
  }());
  EXPECT_EQ(r, 3);
}

TEST(Gather, a_child_the_caller_still_holds_keeps_its_result) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::task<counted> t = corio::create_task([]() -> corio::task<counted> { co_return counted(9); }());
    auto [c] = co_await corio::gather(t);
    EXPECT_EQ(c.id, 9);
    EXPECT_EQ(t.result().id, 9) << "the result was copied, not moved, because the caller can still read it";
  }());
  EXPECT_EQ(counted::alive(), 0u);
}

// -- failure and cancellation --------------------------------------------------------

TEST(Gather, the_first_exception_fails_the_gather_while_the_others_run_on) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  bool slow_done = false;
  corio::task<> slow;
  std::string what = loop.run_until_complete([](bool& d, corio::task<>& s) -> corio::task<std::string> {
    s = corio::create_task(nothing_after(5s, d));
    try {
      co_await corio::gather(fail_after(1s, "first"), fail_after(2s, "second"), s);
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(corio::get_running_loop().time().time_since_epoch(), 1s) << "the gather fails at once";
      co_return e.what();
    }
    co_return "no failure";
  }(slow_done, slow));
  EXPECT_EQ(what, "first");
  EXPECT_FALSE(slow_done);
  loop.run_until_complete(slow);
  EXPECT_TRUE(slow_done) << "a failure does not cancel the other children";
  EXPECT_TRUE(log.seen.empty()) << "the second failure was the gather's to report, and it stays quiet";
}

TEST(Gather, a_cancelled_child_fails_the_gather_with_cancelled_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cancelled = false;
  std::string r = loop.run_until_complete([](bool& c) -> corio::task<std::string> {
    corio::task<int> child = corio::create_task(forever(c));
    corio::get_running_loop().call_later(1s, [child]() mutable { child.cancel("child only"); });
    try {
      co_await corio::gather(child, value_after(5s, 1));
    } catch (const corio::cancelled_error& e) {
      co_return std::string("cancelled: ") + e.what();
    }
    co_return "not cancelled";
  }(cancelled));
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(r, "cancelled: child only");
}

TEST(Gather, cancelling_the_gather_cancels_every_child_that_is_not_done) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool c1 = false, c2 = false;
  std::string r = loop.run_until_complete([](bool& a, bool& b) -> corio::task<std::string> {
    corio::task<int> done_child = corio::create_task(value_after(0s, 1));
    co_await corio::sleep(1s);
    auto g = corio::gather(done_child, forever(a), forever(b));
    co_await corio::sleep(1s);
    EXPECT_TRUE(g.cancel("stop all"));
    try {
      co_await g;
    } catch (const corio::cancelled_error& e) {
      co_return e.what();
    }
    co_return "not cancelled";
  }(c1, c2));
  EXPECT_EQ(r, "stop all");
  EXPECT_TRUE(c1);
  EXPECT_TRUE(c2);
}

TEST(Gather, cancel_of_a_gather_whose_children_are_all_done_returns_false) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool accepted = loop.run_until_complete([]() -> corio::task<bool> {
    corio::task<int> a = corio::create_task(value_after(1s, 1));
    corio::task<int> b = corio::create_task(value_after(1s, 2));
    co_await corio::sleep(2s);
    auto g = corio::gather(a, b);
    co_return g.cancel();
  }());
  EXPECT_FALSE(accepted);
}

TEST(Gather, cancelling_the_awaiting_task_cancels_the_children) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool c1 = false, c2 = false;
  corio::task<> outer = loop.create_task([](bool& a, bool& b) -> corio::task<> {
    co_await corio::gather(forever(a), forever(b));
  }(c1, c2));
  loop.call_later(1s, [outer]() mutable { outer.cancel("from above"); });
  EXPECT_EQ(what_of<corio::cancelled_error>([&] { loop.run_until_complete(outer); }), "from above");
  EXPECT_TRUE(c1);
  EXPECT_TRUE(c2);
  EXPECT_TRUE(outer.cancelled());
}

TEST(Gather, dropping_a_gather_leaves_its_children_running_and_quiet) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  bool done = false;
  loop.run_until_complete([](bool& d) -> corio::task<> {
    { auto g = corio::gather(nothing_after(2s, d), fail_after(1s, "unseen")); }
    co_await corio::sleep(3s);
  }(done));
  EXPECT_TRUE(done);
  EXPECT_TRUE(log.seen.empty());
}

// -- gather of a vector ---------------------------------------------------------------

TEST(Gather, a_vector_of_tasks_gives_a_vector_of_results_in_order) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> r = loop.run_until_complete([]() -> corio::task<std::vector<int>> {
    std::vector<corio::task<int>> ts;
    for (int i = 0; i < 10; ++i) ts.push_back(value_after(std::chrono::seconds(10 - i), i));
    co_return co_await corio::gather(std::move(ts));
  }());
  EXPECT_EQ(r, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Gather, a_vector_of_void_tasks_gives_void) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool a = false, b = false;
  loop.run_until_complete([](bool& x, bool& y) -> corio::task<> {
    std::vector<corio::task<>> ts;
    ts.push_back(nothing_after(1s, x));
    ts.push_back(nothing_after(2s, y));
    auto g = corio::gather(std::move(ts));
    static_assert(std::is_same_v<decltype(g), corio::future<void>>);
    co_await g;
  }(a, b));
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
}

TEST(Gather, an_empty_vector_is_done_at_once) {
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    auto g = corio::gather(std::vector<corio::task<int>>{});
    EXPECT_TRUE(g.done());
    EXPECT_TRUE((co_await g).empty());
  }());
}

TEST(Gather, a_vector_of_futures) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> r = loop.run_until_complete([]() -> corio::task<std::vector<int>> {
    std::vector<corio::future<int>> fs;
    for (int i = 0; i < 3; ++i) {
      fs.push_back(corio::create_future<int>());
      corio::get_running_loop().call_later(std::chrono::seconds(3 - i), [f = fs.back(), i]() mutable { f.set_result(i); });
    }
    co_return co_await corio::gather(std::move(fs));
  }());
  EXPECT_EQ(r, (std::vector<int>{0, 1, 2}));
}

// -- gather_settled ----------------------------------------------------------------------

TEST(GatherSettled, puts_exceptions_and_cancellations_in_place) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool cancelled = false;
  loop.run_until_complete([](bool& c) -> corio::task<> {
    corio::task<int> victim = corio::create_task(forever(c));
    corio::get_running_loop().call_later(1s, [victim]() mutable { victim.cancel(); });
    auto r = co_await corio::gather_settled(value_after(2s, 1), fail_after(1s, "bad"), victim);
    // Named references, not structured bindings: lambdas below capture them.
    corio::outcome<int>& a = std::get<0>(r);
    corio::outcome<int>& b = std::get<1>(r);
    corio::outcome<int>& d = std::get<2>(r);
    static_assert(std::is_same_v<decltype(r), std::tuple<corio::outcome<int>, corio::outcome<int>, corio::outcome<int>>>);
    EXPECT_TRUE(a.has_value());
    EXPECT_EQ(a.value(), 1);
    EXPECT_FALSE(b.has_value());
    EXPECT_FALSE(b.cancelled());
    EXPECT_EQ(what_of<std::runtime_error>([&] { b.value(); }), "bad");
    EXPECT_TRUE(d.cancelled());
  }(cancelled));
  EXPECT_TRUE(cancelled);
}

TEST(GatherSettled, over_a_vector_of_void_tasks_gives_outcomes) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool a = false;
  loop.run_until_complete([](bool& x) -> corio::task<> {
    std::vector<corio::task<>> ts;
    ts.push_back(nothing_after(1s, x));
    ts.push_back([]() -> corio::task<> {
      co_await corio::sleep(1s);
      throw std::logic_error("void failure");
    }());
    std::vector<corio::outcome<void>> r = co_await corio::gather_settled(std::move(ts));
    EXPECT_EQ(r.size(), 2u);
    EXPECT_TRUE(r[0].has_value());
    EXPECT_FALSE(r[1].has_value());
    EXPECT_THROW(r[1].value(), std::logic_error);
  }(a));
  EXPECT_TRUE(a);
}

TEST(GatherSettled, a_cancelled_gather_still_retrieves_the_exceptions_of_children_that_failed) {
  // Python builds the result list (retrieving every child's exception)
  // before it looks at the cancel request, so nothing is reported lost.
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  bool cancelled = false;
  loop.run_until_complete([](bool& c) -> corio::task<> {
    auto g = corio::gather_settled(fail_after(1s, "failed before the cancel"), forever(c));
    co_await corio::sleep(2s);
    EXPECT_TRUE(g.cancel());
    try {
      co_await g;
    } catch (const corio::cancelled_error&) {
    }
  }(cancelled));
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(log.seen.empty()) << log.seen.size() << " reports, first: " << (log.seen.empty() ? "" : log.seen[0].message);
}

TEST(GatherSettled, leaves_no_exception_unretrieved) {
  corio::event_loop loop(corio::testing::virtual_time());
  handler_log log;
  log.install(loop);
  loop.run_until_complete([]() -> corio::task<> {
    std::vector<corio::task<int>> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(fail_after(std::chrono::seconds(i), "x"));
    auto r = co_await corio::gather_settled(std::move(ts));
    EXPECT_EQ(r.size(), 5u);
  }());
  EXPECT_TRUE(log.seen.empty());
}

// Unit tests for <corio/contextvars.hpp>: context_var, token, context,
// copy_context, and how tasks, callbacks and runners use contexts.
//
// Variables are identified by address, so they all have static storage
// duration here (see test_cv.cpp).
#include <corio/contextvars.hpp>

#include <corio/futures.hpp>
#include <corio/runners.hpp>
#include <corio/taskgroups.hpp>
#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "error_util.hpp"
#include "loop_util.hpp"
#include "counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

using corio_test::bounded;

namespace {

// Runs `main` inline in a task under a (virtual) day's deadline, so that a
// lost wake-up fails the test with timeout_error instead of hanging it: on
// virtual time the loop jumps to the deadline when nothing else can run.
template <class F>
void isolated(F fn) {
  corio::context().run(fn);
}

struct point {
  int x = 0;
  int y = 0;
  bool operator==(const point&) const = default;
};

}  // namespace

// -- context_var --------------------------------------------------------------------

TEST(ContextVar, default_get_with_default_and_lookup_error) {
  static corio::context_var<int> plain("plain");
  static corio::context_var<point> with_default("with_default", point{1, 2});
  isolated([] {
    EXPECT_EQ(plain.name(), "plain");
    try {
      plain.get();
      ADD_FAILURE() << "get() without a value or default must throw";
    } catch (const corio::lookup_error& e) {
      EXPECT_NE(std::string(e.what()).find("plain"), std::string::npos) << e.what();
    }
    static_assert(std::is_base_of_v<std::exception, corio::lookup_error>);
    EXPECT_EQ(plain.get(3), 3);
    EXPECT_EQ(with_default.get(), (point{1, 2}));
    EXPECT_EQ(with_default.get(point{5, 5}), (point{5, 5}));
    auto t = with_default.set(point{9, 9});
    EXPECT_EQ(with_default.get(), (point{9, 9}));
    EXPECT_EQ(with_default.get(point{5, 5}), (point{9, 9}));
    with_default.reset(t);
    EXPECT_EQ(with_default.get(), (point{1, 2}));
  });
}

TEST(ContextVar, many_vars_in_one_context_keep_their_values_through_sets_and_resets) {
  static std::vector<std::unique_ptr<corio::context_var<int>>> vars = [] {
    std::vector<std::unique_ptr<corio::context_var<int>>> v;
    for (int i = 0; i < 40; ++i) v.push_back(std::make_unique<corio::context_var<int>>(std::string("v").append(std::to_string(i))));
    return v;
  }();
  isolated([] {
    std::vector<int> order(vars.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(5));
    std::vector<std::optional<corio::token<int>>> toks(vars.size());
    for (int i : order) toks[i].emplace(vars[i]->set(i * 10));
    for (int i : order) vars[i]->set(i * 10 + 1);  // replace
    EXPECT_EQ(corio::copy_context().size(), vars.size());
    for (std::size_t i = 0; i < vars.size(); ++i) EXPECT_EQ(vars[i]->get(), static_cast<int>(i) * 10 + 1);
    // Reset the even ones to "no value" (their first tokens).
    for (std::size_t i = 0; i < vars.size(); i += 2) vars[i]->reset(*toks[i]);
    EXPECT_EQ(corio::copy_context().size(), vars.size() / 2);
    for (std::size_t i = 0; i < vars.size(); ++i) {
      if (i % 2 == 0) {
        EXPECT_EQ(vars[i]->get(-1), -1);
      } else {
        EXPECT_EQ(vars[i]->get(), static_cast<int>(i) * 10 + 1);
      }
    }
  });
}

TEST(ContextVar, values_are_released_when_no_context_holds_them) {
  static corio::context_var<std::shared_ptr<counted>> v("v");
  counted::reset();
  {
    corio::context ctx;
    ctx.run([] {
      v.set(std::make_shared<counted>(1));
      v.set(std::make_shared<counted>(2));  // the first is dropped by the map
    });
    EXPECT_EQ(counted::alive(), 1u);
    corio::context copy = ctx.copy();
    ctx.run([] { v.set(std::make_shared<counted>(3)); });
    EXPECT_EQ(counted::alive(), 2u);  // 2 lives on in the copy
  }
  EXPECT_EQ(counted::alive(), 0u);

  // A task's own context goes with the task.
  {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.run_until_complete([]() -> corio::task<> {
      v.set(std::make_shared<counted>(4));
      co_return;
    }());
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(ContextVar, values_set_on_a_thread_are_released_when_the_thread_ends) {
  // CV-09: a thread's context lives as long as the thread (Python frees a
  // thread state's context when the thread exits).
  static corio::context_var<std::shared_ptr<counted>> v("v");
  counted::reset();
  std::thread([] {
    v.set(std::make_shared<counted>(1));
    EXPECT_EQ(counted::alive(), 1u);
  }).join();
  EXPECT_EQ(counted::alive(), 0u) << "the ended thread's context still holds the value";
}

// -- token ----------------------------------------------------------------------------

TEST(ContextToken, reports_its_var_and_old_value_and_can_be_moved) {
  static corio::context_var<std::string> v("v");
  isolated([] {
    auto t0 = v.set("a");
    EXPECT_EQ(&t0.var(), &v);
    EXPECT_EQ(t0.old_value(), std::nullopt);
    auto t1 = v.set("b");
    EXPECT_EQ(t1.old_value(), std::optional<std::string>("a"));
    corio::token<std::string> moved(std::move(t1));
    EXPECT_EQ(moved.old_value(), std::optional<std::string>("a"));
    v.reset(moved);
    EXPECT_EQ(v.get(), "a");
    v.reset(t0);
    EXPECT_EQ(v.get("none"), "none");
  });
}

TEST(ContextToken, a_token_is_good_for_one_reset) {
  static corio::context_var<int> v("v");
  isolated([] {
    auto t = v.set(1);
    v.reset(t);
    EXPECT_THROW(v.reset(t), std::runtime_error);
    v.set(2);
    EXPECT_THROW(v.reset(t), std::runtime_error);
    EXPECT_EQ(v.get(), 2);
  });
}

TEST(ContextToken, a_token_of_another_var_or_another_context_is_refused) {
  static corio::context_var<int> a("a");
  static corio::context_var<int> b("b");
  isolated([] {
    auto ta = a.set(1);
    EXPECT_THROW(b.reset(ta), std::invalid_argument);
    corio::context other;
    auto tb = other.run([] { return b.set(2); });
    EXPECT_THROW(b.reset(tb), std::invalid_argument);
    other.run([&] { EXPECT_THROW(a.reset(ta), std::invalid_argument); });
    // Failed resets leave the tokens usable where they belong.
    a.reset(ta);
    other.run([&] { b.reset(tb); });
    EXPECT_EQ(a.get(0), 0);
    EXPECT_EQ(other.get(b), std::nullopt);
  });
}

TEST(ContextToken, a_token_made_in_one_task_is_refused_in_another_live_task) {
  static corio::context_var<int> v("v", 0);
  corio::event_loop loop(corio::testing::virtual_time());
  std::optional<corio::token<int>> tok;
  auto maker = [&]() -> corio::task<> {
    tok.emplace(v.set(1));
    co_await corio::sleep(10ms);
    v.reset(*tok);  // fine in the task that made it
    EXPECT_EQ(v.get(), 0);
  };
  auto other = [&]() -> corio::task<> {
    co_await corio::sleep(1ms);
    EXPECT_THROW(v.reset(*tok), std::invalid_argument);
  };
  auto main = [&]() -> corio::task<> {
    auto m = corio::create_task(maker());
    auto o = corio::create_task(other());
    co_await m;
    co_await o;
  };
  loop.run_until_complete(bounded(main()));
}

// -- context --------------------------------------------------------------------------

TEST(Context, a_new_context_is_empty_and_copies_are_independent) {
  static corio::context_var<int> v("v");
  corio::context ctx;
  EXPECT_EQ(ctx.size(), 0u);
  EXPECT_FALSE(ctx.contains(v));
  EXPECT_EQ(ctx.get(v), std::nullopt);
  ctx.run([] { v.set(1); });
  corio::context copy = ctx.copy();
  copy.run([] { v.set(2); });
  EXPECT_EQ(ctx.get(v), std::optional<int>(1));
  EXPECT_EQ(copy.get(v), std::optional<int>(2));
  EXPECT_EQ(ctx.size(), 1u);

  // Assignment makes another handle to the same context.
  corio::context alias;
  alias = ctx;
  alias.run([] { v.set(3); });
  EXPECT_EQ(ctx.get(v), std::optional<int>(3));
}

TEST(Context, at_gives_the_value_or_throws_lookup_error_naming_the_variable) {
  // Python: ctx[var], KeyError (a LookupError) when the context has no value;
  // the variable's default does not count.
  static corio::context_var<std::string> v("request_id", "default");
  corio::context ctx;
  EXPECT_EQ(corio_test::what_of<corio::lookup_error>([&] { (void)ctx.at(v); }),
            "context variable 'request_id' is not set in this context");
  ctx.run([] { v.set("r-1"); });
  EXPECT_EQ(ctx.at(v), "r-1");
}

TEST(Context, run_forwards_arguments_returns_and_restores_the_previous_context) {
  static corio::context_var<int> v("v", 0);
  isolated([] {
    v.set(1);
    corio::context ctx;
    const int r = ctx.run(
        [](int a, int b) {
          v.set(a + b);
          return v.get();
        },
        2, 3);
    EXPECT_EQ(r, 5);
    EXPECT_EQ(v.get(), 1);
    EXPECT_THROW(ctx.run([] {
      v.set(9);
      throw std::logic_error("x");
    }),
                 std::logic_error);
    EXPECT_EQ(v.get(), 1);  // restored after the exception
    EXPECT_EQ(ctx.get(v), std::optional<int>(9));
  });
}

TEST(Context, entering_an_entered_context_again_is_a_runtime_error) {
  corio::context ctx;
  ctx.run([&] {
    EXPECT_THROW(ctx.run([] {}), std::runtime_error);
    corio::context inner;
    inner.run([&] { EXPECT_THROW(ctx.run([] {}), std::runtime_error); });
  });
  EXPECT_NO_THROW(ctx.run([] {}));
}

TEST(Context, copy_context_outside_any_loop_reflects_the_threads_context) {
  static corio::context_var<int> v("v");
  isolated([] {
    v.set(4);
    corio::context snap = corio::copy_context();
    EXPECT_EQ(snap.get(v), std::optional<int>(4));
    EXPECT_EQ(snap.size(), 1u);
  });
  std::thread([] { EXPECT_EQ(corio::copy_context().size(), 0u); }).join();
}

// -- tasks ----------------------------------------------------------------------------

TEST(Context, a_task_created_with_an_explicit_context_mutates_it) {
  static corio::context_var<int> v("v", 0);
  corio::event_loop loop(corio::testing::virtual_time());
  corio::context ctx;
  ctx.run([] { v.set(1); });
  corio::task_options opts;
  opts.context = &ctx;
  auto t = loop.create_task(
      []() -> corio::task<int> {
        const int seen = v.get();
        v.set(seen + 10);
        co_await corio::sleep(1ms);
        co_return v.get();
      }(),
      opts);
  EXPECT_EQ(loop.run_until_complete(t), 11);
  EXPECT_EQ(ctx.get(v), std::optional<int>(11));
  EXPECT_EQ(v.get(), 0);  // the thread's context is untouched
}

TEST(Context, copy_context_inside_a_task_sees_the_tasks_values) {
  static corio::context_var<int> v("v", 0);
  corio::event_loop loop(corio::testing::virtual_time());
  auto main = []() -> corio::task<> {
    v.set(6);
    corio::context snap = corio::copy_context();
    v.set(7);
    EXPECT_EQ(snap.get(v), std::optional<int>(6));
    // A task created inside snap.run() starts from a copy of snap.
    auto child = snap.run([] {
      return corio::create_task([]() -> corio::task<int> { co_return v.get(); }());
    });
    const int seen = co_await child;
    EXPECT_EQ(seen, 6);
  };
  loop.run_until_complete(bounded(main()));
}

// -- callbacks ------------------------------------------------------------------------

TEST(Context, call_soon_and_call_later_callbacks_run_in_the_context_captured_when_scheduled) {
  static corio::context_var<int> v("v", 0);
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> seen;
  auto main = [&]() -> corio::task<> {
    auto& lp = corio::get_running_loop();
    v.set(1);
    lp.call_later(2ms, [&] { seen.push_back(v.get()); });
    lp.call_soon([&] {
      seen.push_back(v.get());
      v.set(50);
      // A callback scheduled from a callback captures the callback's context.
      corio::get_running_loop().call_soon([&] { seen.push_back(v.get()); });
    });
    v.set(2);
    co_await corio::sleep(5ms);
    EXPECT_EQ(v.get(), 2);
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_EQ(seen, (std::vector<int>{1, 50, 1}));
}

TEST(Context, a_done_callback_runs_in_the_context_current_when_it_was_added) {
  static corio::context_var<std::string> v("v", "none");
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> seen;
  auto main = [&]() -> corio::task<> {
    auto child = corio::create_task([]() -> corio::task<> { co_await corio::sleep(1ms); }());
    v.set("when added");
    child.add_done_callback([&](corio::any_task&) {
      seen.push_back(v.get());
      v.set("by callback");
    });
    v.set("after");
    co_await child;
    co_await corio::sleep(0s);  // the callback runs via call_soon
    EXPECT_EQ(v.get(), "after");
    // A callback added to a done future is scheduled at once, same rule.
    auto f = corio::create_future<int>();
    f.set_result(1);
    v.set("second");
    f.add_done_callback([&](corio::future<int>&) { seen.push_back(v.get()); });
    v.set("after second");
    co_await corio::sleep(0s);
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_EQ(seen, (std::vector<std::string>{"when added", "second"}));
}

// -- runner ---------------------------------------------------------------------------

TEST(Context, a_runner_keeps_one_context_across_runs) {
  static corio::context_var<int> v("v", 0);
  corio::runner r(corio::testing::virtual_time());
  r.run([]() -> corio::task<> {
    v.set(1);
    co_return;
  }());
  const int seen = r.run([]() -> corio::task<int> {
    const int before = v.get();
    v.set(before + 1);
    co_return before;
  }());
  EXPECT_EQ(seen, 1);
  const int third = r.run([]() -> corio::task<int> { co_return v.get(); }());
  EXPECT_EQ(third, 2);
  EXPECT_EQ(v.get(), 0);  // the caller's context is not the runner's
}

TEST(Context, each_corio_run_starts_from_a_fresh_copy_of_the_callers_context) {
  // Set on the thread's own context (the loop must not run inside a
  // context::run() here: that case is CV-06's in test_cv.cpp).
  static corio::context_var<int> v("v", 0);
  auto tok = v.set(5);
  const int a = corio::run([]() -> corio::task<int> {
    const int seen = v.get();
    v.set(6);
    co_return seen;
  }());
  const int b = corio::run([]() -> corio::task<int> { co_return v.get(); }());
  EXPECT_EQ(a, 5);
  EXPECT_EQ(b, 5);  // the first run's set stayed in its copy
  EXPECT_EQ(v.get(), 5);
  v.reset(tok);
  EXPECT_EQ(v.get(), 0);
}

TEST(Context, tasks_of_a_task_group_copy_the_context_of_the_body) {
  static corio::context_var<int> v("v", 0);
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> seen;
  auto main = [&]() -> corio::task<> {
    v.set(1);
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      v.set(2);
      tg.create_task([](std::vector<int>& out) -> corio::task<> {
        out.push_back(v.get());
        v.set(3);
        co_return;
      }(seen));
      co_await corio::sleep(1ms);
      EXPECT_EQ(v.get(), 2);
    });
    EXPECT_EQ(v.get(), 2);  // the body runs inline in this task
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_EQ(seen, std::vector<int>{2});
}

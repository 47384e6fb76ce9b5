// Semantic tests for asynchronous generators: PEP 525 as CPython implements
// it (Objects/genobject.c async_gen_*; Lib/test/test_asyncgen.py), and how
// they meet asyncio tasks and cancellation. The rules are GEN-16..GEN-22 of
// docs/semantics.md (section 17); each test is named GEN_async_<rule> after
// the behaviour it pins down, and the rule lists the names of its tests.
// Loops run on virtual time.
//
// corio's choices, asserted here:
//   - StopAsyncIteration is an empty optional from next()/athrow(), every
//     time once the generator has finished.
//   - Python's RuntimeError "anext(): asynchronous generator is already
//     running" is corio::generator_running.
//   - Destroying a suspended generator destroys its frame (destructors run,
//     nothing is awaited). A generator owned by a task goes with it when
//     run() cancels that task; one still open after the tasks (kept outside
//     them) is aclose()d by loop.shutdown_asyncgens() (EL-25), one at a time,
//     the most recently started first.
#include <corio/async_generator.hpp>

#include <corio/contextvars.hpp>
#include <corio/runners.hpp>
#include <corio/testing/loop.hpp>
#include <corio/threads.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "el_helpers.hpp"
#include "error_util.hpp"
#include "gen_helpers.hpp"
#include "sync_util.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio::async_generator;
using corio::generator_state;
using corio::task;
using corio_test::counted;
using corio_test::holds;
using corio_test::message_of;
using gent::boom;
using gent::log_t;
using syt::outcome;

namespace {

// Sleeps a day before its first yield, logging what reaches it.
async_generator<int> slow(log_t& log) {
  log.push_back("start");
  try {
    co_await corio::sleep(24h);
  } catch (const corio::cancelled_error& e) {
    log.push_back(std::string("cancelled: ") + e.what());
    throw;
  }
  co_yield 1;
  log.push_back("end");
}

async_generator<int> logged(log_t& log) { return gent::logged<async_generator<int>>(log); }

class GEN_async : public ::testing::Test {
 protected:
  template <class T>
  T run(task<T> t) {
    return loop.run_until_complete(std::move(t));
  }
  corio::event_loop loop{corio::testing::virtual_time()};
};

}  // namespace

TEST_F(GEN_async, GEN_async_body_runs_only_at_the_first_anext) {
  log_t log;
  run([](log_t& l) -> task<> {
    auto g = logged(l);
    EXPECT_TRUE(l.empty());
    EXPECT_EQ(g.state(), generator_state::created);
    auto v = co_await g.next();
    EXPECT_EQ(v, std::optional<int>(1));
    EXPECT_EQ(g.state(), generator_state::suspended);
  }(log));
  EXPECT_EQ(log, log_t{"start"});
}

TEST_F(GEN_async, GEN_async_anext_on_an_exhausted_generator_stops_every_time) {
  run([]() -> task<> {
    log_t l;
    auto g = logged(l);
    for (int i = 0; i < 3; ++i) (void)co_await g.next();
    auto a = co_await g.next();  // StopAsyncIteration
    auto b = co_await g.next();
    EXPECT_EQ(a, std::nullopt);
    EXPECT_EQ(b, std::nullopt);
    EXPECT_EQ(l, (log_t{"start", "end"}));
  }());
}

TEST_F(GEN_async, GEN_async_body_runs_in_the_awaiting_task_and_its_context) {
  static corio::context_var<std::string> request("request");
  run([]() -> task<> {
    auto g = []() -> async_generator<std::string> {
      co_yield corio::current_task().get_name();
      co_await corio::sleep(1ms);
      co_yield request.get("<unset>");
    }();
    auto consumer = [](async_generator<std::string>& gen) -> task<std::vector<std::string>> {
      request.set("r-1");
      std::vector<std::string> out;
      for (;;) {
        std::optional<std::string> v = co_await gen.next();
        if (!v) break;
        out.push_back(*v);
      }
      co_return out;
    };
    auto t = corio::create_task(consumer(g), "consumer");
    std::vector<std::string> got = co_await t;
    EXPECT_EQ(got, (std::vector<std::string>{"consumer", "r-1"}));
  }());
}

// == cancellation ====================================================================

TEST_F(GEN_async, GEN_async_cancelling_the_awaiting_task_raises_cancelled_error_in_the_body) {
  log_t log;
  auto g = slow(log);
  auto t = loop.create_task([](async_generator<int>& gen) -> task<> { (void)co_await gen.next(); }(g));
  corio::testing::run_briefly(loop);
  EXPECT_EQ(log, log_t{"start"});
  t.cancel("stop");
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(t.done());
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(log, (log_t{"start", "cancelled: stop"}));
  EXPECT_EQ(g.state(), generator_state::closed);  // the cancellation escaped the body
}

TEST_F(GEN_async, GEN_async_a_body_that_swallows_the_cancel_goes_on) {
  auto g = []() -> async_generator<int> {
    bool cancelled = false;
    try {
      co_await corio::sleep(24h);
    } catch (const corio::cancelled_error&) {
      cancelled = true;
    }
    co_yield cancelled ? 1 : 0;
  }();
  auto t = loop.create_task([](async_generator<int>& gen) -> task<int> {
    std::optional<int> v = co_await gen.next();
    co_return v.value_or(-1);
  }(g));
  corio::testing::run_briefly(loop);
  t.cancel();
  EXPECT_EQ(loop.run_until_complete(t), 1);  // as a task swallowing CancelledError, it carries on
  EXPECT_EQ(t.cancelling(), 1u);
  EXPECT_EQ(g.state(), generator_state::suspended);
}

TEST_F(GEN_async, GEN_async_a_cancel_pending_before_anext_reaches_the_first_await_of_the_body) {
  log_t log;
  auto t = loop.create_task([](log_t& l) -> task<> {
    corio::current_task().cancel("early");
    auto g = slow(l);
    (void)co_await g.next();
  }(log));
  EXPECT_THROW(loop.run_until_complete(t), corio::cancelled_error);
  EXPECT_EQ(log, (log_t{"start", "cancelled: early"}));
}

// == re-entrancy =====================================================================

TEST_F(GEN_async, GEN_async_anext_while_another_anext_waits_raises_already_running) {
  log_t log;
  auto g = slow(log);
  auto first = loop.create_task([](async_generator<int>& gen) -> task<> { (void)co_await gen.next(); }(g));
  corio::testing::run_briefly(loop);
  auto errs = run([](async_generator<int>& gen) -> task<std::vector<std::exception_ptr>> {
    std::vector<std::exception_ptr> out;
    out.push_back(co_await outcome(gen.next()));
    out.push_back(co_await outcome(gen.athrow(boom())));
    out.push_back(co_await outcome(gen.aclose()));
    co_return out;
  }(g));
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_TRUE(holds<corio::generator_running>(errs[0]));
  EXPECT_NE(message_of(errs[0]).find("anext(): asynchronous generator is already running"), std::string::npos);
  EXPECT_NE(message_of(errs[1]).find("athrow(): asynchronous generator is already running"), std::string::npos);
  EXPECT_NE(message_of(errs[2]).find("aclose(): asynchronous generator is already running"), std::string::npos);
  EXPECT_EQ(g.state(), generator_state::running);  // the first anext() is still waiting, untouched
  first.cancel();
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(first.cancelled());
}

// == aclose ==========================================================================

TEST_F(GEN_async, GEN_async_aclose_raises_generator_exit_at_the_yield_and_awaits_the_cleanup) {
  log_t log;
  run([](log_t& l) -> task<> {
    auto g = [](log_t& lg) -> async_generator<int> {
      bool closing = false;
      try {
        co_yield 1;
      } catch (const corio::generator_exit&) {
        closing = true;
      }
      if (closing) {
        co_await corio::sleep(3s);  // Python: `finally: await cleanup()`
        lg.push_back("cleaned up");
      }
    }(l);
    (void)co_await g.next();
    const auto t0 = corio::get_running_loop().time();
    co_await g.aclose();
    EXPECT_EQ(corio::get_running_loop().time() - t0, corio::duration(3s));
    EXPECT_EQ(g.state(), generator_state::closed);
  }(log));
  EXPECT_EQ(log, log_t{"cleaned up"});
}

TEST_F(GEN_async, GEN_async_aclose_on_a_not_started_generator_closes_it_without_running_it) {
  log_t log;
  run([](log_t& l) -> task<> {
    auto g = logged(l);
    co_await g.aclose();
    EXPECT_EQ(g.state(), generator_state::closed);
    auto v = co_await g.next();
    EXPECT_EQ(v, std::nullopt);
  }(log));
  EXPECT_TRUE(log.empty());
}

TEST_F(GEN_async, GEN_async_aclose_on_a_finished_generator_is_a_no_op) {
  log_t log;
  run([](log_t& l) -> task<> {
    auto g = logged(l);
    for (int i = 0; i < 4; ++i) (void)co_await g.next();
    co_await g.aclose();
    co_await g.aclose();
  }(log));
  EXPECT_EQ(log, (log_t{"start", "end"}));
}

TEST_F(GEN_async, GEN_async_aclose_yielding_after_generator_exit_raises_runtime_error) {
  auto e = run([]() -> task<std::exception_ptr> {
    auto g = []() -> async_generator<int> {
      for (;;) {
        try {
          co_yield 1;
        } catch (const corio::generator_exit&) {
        }
      }
    }();
    (void)co_await g.next();
    co_return co_await outcome(g.aclose());
  }());
  EXPECT_TRUE(holds<std::runtime_error>(e));
  EXPECT_NE(message_of(e).find("async generator ignored GeneratorExit"), std::string::npos);
}

TEST_F(GEN_async, GEN_async_aclose_propagates_another_exception_from_the_body) {
  auto e = run([]() -> task<std::exception_ptr> {
    auto g = []() -> async_generator<int> {
      try {
        co_yield 1;
      } catch (const corio::generator_exit&) {
        throw boom();
      }
    }();
    (void)co_await g.next();
    co_return co_await outcome(g.aclose());
  }());
  EXPECT_TRUE(holds<boom>(e));
}

// == athrow ==========================================================================

TEST_F(GEN_async, GEN_async_athrow_is_raised_at_the_yield) {
  log_t log;
  auto e = run([](log_t& l) -> task<std::exception_ptr> {
    auto g = logged(l);
    (void)co_await g.next();
    co_return co_await outcome(g.athrow(boom()));
  }(log));
  EXPECT_TRUE(holds<boom>(e));
  EXPECT_EQ(log, (log_t{"start", "boom"}));
}

TEST_F(GEN_async, GEN_async_athrow_caught_gives_the_next_value) {
  run([]() -> task<> {
    auto g = []() -> async_generator<int> {
      bool caught = false;
      try {
        co_yield 1;
      } catch (const boom&) {
        caught = true;
      }
      co_await corio::sleep(1ms);
      co_yield caught ? 2 : 0;
    }();
    (void)co_await g.next();
    std::optional<int> v = co_await g.athrow(boom());
    EXPECT_EQ(v, std::optional<int>(2));
  }());
}

TEST_F(GEN_async, GEN_async_athrow_into_a_not_started_generator_raises_at_the_caller_without_running_it) {
  log_t log;
  auto e = run([](log_t& l) -> task<std::exception_ptr> {
    auto g = logged(l);
    auto err = co_await outcome(g.athrow(boom()));
    EXPECT_EQ(g.state(), generator_state::closed);
    co_return err;
  }(log));
  EXPECT_TRUE(holds<boom>(e));
  EXPECT_TRUE(log.empty());
}

TEST_F(GEN_async, GEN_async_athrow_into_a_finished_generator_stops) {
  run([]() -> task<> {
    log_t l;
    auto g = logged(l);
    for (int i = 0; i < 4; ++i) (void)co_await g.next();
    std::optional<int> v = co_await g.athrow(boom());
    EXPECT_EQ(v, std::nullopt);
  }());
}

// == destruction and shutdown ========================================================

TEST_F(GEN_async, GEN_async_destroying_a_suspended_generator_runs_destructors_without_generator_exit) {
  log_t log;
  counted::reset();
  run([](log_t& l) -> task<> {
    auto g = gent::guarded<async_generator<int>>(l, "handler");
    (void)co_await g.next();
    EXPECT_EQ(counted::alive(), 1u);
  }(log));
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_TRUE(log.empty());
}

TEST(GEN_async_run, GEN_async_run_cancels_the_task_that_owns_a_generator_which_then_is_destroyed) {
  // EL-25: asyncio.run cancels the remaining tasks, then calls
  // shutdown_asyncgens(). corio cancels the tasks the same way; a generator
  // owned by one goes with its frame (destructors run), and one suspended
  // inside an await sees the cancellation there.
  counted::reset();
  log_t log;
  corio::run([](log_t& l) -> task<> {
    corio::create_task([](log_t& lg) -> task<> {
      auto at_yield = gent::guarded<async_generator<int>>(lg, "not reached");
      (void)co_await at_yield.next();
      auto in_await = slow(lg);
      (void)co_await in_await.next();
    }(l));
    co_await corio::sleep(0s);
    EXPECT_EQ(counted::alive(), 1u);
  }(log));
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(log, (log_t{"start", "cancelled: "}));
}

// == loop.shutdown_asyncgens (EL-25) ===================================================

namespace {

// Python:
//   async def gen():
//       try: yield 1; yield 2
//       finally: await asyncio.sleep(1); log.append("cleaned up")
// C++ cannot co_await in a catch handler: the handler notes the
// generator_exit and the awaiting part of the cleanup comes after the try.
async_generator<int> with_awaiting_cleanup(log_t& log, std::string name) {
  bool closing = false;
  try {
    co_yield 1;
    co_yield 2;
  } catch (const corio::generator_exit&) {
    closing = true;
  }
  co_await corio::sleep(1s);
  log.push_back(name + (closing ? " cleaned up after generator_exit" : " cleaned up at the end"));
}

// Its cleanup awaits, then raises.
async_generator<int> raising_on_close() {
  try {
    co_yield 1;
  } catch (const corio::generator_exit&) {
  }
  co_await corio::sleep(1s);
  throw boom();
}

// Owns `inner` in its frame and yields ten times its values.
async_generator<int> outer_of(log_t& log) {
  auto inner = with_awaiting_cleanup(log, "inner");
  try {
    for (;;) {
      std::optional<int> v = co_await inner.next();
      if (!v) break;
      co_yield *v * 10;
    }
  } catch (const corio::generator_exit&) {
  }
  co_await corio::sleep(1s);
  log.push_back(std::string("outer cleaned up; inner ") +
                (inner.state() == generator_state::closed ? "closed" : "still open"));
}

task<> take_one(async_generator<int>& gen, log_t& log) {
  std::optional<int> v = co_await gen.next();
  log.push_back("got " + std::to_string(v.value_or(-1)));
}

}  // namespace

TEST(GEN_async_shutdown, GEN_async_run_acloses_a_generator_left_open_and_awaits_its_cleanup) {
  // asyncio.run: _cancel_all_tasks, then loop.shutdown_asyncgens(), which
  // acloses every async generator first iterated on the loop and still alive.
  log_t log;
  auto g = with_awaiting_cleanup(log, "g");  // outlives the run: no task owns it
  corio::run(take_one(g, log), corio::testing::virtual_time());
  EXPECT_EQ(log, (log_t{"got 1", "g cleaned up after generator_exit"}));
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN_async_shutdown, GEN_async_runner_close_closes_generators_after_the_tasks_and_before_the_default_executor) {
  // Runner.close: _cancel_all_tasks, shutdown_asyncgens, then
  // shutdown_default_executor, so a generator's cleanup may still use
  // to_thread (the default executor).
  log_t log;
  auto g = []() -> async_generator<int> {
    try {
      co_yield 1;
    } catch (const corio::generator_exit&) {
    }
    const int seven = co_await corio::to_thread([] { return 7; });
    (void)seven;
    throw std::runtime_error("cleanup got " + std::to_string(seven));
  }();
  corio::runner r(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(r.get_loop());
  r.run([](async_generator<int>& gen, log_t& l) -> task<> {
    (void)co_await gen.next();
    corio::create_task([](log_t& lg) -> task<> {
      try {
        co_await corio::sleep(24h);
      } catch (const corio::cancelled_error&) {
        lg.push_back("task cancelled");
        throw;
      }
    }(l));
    co_await corio::sleep(0s);
  }(g, log));
  EXPECT_TRUE(log.empty());
  r.close();
  EXPECT_EQ(log, log_t{"task cancelled"});
  ASSERT_EQ(errors.items.size(), 1u);
  // The cleanup ran after the task was cancelled, and to_thread still worked.
  EXPECT_EQ(elh::what_of(errors.items[0].exception), "cleanup got 7");
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN_async_shutdown, GEN_async_shutdown_asyncgens_reports_an_error_raised_while_closing_and_closes_the_others) {
  corio::event_loop loop(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(loop);
  log_t log;
  auto before = with_awaiting_cleanup(log, "before");
  auto bad = raising_on_close();
  auto after = with_awaiting_cleanup(log, "after");
  loop.run_until_complete([](async_generator<int>& a, async_generator<int>& b, async_generator<int>& c) -> task<> {
    (void)co_await a.next();
    (void)co_await b.next();
    (void)co_await c.next();
  }(before, bad, after));
  loop.run_until_complete(loop.shutdown_asyncgens());
  // Newest first, one at a time.
  EXPECT_EQ(log, (log_t{"after cleaned up after generator_exit", "before cleaned up after generator_exit"}));
  ASSERT_EQ(errors.items.size(), 1u);
  const corio::exception_context& e = errors.items[0];
  EXPECT_TRUE(elh::contains(e.message, "an error occurred during closing of asynchronous generator")) << e.message;
  EXPECT_TRUE(elh::contains(e.message, "raising_on_close()")) << e.message;
  EXPECT_TRUE(holds<boom>(e.exception));
  EXPECT_EQ(bad.state(), generator_state::closed);
}

TEST(GEN_async_shutdown, GEN_async_shutdown_asyncgens_reports_a_generator_that_yields_instead_of_closing) {
  corio::event_loop loop(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(loop);
  auto stubborn = []() -> async_generator<int> {
    for (;;) {
      try {
        co_yield 1;
      } catch (const corio::generator_exit&) {
      }
    }
  }();
  loop.run_until_complete([](async_generator<int>& gen) -> task<> { (void)co_await gen.next(); }(stubborn));
  loop.run_until_complete(loop.shutdown_asyncgens());
  ASSERT_EQ(errors.items.size(), 1u);
  EXPECT_TRUE(elh::contains(elh::what_of(errors.items[0].exception), "ignored GeneratorExit"));
  EXPECT_EQ(stubborn.state(), generator_state::suspended);
}

TEST(GEN_async_shutdown, GEN_async_shutdown_asyncgens_skips_generators_finished_closed_destroyed_or_never_started) {
  corio::event_loop loop(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(loop);
  log_t log;
  auto exhausted = logged(log);
  auto closed = logged(log);
  auto never_started = logged(log);
  std::optional<async_generator<int>> destroyed(with_awaiting_cleanup(log, "destroyed"));
  loop.run_until_complete([](async_generator<int>& ex, async_generator<int>& cl,
                             async_generator<int>& de) -> task<> {
    for (;;) {
      std::optional<int> v = co_await ex.next();
      if (!v) break;
    }
    (void)co_await cl.next();
    co_await cl.aclose();
    (void)co_await de.next();
  }(exhausted, closed, *destroyed));
  destroyed.reset();  // its frame goes without a close (departure 60)
  const log_t before = log;
  loop.run_until_complete(loop.shutdown_asyncgens());
  EXPECT_EQ(log, before);
  EXPECT_TRUE(errors.items.empty());
  EXPECT_EQ(never_started.state(), generator_state::created);
}

TEST(GEN_async_shutdown, GEN_async_shutdown_asyncgens_closes_a_generator_before_the_one_whose_frame_owns_it) {
  // outer's body starts inner, so inner is the newer one: it is closed, and
  // its cleanup awaited, before outer's close destroys it with outer's frame.
  corio::event_loop loop(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(loop);
  log_t log;
  auto outer = outer_of(log);
  loop.run_until_complete([](async_generator<int>& gen) -> task<> {
    std::optional<int> v = co_await gen.next();
    EXPECT_EQ(v, std::optional<int>(10));
  }(outer));
  loop.run_until_complete(loop.shutdown_asyncgens());
  EXPECT_EQ(log, (log_t{"inner cleaned up after generator_exit", "outer cleaned up; inner closed"}));
  EXPECT_TRUE(errors.items.empty());
  EXPECT_EQ(outer.state(), generator_state::closed);
}

TEST(GEN_async_shutdown, GEN_async_a_generator_first_iterated_after_shutdown_asyncgens_is_reported) {
  // Python: ResourceWarning "asynchronous generator ... was scheduled after
  // loop.shutdown_asyncgens() call".
  corio::event_loop loop(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(loop);
  log_t log;
  loop.run_until_complete(loop.shutdown_asyncgens());
  EXPECT_TRUE(errors.items.empty());
  auto late = with_awaiting_cleanup(log, "late");
  loop.run_until_complete(take_one(late, log));
  ASSERT_EQ(errors.items.size(), 1u);
  EXPECT_TRUE(elh::contains(errors.items[0].message, "was scheduled after loop.shutdown_asyncgens() call"))
      << errors.items[0].message;
  EXPECT_TRUE(elh::contains(errors.items[0].message, "with_awaiting_cleanup(")) << errors.items[0].message;
}

TEST(GEN_async_shutdown, GEN_async_cancelling_shutdown_asyncgens_stops_it_without_a_report) {
  corio::event_loop loop(corio::testing::virtual_time());
  elh::error_log errors;
  errors.attach(loop);
  log_t log;
  auto first = with_awaiting_cleanup(log, "first");
  auto second = with_awaiting_cleanup(log, "second");
  loop.run_until_complete([](async_generator<int>& a, async_generator<int>& b) -> task<> {
    (void)co_await a.next();
    (void)co_await b.next();
  }(first, second));
  auto shutdown = loop.create_task(loop.shutdown_asyncgens());
  corio::testing::run_briefly(loop);  // second's cleanup sleeps
  shutdown.cancel();
  corio::testing::run_briefly(loop);
  ASSERT_TRUE(shutdown.done());
  EXPECT_TRUE(shutdown.cancelled());
  EXPECT_TRUE(errors.items.empty());
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(second.state(), generator_state::closed);   // the cancellation escaped its cleanup
  EXPECT_EQ(first.state(), generator_state::suspended);  // not reached
}

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
//     nothing is awaited); corio::run keeps no list of async generators to
//     aclose() at shutdown (EL-25's shutdown_asyncgens): a generator goes
//     with whatever owns it, for instance a task that run() cancels.
#include <corio/async_generator.hpp>

#include <corio/contextvars.hpp>
#include <corio/runners.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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

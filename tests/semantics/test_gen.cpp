// Semantic tests for generators: PEP 255 (generators), PEP 342 (send, throw,
// close), PEP 380 (yield from), as CPython implements them
// (Objects/genobject.c; Lib/test/test_generators.py, test_pep380.py).
// The rules are GEN-01..GEN-15 of docs/semantics.md (section 17); each test is
// named GEN_<rule> after the behaviour it pins down, and the rule lists the
// names of its tests.
//
// corio's choices, asserted here:
//   - StopIteration is an empty optional from next()/send()/throw_(), every
//     time once the generator has finished; its value is return_value().
//   - Python's TypeError for send(value) before the first next() is
//     corio::generator_not_started; ValueError "generator already executing"
//     is corio::generator_running.
//   - Destroying a suspended generator destroys its frame (destructors run)
//     without raising generator_exit in it: Python's finaliser calls close().
#include <corio/generator.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_util.hpp"
#include "gen_helpers.hpp"
#include "unit/counted.hpp"

using corio::generator;
using corio::generator_state;
using corio::yield_from;
using corio_test::counted;
using corio_test::error_of;
using corio_test::holds;
using corio_test::message_of;
using gent::boom;
using gent::log_t;

namespace {

generator<int> logged(log_t& log) { return gent::logged<generator<int>>(log); }

}  // namespace

// == PEP 255: creation, iteration, exhaustion ======================================

TEST(GEN, GEN_body_runs_only_at_the_first_next) {
  log_t log;
  auto g = logged(log);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(g.state(), generator_state::created);
  EXPECT_EQ(g.next(), std::optional<int>(1));
  EXPECT_EQ(log, log_t{"start"});
  EXPECT_EQ(g.state(), generator_state::suspended);
}

TEST(GEN, GEN_next_on_an_exhausted_generator_stops_every_time) {
  log_t log;
  auto g = logged(log);
  for (int i = 0; i < 3; ++i) (void)g.next();
  EXPECT_EQ(g.next(), std::nullopt);  // StopIteration
  EXPECT_EQ(g.state(), generator_state::closed);
  EXPECT_EQ(g.next(), std::nullopt);  // and again
  EXPECT_EQ(log, (log_t{"start", "end"}));
}

TEST(GEN, GEN_return_value_is_the_stop_iteration_value) {
  auto g = []() -> generator<int, void, std::string> {
    co_yield 1;
    co_return "done";
  }();
  EXPECT_TRUE(holds<corio::invalid_state_error>(error_of([&] { (void)g.return_value(); })));  // not started
  (void)g.next();
  EXPECT_TRUE(holds<corio::invalid_state_error>(error_of([&] { (void)g.return_value(); })));  // suspended
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(g.return_value(), "done");
}

TEST(GEN, GEN_an_exception_escaping_the_body_propagates_and_finishes_the_generator) {
  auto g = []() -> generator<int, void, int> {
    co_yield 1;
    throw boom();
  }();
  (void)g.next();
  EXPECT_TRUE(holds<boom>(error_of([&] { (void)g.next(); })));
  EXPECT_EQ(g.state(), generator_state::closed);
  EXPECT_EQ(g.next(), std::nullopt);  // then StopIteration, as in Python
  EXPECT_TRUE(holds<corio::invalid_state_error>(error_of([&] { (void)g.return_value(); })));
}

TEST(GEN, GEN_state_follows_inspect_getgeneratorstate) {
  generator<int>* self = nullptr;
  generator_state inside{};
  auto g = [](generator<int>*& me, generator_state& seen) -> generator<int> {
    seen = me->state();
    co_yield 1;
  }(self, inside);
  self = &g;
  EXPECT_EQ(g.state(), generator_state::created);  // GEN_CREATED
  (void)g.next();
  EXPECT_EQ(inside, generator_state::running);     // GEN_RUNNING
  EXPECT_EQ(g.state(), generator_state::suspended);  // GEN_SUSPENDED
  (void)g.next();
  EXPECT_EQ(g.state(), generator_state::closed);  // GEN_CLOSED
}

// == PEP 342: send ===================================================================

TEST(GEN, GEN_send_before_start_raises) {
  bool ran = false;
  auto g = [](bool& r) -> generator<int, int> {
    r = true;
    co_yield 0;
  }(ran);
  auto e = error_of([&] { (void)g.send(1); });
  EXPECT_TRUE(holds<corio::generator_not_started>(e));
  EXPECT_TRUE(holds<std::invalid_argument>(e));  // Python: TypeError
  EXPECT_FALSE(ran);
  EXPECT_EQ(g.state(), generator_state::created);  // still startable with next()
  EXPECT_EQ(g.next(), std::optional<int>(0));
}

TEST(GEN, GEN_send_value_becomes_the_value_of_the_yield_expression) {
  std::vector<int> got;
  auto g = [](std::vector<int>& out) -> generator<int, int> {
    for (int i = 0;; ++i) {
      int* v = co_yield i;
      out.push_back(v ? *v : -1);
    }
  }(got);
  EXPECT_EQ(g.next(), std::optional<int>(0));
  EXPECT_EQ(g.send(10), std::optional<int>(1));
  EXPECT_EQ(g.send(20), std::optional<int>(2));
  EXPECT_EQ(got, (std::vector<int>{10, 20}));
}

TEST(GEN, GEN_next_sends_none) {
  std::vector<std::optional<int>> got;
  auto g = [](std::vector<std::optional<int>>& out) -> generator<int, int> {
    for (;;) {
      int* v = co_yield 0;
      out.push_back(v ? std::optional<int>(*v) : std::nullopt);
    }
  }(got);
  (void)g.next();
  (void)g.next();
  (void)g.send(5);
  EXPECT_EQ(got, (std::vector<std::optional<int>>{std::nullopt, 5}));
}

TEST(GEN, GEN_send_to_a_finished_generator_stops) {
  auto g = []() -> generator<int, int> { co_yield 0; }();
  (void)g.next();
  EXPECT_EQ(g.send(1), std::nullopt);
  EXPECT_EQ(g.send(2), std::nullopt);
}

// == PEP 342: throw ==================================================================

TEST(GEN, GEN_throw_is_raised_at_the_suspended_yield) {
  log_t log;
  auto g = logged(log);
  (void)g.next();
  EXPECT_TRUE(holds<boom>(error_of([&] { (void)g.throw_(boom()); })));
  EXPECT_EQ(log, (log_t{"start", "boom"}));
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN, GEN_throw_caught_by_the_body_returns_the_next_yield) {
  auto g = []() -> generator<int, void, int> {
    bool caught = false;
    try {
      co_yield 1;
    } catch (const boom&) {
      caught = true;  // C++ allows no co_yield inside a handler: yield after it
    }
    if (caught) co_yield 100;
    co_return 7;
  }();
  (void)g.next();
  EXPECT_EQ(g.throw_(boom()), std::optional<int>(100));
  // Not caught this time: it escapes to the caller and finishes the generator.
  EXPECT_TRUE(holds<std::logic_error>(error_of([&] { (void)g.throw_(std::logic_error("x")); })));
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN, GEN_throw_caught_then_return_stops_with_the_value) {
  auto g = []() -> generator<int, void, int> {
    try {
      co_yield 1;
    } catch (const boom&) {
      co_return 5;
    }
    co_return 0;
  }();
  (void)g.next();
  EXPECT_EQ(g.throw_(boom()), std::nullopt);  // StopIteration(5)
  EXPECT_EQ(g.return_value(), 5);
}

TEST(GEN, GEN_throw_into_a_not_started_generator_raises_at_the_caller_without_running_the_body) {
  log_t log;
  auto g = logged(log);
  EXPECT_TRUE(holds<boom>(error_of([&] { (void)g.throw_(boom()); })));
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(g.state(), generator_state::closed);  // Python marks it finished
  EXPECT_EQ(g.next(), std::nullopt);
}

TEST(GEN, GEN_throw_into_a_finished_generator_raises_at_the_caller) {
  auto g = []() -> generator<int> { co_return; }();
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_TRUE(holds<boom>(error_of([&] { (void)g.throw_(boom()); })));
}

// == PEP 342: close ==================================================================

TEST(GEN, GEN_close_raises_generator_exit_at_the_yield_so_cleanup_runs) {
  log_t log;
  counted::reset();
  auto g = gent::guarded<generator<int>>(log, "except GeneratorExit");
  (void)g.next();
  g.close();
  EXPECT_EQ(log, log_t{"except GeneratorExit"});
  EXPECT_EQ(counted::alive(), 0u);  // the body's locals are gone: it finished
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN, GEN_generator_exit_is_not_a_std_exception) {
  // Python: GeneratorExit derives from BaseException, so `except Exception`
  // in a generator does not swallow close().
  bool caught_as_std = false;
  auto g = [](bool& c) -> generator<int> {
    try {
      co_yield 1;
    } catch (const std::exception&) {
      c = true;
    }
    co_yield 2;  // not reached on close
  }(caught_as_std);
  (void)g.next();
  g.close();
  EXPECT_FALSE(caught_as_std);
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN, GEN_close_on_a_not_started_generator_closes_it_without_running_it) {
  log_t log;
  auto g = logged(log);
  g.close();
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(g.state(), generator_state::closed);
  EXPECT_EQ(g.next(), std::nullopt);
}

TEST(GEN, GEN_close_on_a_finished_generator_is_a_no_op) {
  log_t log;
  auto g = logged(log);
  while (g.next()) {
  }
  g.close();
  g.close();
  EXPECT_EQ(log, (log_t{"start", "end"}));
}

TEST(GEN, GEN_close_yielding_after_generator_exit_raises_runtime_error) {
  auto g = []() -> generator<int> {
    for (;;) {
      try {
        co_yield 1;
      } catch (const corio::generator_exit&) {
        // ignores it and yields again
      }
    }
  }();
  (void)g.next();
  auto e = error_of([&] { g.close(); });
  EXPECT_TRUE(holds<std::runtime_error>(e));
  EXPECT_NE(message_of(e).find("ignored GeneratorExit"), std::string::npos);
  EXPECT_EQ(g.state(), generator_state::suspended);  // as in CPython, still alive
  EXPECT_EQ(g.next(), std::optional<int>(1));
}

TEST(GEN, GEN_close_returning_after_generator_exit_is_fine_and_keeps_the_value) {
  auto g = []() -> generator<int, void, int> {
    try {
      co_yield 1;
    } catch (const corio::generator_exit&) {
      co_return 42;  // Python 3.13: close() returns this value
    }
    co_return 0;
  }();
  (void)g.next();
  g.close();
  EXPECT_EQ(g.state(), generator_state::closed);
  EXPECT_EQ(g.return_value(), 42);
}

TEST(GEN, GEN_close_propagates_another_exception_from_the_body) {
  auto g = []() -> generator<int> {
    try {
      co_yield 1;
    } catch (const corio::generator_exit&) {
      throw boom();
    }
  }();
  (void)g.next();
  EXPECT_TRUE(holds<boom>(error_of([&] { g.close(); })));
  EXPECT_EQ(g.state(), generator_state::closed);
}

// == re-entrancy =====================================================================

TEST(GEN, GEN_driving_a_generator_from_its_own_body_raises_already_executing) {
  generator<int, int>* self = nullptr;
  std::vector<std::exception_ptr> errors;
  auto g = [](generator<int, int>*& me, std::vector<std::exception_ptr>& errs) -> generator<int, int> {
    errs.push_back(error_of([&] { (void)me->next(); }));
    errs.push_back(error_of([&] { (void)me->send(1); }));
    errs.push_back(error_of([&] { (void)me->throw_(boom()); }));
    errs.push_back(error_of([&] { me->close(); }));
    co_yield 1;
  }(self, errors);
  self = &g;
  EXPECT_EQ(g.next(), std::optional<int>(1));  // the body survived its own mistakes
  ASSERT_EQ(errors.size(), 4u);
  for (const auto& e : errors) {
    EXPECT_TRUE(holds<corio::generator_running>(e));
    EXPECT_TRUE(holds<std::invalid_argument>(e));  // Python: ValueError
    EXPECT_NE(message_of(e).find("already executing"), std::string::npos);
  }
}

// == destruction =====================================================================

TEST(GEN, GEN_destroying_a_suspended_generator_runs_destructors_not_handlers) {
  log_t log;
  counted::reset();
  {
    // Python's finaliser would reach the handler; corio's destructor does not.
    auto g = gent::guarded<generator<int>>(log, "handler");
    (void)g.next();
    EXPECT_EQ(counted::alive(), 1u);
  }  // no exception leaves the destructor
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_TRUE(log.empty());
}

// == PEP 380: yield from =============================================================

namespace {

generator<int, int, std::string> sub_logging(log_t& log) {
  try {
    int* a = co_yield 1;
    log.push_back("sub got " + std::to_string(a ? *a : -1));
    int* b = co_yield 2;
    log.push_back("sub got " + std::to_string(b ? *b : -1));
  } catch (const corio::generator_exit&) {
    log.push_back("sub generator_exit");
    throw;
  } catch (const boom&) {
    log.push_back("sub boom");
    throw;
  }
  co_return "sub result";
}

generator<int, int, std::string> delegator(log_t& log) {
  bool boomed = false;
  try {
    std::string r = co_yield yield_from(sub_logging(log));
    log.push_back("delegator got " + r);
    co_yield 3;
  } catch (const corio::generator_exit&) {
    log.push_back("delegator generator_exit");
    throw;
  } catch (const boom&) {
    log.push_back("delegator boom");
    boomed = true;
  }
  if (boomed) co_yield -1;
  co_return "delegator result";
}

}  // namespace

TEST(GEN, GEN_yield_from_passes_values_and_sends_through) {
  log_t log;
  auto g = delegator(log);
  EXPECT_EQ(g.next(), std::optional<int>(1));
  EXPECT_EQ(g.send(10), std::optional<int>(2));
  EXPECT_EQ(g.send(20), std::optional<int>(3));
  EXPECT_EQ(g.next(), std::nullopt);
  EXPECT_EQ(g.return_value(), "delegator result");
  EXPECT_EQ(log, (log_t{"sub got 10", "sub got 20", "delegator got sub result"}));
}

TEST(GEN, GEN_yield_from_starts_the_subgenerator_with_next) {
  // Python's `yield from` calls next(sub) first, even when the delegator was
  // resumed by send(v): v belongs to the delegator's own yield.
  std::vector<std::optional<int>> got;
  auto sub = [](std::vector<std::optional<int>>& out) -> generator<int, int> {
    int* v = co_yield 100;
    out.push_back(v ? std::optional<int>(*v) : std::nullopt);
  };
  auto g = [](auto make, std::vector<std::optional<int>>& out) -> generator<int, int> {
    int* v = co_yield 1;
    out.push_back(v ? std::optional<int>(*v) : std::nullopt);
    co_yield yield_from(make(out));
  }(sub, got);
  (void)g.next();
  EXPECT_EQ(g.send(7), std::optional<int>(100));
  (void)g.send(8);
  EXPECT_EQ(got, (std::vector<std::optional<int>>{7, 8}));
}

TEST(GEN, GEN_yield_from_passes_throw_to_the_subgenerator) {
  log_t log;
  auto g = delegator(log);
  (void)g.next();
  EXPECT_EQ(g.throw_(boom()), std::optional<int>(-1));  // the delegator caught what the sub re-raised
  EXPECT_EQ(log, (log_t{"sub boom", "delegator boom"}));
}

TEST(GEN, GEN_yield_from_raises_a_subgenerator_exception_in_the_delegator) {
  auto g = []() -> generator<int> {
    bool caught = false;
    try {
      co_yield yield_from([]() -> generator<int> {
        co_yield 1;
        throw boom();
      }());
    } catch (const boom&) {
      caught = true;
    }
    if (caught) co_yield 2;
  }();
  EXPECT_EQ(g.next(), std::optional<int>(1));
  EXPECT_EQ(g.next(), std::optional<int>(2));
}

TEST(GEN, GEN_yield_from_close_closes_the_subgenerator_then_the_delegator) {
  log_t log;
  auto g = delegator(log);
  (void)g.next();
  g.close();
  EXPECT_EQ(log, (log_t{"sub generator_exit", "delegator generator_exit"}));
  EXPECT_EQ(g.state(), generator_state::closed);
}

TEST(GEN, GEN_yield_from_close_raises_generator_exit_in_the_delegator_even_if_the_sub_returns) {
  log_t log;
  auto g = [](log_t& l) -> generator<int> {
    try {
      co_yield yield_from([]() -> generator<int> {
        try {
          co_yield 1;
        } catch (const corio::generator_exit&) {
          co_return;  // swallows it
        }
      }());
      l.push_back("after yield from");
    } catch (const corio::generator_exit&) {
      l.push_back("delegator generator_exit");
      throw;
    }
  }(log);
  (void)g.next();
  g.close();
  EXPECT_EQ(log, log_t{"delegator generator_exit"});
}

TEST(GEN, GEN_yield_from_close_where_the_subgenerator_yields_raises_runtime_error) {
  auto g = []() -> generator<int> {
    co_yield yield_from([]() -> generator<int> {
      for (;;) {
        try {
          co_yield 1;
        } catch (const corio::generator_exit&) {
        }
      }
    }());
  }();
  (void)g.next();
  EXPECT_TRUE(holds<std::runtime_error>(error_of([&] { g.close(); })));
}

TEST(GEN, GEN_yield_from_itself_raises_already_executing) {
  generator<int>* self = nullptr;
  std::exception_ptr err;
  auto g = [](generator<int>*& me, std::exception_ptr& e) -> generator<int> {
    try {
      co_yield yield_from(std::move(*me));
    } catch (...) {
      e = std::current_exception();
    }
    co_yield 1;
  }(self, err);
  self = &g;
  EXPECT_EQ(g.next(), std::optional<int>(1));
  EXPECT_TRUE(holds<corio::generator_running>(err));
}

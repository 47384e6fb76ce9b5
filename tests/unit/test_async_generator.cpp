// Unit tests for <corio/async_generator.hpp>: async_generator<T>, awaiting
// between yields, values and their copies, for_each. The Python rules
// (cancellation, aclose, athrow, re-entrancy...) are in
// tests/semantics/test_gen_async.cpp. Loops run on virtual time.
#include <corio/async_generator.hpp>

#include <corio/queues.hpp>
#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "counted.hpp"
#include "error_util.hpp"

using namespace std::chrono_literals;
using corio::async_generator;
using corio::generator_state;
using corio::task;
using corio_test::counted;
using corio_test::holds;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(corio::get_running_loop().time().time_since_epoch())
      .count();
}

async_generator<int> ticks(int n, corio::duration every) {
  for (int i = 0; i < n; ++i) {
    co_await corio::sleep(every);
    co_yield i;
  }
}

async_generator<int> no_awaits(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

template <class T>
task<std::vector<T>> collect(async_generator<T>& g) {
  std::vector<T> out;
  for (;;) {
    std::optional<T> v = co_await g.next();  // not in the `if`: GCC 12 miscompiles that
    if (!v) break;
    out.push_back(std::move(*v));
  }
  co_return out;
}

template <class T>
T run_virtual(task<T> t) {
  corio::event_loop loop(corio::testing::virtual_time());
  return loop.run_until_complete(std::move(t));
}

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

}  // namespace

TEST(AsyncGenerator, yields_values_between_sleeps_on_loop_time) {
  auto times = run_virtual([]() -> task<std::vector<std::int64_t>> {
    std::vector<std::int64_t> at;
    auto g = ticks(3, 10ms);
    for (;;) {
      std::optional<int> v = co_await g.next();
      if (!v) break;
      at.push_back(now_ms());
    }
    co_return at;
  }());
  EXPECT_EQ(times, (std::vector<std::int64_t>{10, 20, 30}));
}

TEST(AsyncGenerator, next_gives_empty_at_the_end_and_after) {
  run_virtual([]() -> task<> {
    auto g = no_awaits(1);
    auto a = co_await g.next();
    auto b = co_await g.next();
    auto c = co_await g.next();
    EXPECT_EQ(a, std::optional<int>(0));
    EXPECT_EQ(b, std::nullopt);
    EXPECT_EQ(c, std::nullopt);
    EXPECT_EQ(g.state(), generator_state::closed);
  }());
}

TEST(AsyncGenerator, a_generator_that_does_not_await_never_yields_to_the_loop) {
  // As in asyncio: `async for` over such a generator runs without giving
  // other tasks a turn.
  run_virtual([]() -> task<> {
    bool other_ran = false;
    auto other = corio::create_task([](bool& flag) -> task<> {
      flag = true;
      co_return;
    }(other_ran));
    auto g = no_awaits(1000);
    auto all = co_await collect(g);
    EXPECT_EQ(all.size(), 1000u);
    EXPECT_FALSE(other_ran);
    co_await other;
    EXPECT_TRUE(other_ran);
  }());
}

TEST(AsyncGenerator, the_body_can_await_a_queue_fed_by_another_task) {
  auto got = run_virtual([]() -> task<std::vector<std::string>> {
    corio::queue<std::string> q;
    auto producer = corio::create_task([](corio::queue<std::string>& out) -> task<> {
      for (const char* w : {"a", "b", "", "c"}) {
        co_await corio::sleep(1ms);
        co_await out.put(w);
      }
    }(q));
    auto words = [](corio::queue<std::string>& in) -> async_generator<std::string> {
      for (;;) {
        std::string w = co_await in.get();
        if (w.empty()) co_return;  // end marker
        co_yield std::move(w);
      }
    }(q);
    auto out = co_await collect(words);
    co_await producer;
    co_return out;
  }());
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));
}

TEST(AsyncGenerator, the_body_can_await_tasks_and_other_async_generators) {
  auto got = run_virtual([]() -> task<std::vector<int>> {
    auto doubled = [](async_generator<int> src) -> async_generator<int> {
      for (;;) {
        std::optional<int> v = co_await src.next();
        if (!v) co_return;
        const int twice = co_await [](int x) -> task<int> {
          co_await corio::sleep(1ms);
          co_return 2 * x;
        }(*v);
        co_yield twice;
      }
    }(ticks(3, 5ms));
    co_return co_await collect(doubled);
  }());
  EXPECT_EQ(got, (std::vector<int>{0, 2, 4}));
}

TEST(AsyncGenerator, move_only_values) {
  run_virtual([]() -> task<> {
    auto g = []() -> async_generator<std::unique_ptr<int>> {
      co_await corio::sleep(1ms);
      co_yield std::make_unique<int>(5);
    }();
    std::optional<std::unique_ptr<int>> v = co_await g.next();
    EXPECT_TRUE(v && **v == 5);
  }());
}

TEST(AsyncGenerator, yielding_an_lvalue_hands_out_a_copy) {
  run_virtual([]() -> task<> {
    int after = 0;
    auto g = [](int& seen) -> async_generator<std::string> {
      std::string s = "kept";
      co_yield s;
      seen = static_cast<int>(s.size());
    }(after);
    std::optional<std::string> v = co_await g.next();
    EXPECT_EQ(v, std::optional<std::string>("kept"));
    auto end = co_await g.next();
    EXPECT_EQ(end, std::nullopt);
    EXPECT_EQ(after, 4);
  }());
}

TEST(AsyncGenerator, an_exception_after_a_suspension_reaches_the_awaiting_task) {
  run_virtual([]() -> task<> {
    auto g = []() -> async_generator<int> {
      co_yield 1;
      co_await corio::sleep(1ms);
      throw boom();
    }();
    (void)co_await g.next();
    std::exception_ptr err;
    try {
      (void)co_await g.next();
    } catch (...) {
      err = std::current_exception();
    }
    EXPECT_TRUE(holds<boom>(err));
    EXPECT_EQ(g.state(), generator_state::closed);
  }());
}

TEST(AsyncGenerator, destroying_a_suspended_generator_runs_destructors) {
  counted::reset();
  run_virtual([]() -> task<> {
    {
      auto g = [](counted c) -> async_generator<int> {
        counted local(1);
        co_await corio::sleep(1ms);
        co_yield c.id;
      }(counted(2));
      auto v = co_await g.next();
      EXPECT_EQ(v, std::optional<int>(2));
      EXPECT_EQ(counted::alive(), 2u);
    }
    EXPECT_EQ(counted::alive(), 0u);
  }());
}

TEST(AsyncGenerator, an_empty_generator_is_closed) {
  run_virtual([]() -> task<> {
    async_generator<int> g;
    EXPECT_EQ(g.state(), generator_state::closed);
    auto v = co_await g.next();
    EXPECT_EQ(v, std::nullopt);
    co_await g.aclose();
  }());
}

// -- for_each ---------------------------------------------------------------------------

TEST(AsyncGenerator, for_each_with_a_plain_callback) {
  auto sum = run_virtual([]() -> task<int> {
    int s = 0;
    co_await corio::for_each(ticks(4, 1ms), [&s](int v) { s += v; });
    co_return s;
  }());
  EXPECT_EQ(sum, 6);
}

TEST(AsyncGenerator, for_each_with_a_coroutine_callback) {
  auto seen = run_virtual([]() -> task<std::vector<std::int64_t>> {
    std::vector<std::int64_t> at;
    co_await corio::for_each(no_awaits(3), [&at](int) -> task<> {
      co_await corio::sleep(10ms);
      at.push_back(now_ms());
    });
    co_return at;
  }());
  EXPECT_EQ(seen, (std::vector<std::int64_t>{10, 20, 30}));
}

TEST(AsyncGenerator, for_each_stops_when_the_callback_returns_false_and_closes_the_generator) {
  run_virtual([]() -> task<> {
    std::vector<std::string> log;
    auto g = [](std::vector<std::string>& l) -> async_generator<int> {
      counted guard;
      try {
        for (int i = 0;; ++i) co_yield i;
      } catch (const corio::generator_exit&) {
        l.push_back("closed");
        throw;
      }
    }(log);
    int last = -1;
    co_await corio::for_each(std::move(g), [&](int v) {
      last = v;
      return v < 2;
    });
    EXPECT_EQ(last, 2);
    EXPECT_EQ(log, std::vector<std::string>{"closed"});
    int n = 0;
    co_await corio::for_each(no_awaits(10), [&](int) -> task<bool> { co_return ++n < 3; });
    EXPECT_EQ(n, 3);
  }());
}

TEST(AsyncGenerator, for_each_closes_the_generator_when_the_callback_throws) {
  run_virtual([]() -> task<> {
    std::vector<std::string> log;
    auto g = [](std::vector<std::string>& l) -> async_generator<int> {
      bool closing = false;
      try {
        co_yield 1;
        co_yield 2;
      } catch (const corio::generator_exit&) {
        closing = true;
      }
      if (closing) {
        co_await corio::sleep(5ms);  // cleanup that awaits, after the handler
        l.push_back("cleaned up at " + std::to_string(now_ms()));
      }
    }(log);
    std::exception_ptr err;
    try {
      co_await corio::for_each(std::move(g), [](int) { throw boom(); });
    } catch (...) {
      err = std::current_exception();
    }
    EXPECT_TRUE(holds<boom>(err));
    EXPECT_EQ(log, std::vector<std::string>{"cleaned up at 5"});
  }());
}

// -- the loop's list of async generators (shutdown_asyncgens) ------------------------------

TEST(AsyncGenerator, a_generator_that_outlives_its_loop_is_destroyed_without_touching_it) {
  counted::reset();
  std::optional<async_generator<int>> g;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    g.emplace([](counted) -> async_generator<int> { co_yield 1; }(counted(1)));
    auto v = loop.run_until_complete([](async_generator<int>& gen) -> task<std::optional<int>> {
      co_return co_await gen.next();
    }(*g));
    EXPECT_EQ(v, std::optional<int>(1));
  }  // closed and destroyed with the generator linked to it
  EXPECT_EQ(counted::alive(), 1u);
  g.reset();
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(AsyncGenerator, a_generator_owned_by_a_task_destroyed_at_close_goes_with_it) {
  counted::reset();
  {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.set_exception_handler([](corio::event_loop&, const corio::exception_context&) {});  // "destroyed but pending"
    loop.create_task([]() -> task<> {
      auto g = [](counted) -> async_generator<int> {
        co_yield 1;
        co_yield 2;
      }(counted(1));
      (void)co_await g.next();
      co_await corio::sleep(24h);
    }());
    corio::testing::run_briefly(loop);
    EXPECT_EQ(counted::alive(), 1u);
    loop.close();
    EXPECT_EQ(counted::alive(), 0u);
  }
}

TEST(AsyncGenerator, shutdown_asyncgens_closes_generators_of_every_value_type) {
  std::vector<std::string> log;
  auto numbers = [](std::vector<std::string>& l) -> async_generator<int> {
    try {
      co_yield 1;
    } catch (const corio::generator_exit&) {
      l.push_back("numbers closed");
      throw;
    }
  }(log);
  auto words = [](std::vector<std::string>& l) -> async_generator<std::string> {
    try {
      co_yield std::string("one");
    } catch (const corio::generator_exit&) {
      l.push_back("words closed");
      throw;
    }
  }(log);
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([](async_generator<int>& n, async_generator<std::string>& w) -> task<> {
    (void)co_await w.next();
    (void)co_await n.next();
  }(numbers, words));
  loop.run_until_complete(loop.shutdown_asyncgens());
  EXPECT_EQ(log, (std::vector<std::string>{"numbers closed", "words closed"}));
  EXPECT_EQ(numbers.state(), generator_state::closed);
  EXPECT_EQ(words.state(), generator_state::closed);
}

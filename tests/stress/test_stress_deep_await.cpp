// Stress: deep chains of inline awaits. `co_await f()` starts and finishes
// coroutines by symmetric transfer, so ten thousand nested levels must cost
// no more machine stack than one.
#include <corio/tasks.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "small_stack.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;
using corio_test::distance;
using corio_test::on_small_stack;
using corio_test::stack_mark;

// GCC cannot make symmetric transfer a tail call in code instrumented by
// AddressSanitizer (clang can), nor in code ThreadSanitizer instruments (it
// wraps every call in its entry/exit hooks), so there the stack does grow
// with the depth; the plain builds check this property.
#if defined(__SANITIZE_ADDRESS__) && !defined(__clang__)
#define SKIP_WITHOUT_TAIL_CALLS() GTEST_SKIP() << "GCC + AddressSanitizer: symmetric transfer is not a tail call"
#elif defined(__SANITIZE_THREAD__)
#define SKIP_WITHOUT_TAIL_CALLS() GTEST_SKIP() << "ThreadSanitizer: symmetric transfer is not a tail call"
#else
#define SKIP_WITHOUT_TAIL_CALLS() (void)0
#endif

namespace {

constexpr int kDepth = 10'000;

struct probe_log {
  std::uintptr_t top = 0;
  std::uintptr_t bottom_started = 0;  // first step of the deepest coroutine
  std::uintptr_t bottom_resumed = 0;  // the same, resumed by the loop
};

corio::task<int> nest(int depth, probe_log& log) {
  counted local(depth);
  if (depth == 0) {
    log.bottom_started = stack_mark();
    co_await corio::sleep(0s);  // a real suspension at the bottom, resumed from the loop
    log.bottom_resumed = stack_mark();
    co_return 0;
  }
  const int below = co_await nest(depth - 1, log);
  co_return below + 1;
}

corio::task<int> nest_without_suspending(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nest_without_suspending(depth - 1);
}

corio::task<int> nest_and_throw(int depth) {
  if (depth == 0) {
    co_await corio::sleep(0s);
    throw std::runtime_error("from the bottom");
  }
  co_return co_await nest_and_throw(depth - 1);
}

corio::task<int> immediate(int v) { co_return v; }

}  // namespace

TEST(StressDeepAwait, ten_thousand_nested_inline_awaits_use_constant_stack) {
  SKIP_WITHOUT_TAIL_CALLS();
  counted::reset();
  probe_log log;
  int result = -1;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    result = loop.run_until_complete([](probe_log& l) -> corio::task<int> {
      l.top = stack_mark();
      co_return co_await nest(kDepth, l);
    }(log));
  });
  EXPECT_EQ(result, kDepth);
  EXPECT_EQ(counted::alive(), 0u);
  // Without symmetric transfer each level would add at least a call frame;
  // ten thousand of them would be far beyond this bound.
  EXPECT_LT(distance(log.top, log.bottom_started), 64u * 1024u)
      << "starting " << kDepth << " levels grew the stack by " << distance(log.top, log.bottom_started) << " bytes";
  EXPECT_LT(distance(log.top, log.bottom_resumed), 64u * 1024u)
      << "resuming the bottom level sits " << distance(log.top, log.bottom_resumed) << " bytes from the top";
}

TEST(StressDeepAwait, ten_thousand_levels_that_never_suspend_unwind_without_recursion) {
  SKIP_WITHOUT_TAIL_CALLS();
  int result = -1;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    result = loop.run_until_complete(nest_without_suspending(kDepth));
  });
  EXPECT_EQ(result, kDepth);
}

TEST(StressDeepAwait, an_exception_from_the_bottom_of_ten_thousand_levels_reaches_the_top) {
  SKIP_WITHOUT_TAIL_CALLS();
  std::string what;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    try {
      loop.run_until_complete(nest_and_throw(kDepth));
    } catch (const std::runtime_error& e) {
      what = e.what();
    }
  });
  EXPECT_EQ(what, "from the bottom");
}

TEST(StressDeepAwait, two_hundred_thousand_sequential_inline_awaits_of_finished_coroutines) {
  SKIP_WITHOUT_TAIL_CALLS();
  // A loop of awaits on coroutines that complete at once is the classic way
  // to overflow a stack when completion resumes the awaiter by a nested call.
  long long sum = -1;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    sum = loop.run_until_complete([]() -> corio::task<long long> {
      long long s = 0;
      for (int i = 0; i < 200'000; ++i) s += co_await immediate(i);
      co_return s;
    }());
  });
  EXPECT_EQ(sum, 200'000LL * 199'999LL / 2);
}

TEST(StressDeepAwait, a_chain_of_ten_thousand_scheduled_tasks_each_awaiting_the_next) {
  counted::reset();
  struct chain {
    static corio::task<int> link(int depth) {
      counted local(depth);
      if (depth == 0) {
        co_await corio::sleep(1ms);
        co_return 0;
      }
      corio::task<int> next = corio::create_task(link(depth - 1));
      co_return 1 + co_await next;
    }
  };
  int result = -1;
  std::size_t peak_tasks = 0;
  on_small_stack([&] {
    corio::event_loop loop(corio::testing::virtual_time());
    loop.call_later(500us, [&] { peak_tasks = loop.pending_task_count(); });
    result = loop.run_until_complete(chain::link(kDepth));
    EXPECT_EQ(loop.pending_task_count(), 0u);
  });
  EXPECT_EQ(result, kDepth);
  EXPECT_EQ(peak_tasks, static_cast<std::size_t>(kDepth + 1));
  EXPECT_EQ(counted::alive(), 0u);
}

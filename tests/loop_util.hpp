// Small coroutines the tests of every layer share.
#pragma once

#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <chrono>
#include <exception>
#include <type_traits>
#include <utility>

namespace corio_test {

/// Python: `await asyncio.sleep(0)`: the running task goes to the back of
/// the ready queue, so everything already ready runs one step first.
inline corio::task<> yield_once() { co_await corio::sleep(std::chrono::seconds(0)); }

/// Runs `main` inline in a task under a (virtual) day's deadline, so that a
/// lost wake-up fails the test with timeout_error instead of hanging it: on
/// virtual time the loop jumps to the deadline when nothing else can run.
template <class T>
corio::task<T> bounded(corio::task<T> main) {
  if constexpr (std::is_void_v<T>) {
    co_await corio::wait_for(std::move(main), std::chrono::hours(24));
  } else {
    co_return co_await corio::wait_for(std::move(main), std::chrono::hours(24));
  }
}

/// Awaits `aw` and reports what came out of it: null for a normal return,
/// else the exception (cancellations included). Lets a coroutine check what
/// an await throws with EXPECT_* (ASSERT_* cannot be used in coroutines).
template <class A>
corio::task<std::exception_ptr> outcome(A aw) {
  try {
    co_await std::move(aw);
  } catch (...) {
    co_return std::current_exception();
  }
  co_return nullptr;
}

}  // namespace corio_test

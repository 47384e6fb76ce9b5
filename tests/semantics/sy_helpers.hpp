// Helpers shared by the SY (synchronization primitives) semantic tests.
#pragma once

#include "sync_util.hpp"

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace syh {

using syt::yield_once;

inline bool bound_elsewhere(const std::exception_ptr& e) {
  return syt::holds<std::runtime_error>(e) &&
         syt::what(e).find("is bound to a different event loop") != std::string::npos;
}

// -- lock helpers ------------------------------------------------------------------

inline corio::task<bool> lock_append(corio::lock& lk, std::vector<int>& out, int id) {
  // Not `if (co_await ...)`: GCC 12 miscompiles a co_await in an if
  // condition (the coroutine body never runs).
  const bool ok = co_await lk.acquire();
  if (ok) out.push_back(id);
  co_return true;
}

inline corio::task<> lock_append_release(corio::lock& lk, std::vector<int>& out, int id) {
  co_await lk.acquire();
  out.push_back(id);
  lk.release();
}

inline corio::task<> acquire_release(corio::lock& lk) {
  co_await lk.acquire();
  lk.release();
}

// Makes one waiter block on `lk`, which binds the lock to the running loop.
inline corio::task<> contend(corio::lock& lk) {
  co_await lk.acquire();
  auto other = corio::create_task(acquire_release(lk));
  co_await yield_once();
  lk.release();
  co_await other;
}

// Python's lockit(name, blocker) of test_cancel_race.
inline corio::task<> lockit(corio::lock& lk, corio::future<> blocker) {
  co_await lk.acquire();
  try {
    if (blocker) co_await blocker;
  } catch (...) {
    lk.release();
    throw;
  }
  lk.release();
}

// -- event / condition / semaphore helpers -------------------------------------------

inline corio::task<> event_append(corio::event& ev, std::vector<int>& out, int id) {
  const bool ok = co_await ev.wait();
  if (ok) out.push_back(id);
}

inline corio::task<bool> cond_append(corio::condition& c, std::vector<int>& out, int id, bool release_after) {
  co_await c.acquire();
  const bool ok = co_await c.wait();
  if (ok) {
    out.push_back(id);
    if (release_after) c.release();
  }
  co_return true;
}

inline corio::task<bool> sem_append(corio::semaphore& s, std::vector<int>& out, int id) {
  co_await s.acquire();
  out.push_back(id);
  co_return true;
}

inline corio::task<bool> sem_acquire(corio::semaphore& s) { co_return co_await s.acquire(); }

inline corio::task<bool> lock_acquire(corio::lock& lk) { co_return co_await lk.acquire(); }

}  // namespace syh

// Helpers shared by the tests of the synchronization primitives (SY), the
// queues (QU) and contextvars (CV). Loops run on virtual time (see
// cb_util.hpp), so no assertion depends on the machine's speed.
#pragma once

#include "cb_util.hpp"
#include "loop_util.hpp"

#include <corio/contextvars.hpp>
#include <corio/gather.hpp>
#include <corio/locks.hpp>
#include <corio/queues.hpp>
#include <corio/taskgroups.hpp>
#include <corio/timeouts.hpp>

#include <exception>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

namespace syt {

using corio_test::bounded;
using corio_test::outcome;
using corio_test::yield_once;

using namespace std::chrono_literals;

/// loop.run_until_complete(bounded(main)).
template <class T>
T run_bounded(corio::event_loop& loop, corio::task<T> main) {
  return loop.run_until_complete(bounded(std::move(main)));
}

/// True if `e` holds an E (cbt::holds, for brevity).
template <class E>
bool holds(const std::exception_ptr& e) {
  return cbt::holds<E>(e);
}

/// True if `e` holds a cancelled_error.
inline bool is_cancel(const std::exception_ptr& e) { return cbt::holds<corio::cancelled_error>(e); }

/// what() of the std::exception in `e`.
inline std::string what(const std::exception_ptr& e) { return cbt::message_of(e); }

/// The outcome of a finished task as an exception_ptr (null: it returned).
template <class H>
std::exception_ptr outcome_of(const H& h) {
  return cbt::outcome_of(h);
}

}  // namespace syt

// Helpers shared by the semantic tests of cancellation (CX) and the
// combinators (CB). Every loop here runs on virtual time, so a test of a
// one-hour timeout takes microseconds and no assertion depends on how fast
// the machine is.
#pragma once

#include <corio/events.hpp>
#include <corio/exceptions.hpp>
#include <corio/futures.hpp>
#include <corio/tasks.hpp>
#include <corio/testing/loop.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "error_util.hpp"

namespace cbt {

using namespace std::chrono_literals;

/// Loop time in milliseconds (the virtual clock starts at 0).
inline std::int64_t now_ms(const corio::event_loop& loop) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(loop.time().time_since_epoch()).count();
}
inline std::int64_t now_ms() { return now_ms(corio::get_running_loop()); }

/// A loop time `d` after the start of the virtual clock.
inline corio::time_point at(corio::duration d) { return corio::time_point(d); }

/// True if `e` holds an E.
using corio_test::holds;

/// what() of the cancelled_error in `e`; "<not a cancellation>" otherwise.
inline std::string cancel_message(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const corio::cancelled_error& c) {
    return c.what();
  } catch (...) {
    return "<not a cancellation>";
  }
}

/// what() of a std::exception in `e`; "<other>" otherwise.
using corio_test::message_of;

/// The exception a timeout_error carries as its cause (null if none).
inline std::exception_ptr cause_of(const std::exception& e) {
  if (const auto* n = dynamic_cast<const std::nested_exception*>(&e)) return n->nested_ptr();
  return nullptr;
}

/// The outcome of a finished task or future, as an exception_ptr: null for
/// a result, the cancelled_error for a cancellation, else the exception.
template <class H>
std::exception_ptr outcome_of(const H& h) {
  try {
    return h.exception();
  } catch (...) {
    return std::current_exception();
  }
}

// -- coroutines used throughout ---------------------------------------------------

/// Returns v after d of loop time.
inline corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

/// Throws std::runtime_error(msg) after d of loop time.
inline corio::task<int> fail_after(corio::duration d, std::string msg) {
  co_await corio::sleep(d);
  throw std::runtime_error(msg);
}

/// Sleeps for d (long enough to be "forever" in these tests when d is 1h).
inline corio::task<> nap(corio::duration d) { co_await corio::sleep(d); }

/// Records into `log` that it was cancelled (and when), then re-raises.
inline corio::task<> sleep_logging_cancel(corio::duration d, std::vector<std::string>& log, std::string name) {
  try {
    co_await corio::sleep(d);
  } catch (const corio::cancelled_error&) {
    log.push_back(name + " cancelled at " + std::to_string(now_ms()));
    throw;
  }
  log.push_back(name + " done at " + std::to_string(now_ms()));
}

/// Counts the reports that reach the loop's exception handler.
struct handler_spy {
  std::vector<corio::exception_context> reports;
  void install(corio::event_loop& loop) {
    loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context& c) { reports.push_back(c); });
  }
};

}  // namespace cbt

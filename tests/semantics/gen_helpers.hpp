// Helpers shared by the generator semantic tests (test_gen.cpp and
// test_gen_async.cpp). The bodies that never await are templates, so one
// body serves corio::generator and corio::async_generator alike.
#pragma once

#include <corio/exceptions.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "unit/counted.hpp"

namespace gent {

using log_t = std::vector<std::string>;

struct boom : std::runtime_error {
  boom() : std::runtime_error("boom") {}
};

/// Yields 1, 2, 3 and logs "start", then "end", or the generator_exit or
/// boom that stopped it.
template <class G>
G logged(log_t& log) {
  log.push_back("start");
  try {
    co_yield 1;
    co_yield 2;
    co_yield 3;
  } catch (const corio::generator_exit&) {
    log.push_back("generator_exit");
    throw;
  } catch (const boom&) {
    log.push_back("boom");
    throw;
  }
  log.push_back("end");
}

/// Holds a counted while it waits at its one yield; logs `what` if a
/// generator_exit reaches its handler.
template <class G>
G guarded(log_t& log, std::string what) {
  corio_test::counted guard;
  try {
    co_yield 1;
  } catch (const corio::generator_exit&) {
    log.push_back(what);
    throw;
  }
}

}  // namespace gent

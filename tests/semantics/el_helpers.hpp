// Helpers shared by the EL (event loop) semantic tests.
#pragma once

#include <corio/corio.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace elh {

using namespace std::chrono_literals;
using corio::event_loop;

// Records every context given to the loop's exception handler.
struct error_log {
  std::vector<corio::exception_context> items;
  void attach(event_loop& loop) {
    loop.set_exception_handler([this](event_loop&, const corio::exception_context& c) { items.push_back(c); });
  }
};

// what() of any exception corio may store.
inline std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (const corio::base_exception& x) {
    return x.what();
  } catch (...) {
    return "<unknown>";
  }
}

// A point in virtual loop time (the virtual clock starts at 0).
inline corio::time_point at(corio::duration d) { return corio::time_point(d); }

// Runs the loop until its clock reaches now + d (on virtual time: instantly).
inline void run_for(event_loop& loop, corio::duration d) {
  loop.call_later(d, [&loop] { loop.stop(); });
  loop.run_forever();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

inline corio::task<int> answer() { co_return 42; }

inline corio::task<int> answer_later(std::chrono::milliseconds d) {
  co_await corio::sleep(d);
  co_return 42;
}

inline corio::task<int> fail_with(std::string msg) {
  co_await corio::sleep(0s);
  throw std::runtime_error(msg);
}

inline corio::task<> set_flag(bool* flag) {
  *flag = true;
  co_return;
}

}  // namespace elh

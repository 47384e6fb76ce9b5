// Capturing what a call throws, for the tests of every layer.
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace corio_test {

/// What `f()` throws; null if it returns.
template <class F>
std::exception_ptr error_of(F&& f) {
  try {
    f();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

/// True if `e` holds an E.
template <class E>
bool holds(const std::exception_ptr& e) {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

/// what() of the std::exception in `e`; "<other>" if it holds something else.
inline std::string message_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "<other>";
  }
}

/// what() of the E that `f()` throws; "<no exception>" if it returns,
/// "<other exception>" if it throws something else.
template <class E = std::exception, class F>
std::string what_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (...) {
    return "<other exception>";
  }
  return "<no exception>";
}

}  // namespace corio_test

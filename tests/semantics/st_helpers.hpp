// Helpers shared by the ST (streams) semantic tests.
#pragma once

#include "sync_util.hpp"

#include <corio/stream_reader.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace sth {

using corio::testing::run_briefly;
using corio::testing::virtual_time;

inline const std::string kData = "line1\nline2\nline3\n";

/// Python: `stream._buffer`.
inline std::string buffered_bytes(const corio::stream_reader& r) {
  return std::string(r.core().data(), r.core().size());
}

// Each read as a coroutine of its own, to run or schedule as a task.
inline corio::task<std::string> read_n(corio::stream_reader r, std::ptrdiff_t n) { co_return co_await r.read(n); }
inline corio::task<std::string> readline_of(corio::stream_reader r) { co_return co_await r.readline(); }
inline corio::task<std::string> readuntil_of(corio::stream_reader r, std::string sep) {
  co_return co_await r.readuntil(sep);
}
inline corio::task<std::string> readexactly_of(corio::stream_reader r, std::size_t n) {
  co_return co_await r.readexactly(n);
}

// The E that `f()` throws; nullopt if it returns or throws something else.
template <class E, class F>
std::optional<E> caught(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  } catch (...) {
  }
  return std::nullopt;
}

/// Stands for the ValueError() the Python tests give set_exception.
struct python_value_error : std::invalid_argument {
  python_value_error() : std::invalid_argument("ValueError()") {}
};

}  // namespace sth

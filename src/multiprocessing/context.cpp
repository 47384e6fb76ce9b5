// Start methods and contexts (see multiprocessing/context.hpp).
#include <corio/multiprocessing/context.hpp>

#include <mutex>
#include <optional>
#include <stdexcept>

namespace corio::multiprocessing {

namespace {

const char* const kMethods[] = {"fork", "spawn", "forkserver"};

std::string checked(std::string_view m) {
  for (const char* k : kMethods)
    if (m == k) return std::string(m);
  throw std::invalid_argument("cannot find context for '" + std::string(m) + "'");
}

// Python: DefaultContext._actual_context: none until set or first used.
struct default_state {
  std::mutex mu;
  std::optional<std::string> method;
};

default_state& state() {
  static auto* const s = new default_state;
  return *s;
}

}  // namespace

std::vector<std::string> get_all_start_methods() { return {"fork", "spawn", "forkserver"}; }

std::string get_start_method(bool allow_none) {
  default_state& s = state();
  std::lock_guard g(s.mu);
  if (!s.method) {
    if (allow_none) return {};
    s.method = "fork";  // asking fixes it (MP-13)
  }
  return *s.method;
}

void set_start_method(std::string_view method, bool force) {
  default_state& s = state();
  std::string m = checked(method);
  std::lock_guard g(s.mu);
  if (s.method && !force) throw std::runtime_error("context has already been set");
  s.method = std::move(m);
}

context get_context(std::optional<std::string_view> method) {
  if (!method) return context(get_start_method());
  return context(checked(*method));
}

void context::start(process& p) const { p.start_with(*this); }

void context::set_start_method(std::string_view) const {
  throw std::invalid_argument("cannot set start method of concrete context");
}

}  // namespace corio::multiprocessing

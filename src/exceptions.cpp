#include <corio/exceptions.hpp>

#include <corio/detail/repr.hpp>

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <ostream>
#include <typeinfo>

namespace corio {

namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && p ? std::string(p.get()) : std::string(name);
}

std::string summarize(const std::string& msg, const std::vector<std::exception_ptr>& excs) {
  std::string s = msg;
  s += " (";
  s += std::to_string(excs.size());
  s += excs.size() == 1 ? " sub-exception)" : " sub-exceptions)";
  for (std::size_t i = 0; i < excs.size(); ++i) {
    s += "\n  [";
    s += std::to_string(i + 1);
    s += "] ";
    s += describe_exception(excs[i]);
  }
  return s;
}

}  // namespace

namespace {
std::string incomplete_message(std::size_t got, std::optional<std::size_t> expected) {
  return std::to_string(got) + " bytes read on a total of " +
         (expected ? std::to_string(*expected) : std::string("undefined")) + " expected bytes";
}
}  // namespace

incomplete_read_error::incomplete_read_error(std::string partial, std::optional<std::size_t> expected)
    : std::runtime_error(incomplete_message(partial.size(), expected)),
      partial_(std::move(partial)),
      expected_(expected) {}

base_exception_group::base_exception_group(std::string msg, std::vector<std::exception_ptr> exceptions)
    : base_exception(msg), msg_(std::move(msg)), full_(summarize(msg_, exceptions)), excs_(std::move(exceptions)) {}

bool is_std_exception(const std::exception_ptr& e) noexcept { return detail::exception_is<std::exception>(e); }

bool is_exit_request(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const keyboard_interrupt&) {
    return true;
  } catch (const system_exit&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool is_cancelled_error(const std::exception_ptr& e) noexcept { return detail::exception_is<cancelled_error>(e); }

void throw_exception_group(std::string msg, std::vector<std::exception_ptr> excs) {
  bool all_std = true;
  for (const auto& e : excs) all_std = all_std && is_std_exception(e);
  if (all_std) throw exception_group(std::move(msg), std::move(excs));
  throw base_exception_group(std::move(msg), std::move(excs));
}

namespace {
// "type: message", or the type alone for an empty message (a bare
// cancelled_error), as Python's traceback prints "CancelledError".
std::string with_message(std::string type, const char* what) {
  if (what == nullptr || *what == '\0') return type;
  return type + ": " + what;
}
}  // namespace

std::string describe_exception(const std::exception_ptr& e) {
  if (!e) return "(none)";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return with_message(demangle(typeid(x).name()), x.what());
  } catch (const base_exception& x) {
    return with_message(demangle(typeid(x).name()), x.what());
  } catch (...) {
    const std::type_info* ti = abi::__cxa_current_exception_type();
    return ti ? demangle(ti->name()) : std::string("unknown exception");
  }
}

namespace {

// Python: ExceptionGroup('msg', [ValueError('a'), TypeError('b')]).
void write_group(std::ostream& os, const std::type_info& t, const base_exception_group& g) {
  os << detail::type_name(t) << '(';
  detail::write_quoted(os, g.message());
  os << ", [";
  const auto& excs = g.exceptions();
  for (std::size_t i = 0; i < excs.size(); ++i) {
    if (i != 0) os << ", ";
    detail::write_exception(os, excs[i]);
  }
  os << "])";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const base_exception& e) {
  if (const auto* g = dynamic_cast<const base_exception_group*>(&e)) {
    write_group(os, typeid(e), *g);
  } else {
    detail::write_exception_object(os, typeid(e), e.what());
  }
  return os;
}

std::ostream& operator<<(std::ostream& os, const exception_group& e) {
  write_group(os, typeid(e), e);
  return os;
}

}  // namespace corio

// The formatting helpers of the objects' text forms (detail/repr.hpp).
#include <corio/detail/repr.hpp>

#include <corio/detail/saturate.hpp>
#include <corio/exceptions.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>

namespace corio {
namespace detail {

std::string type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && p ? std::string(p.get()) : std::string(t.name());
  static const std::string long_string =
      "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
  for (std::size_t at; (at = name.find(long_string)) != std::string::npos;)
    name.replace(at, long_string.size(), "std::string");
  return name;
}

void write_quoted(std::ostream& os, std::string_view s) {
  // reprlib.maxstring is 30: longer strings keep their two ends.
  constexpr std::size_t kMax = 30;
  constexpr std::size_t kHead = (kMax - 3) / 2;
  constexpr std::size_t kTail = kMax - 3 - kHead;
  const auto put = [&os](char c) {
    switch (c) {
      case '\'': os << "\\'"; return;
      case '\\': os << "\\\\"; return;
      case '\n': os << "\\n"; return;
      case '\r': os << "\\r"; return;
      case '\t': os << "\\t"; return;
      default: break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      os << buf;
    } else {
      os << c;  // UTF-8 bytes pass through, as Python prints the characters
    }
  };
  os << '\'';
  if (s.size() <= kMax) {
    for (char c : s) put(c);
  } else {
    for (char c : s.substr(0, kHead)) put(c);
    os << "...";
    for (char c : s.substr(s.size() - kTail)) put(c);
  }
  os << '\'';
}

void write_address(std::ostream& os, const void* p) {
  char buf[2 + 2 * sizeof(void*) + 1];
  std::snprintf(buf, sizeof buf, "%#lx", static_cast<unsigned long>(reinterpret_cast<std::uintptr_t>(p)));
  os << (p ? buf : "0x0");
}

void write_seconds(std::ostream& os, std::int64_t ns) {
  if (ns == kNeverNs) {
    os << "never";
    return;
  }
  // Python prints loop.time() as a float: whole seconds and the fraction
  // without trailing zeros ("1.5", "2.0").
  const bool neg = ns < 0;
  const auto mag = neg ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  char frac[16];
  std::snprintf(frac, sizeof frac, "%09llu", static_cast<unsigned long long>(mag % 1000000000u));
  std::size_t len = 9;
  while (len > 1 && frac[len - 1] == '0') --len;
  frac[len] = '\0';
  os << (neg ? "-" : "") << mag / 1000000000u << '.' << frac;
}

void write_exception_object(std::ostream& os, const std::type_info& t, const char* what) {
  os << type_name(t) << '(';
  if (what && *what) write_quoted(os, what);
  os << ')';
}

void write_exception(std::ostream& os, const std::exception_ptr& e) {
  if (!e) {
    os << "None";
    return;
  }
  try {
    std::rethrow_exception(e);
  } catch (const exception_group& g) {
    os << g;
  } catch (const base_exception& x) {
    os << x;
  } catch (const std::exception& x) {
    write_exception_object(os, typeid(x), x.what());
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    os << (t ? type_name(*t) : std::string("unknown exception"));
  }
}

std::string stream_to_string(void (*write)(std::ostream&, const void*), const void* x) {
  std::ostringstream os;
  write(os, x);
  return std::move(os).str();
}

}  // namespace detail

std::string to_string(const std::exception_ptr& e) {
  std::ostringstream os;
  detail::write_exception(os, e);
  return std::move(os).str();
}

}  // namespace corio

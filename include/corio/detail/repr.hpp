// Readable text forms of corio's objects (Python: repr() and print()): the
// formatting helpers every class's operator<< shares, and corio::to_string.
// Apart from to_string, not for users.
//
// A repr is read-only and cheap: it reads the object's state where it is (no
// retrieval, no "exception was retrieved" mark, no wake-up) and allocates
// only while it formats, so it costs nothing until something is printed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <ostream>
#include <ranges>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

namespace corio {
namespace detail {

// True if `os << v` compiles for a `const T&`.
template <class T>
concept streamable = requires(std::ostream& os, const T& v) { os << v; };

// The demangled name of a type, with std::string spelled so.
std::string type_name(const std::type_info& t);
// Python's repr of a str: single quotes, escapes, and a long string cut in
// the middle as reprlib does ('abcdefghijklm...nopqrstuvwxyz').
void write_quoted(std::ostream& os, std::string_view s);
// An address as Python's id() prints in reprs: 0x55d0c1e2a2b0.
void write_address(std::ostream& os, const void* p);
// Python: repr(exc), as `std::runtime_error('boom')` (`corio::timeout_error()`
// for an empty message); a group lists its members. "None" for null.
void write_exception(std::ostream& os, const std::exception_ptr& e);
// An exception object of dynamic type `t` as `t('what')`.
void write_exception_object(std::ostream& os, const std::type_info& t, const char* what);
// Loop time in seconds, as Python prints loop.time() ("1.5"); "never" for
// a deadline that saturated.
void write_seconds(std::ostream& os, std::int64_t ns);
// Runs `write` on a string stream: the engine of to_string.
std::string stream_to_string(void (*write)(std::ostream&, const void*), const void* x);

// How many elements of a container or queue a repr lists (Python's
// reprlib.maxlist); past that it ends the list with "...".
inline constexpr std::size_t kReprMaxItems = 6;

template <class T>
inline constexpr bool is_optional_v = false;
template <class T>
inline constexpr bool is_optional_v<std::optional<T>> = true;
template <class T>
inline constexpr bool is_variant_v = false;
template <class... T>
inline constexpr bool is_variant_v<std::variant<T...>> = true;
template <class T>
concept tuple_like = requires { std::tuple_size<T>::value; };

template <class T>
void write_value(std::ostream& os, const T& v);

template <class T>
constexpr bool has_text_form();
template <class T, std::size_t... I>
constexpr bool members_have_text_form(std::index_sequence<I...>) {
  return (has_text_form<std::remove_cvref_t<std::tuple_element_t<I, T>>>() && ...);
}
template <class T>
inline constexpr bool variant_has_text_form = false;
template <class... U>
inline constexpr bool variant_has_text_form<std::variant<U...>> = (has_text_form<U>() && ...);

// True if write_value shows a T's value rather than only its type's name.
template <class T>
constexpr bool has_text_form() {
  if constexpr (std::is_arithmetic_v<T> || std::is_convertible_v<const T&, std::string_view> ||
                std::is_same_v<T, std::exception_ptr> || std::is_same_v<T, std::nullptr_t> || streamable<T>) {
    return true;
  } else if constexpr (is_optional_v<T>) {
    return has_text_form<typename T::value_type>();
  } else if constexpr (is_variant_v<T>) {
    return variant_has_text_form<T>;
  } else if constexpr (std::ranges::input_range<const T>) {
    return has_text_form<std::remove_cvref_t<std::ranges::range_reference_t<const T>>>();
  } else if constexpr (tuple_like<T>) {
    return members_have_text_form<T>(std::make_index_sequence<std::tuple_size_v<T>>());
  } else {
    return false;
  }
}

template <class Tuple, std::size_t... I>
void write_tuple(std::ostream& os, const Tuple& t, std::index_sequence<I...>) {
  os << '(';
  ((os << (I == 0 ? "" : ", "), write_value(os, std::get<I>(t))), ...);
  os << (sizeof...(I) == 1 ? ",)" : ")");
}

// Writes up to kReprMaxItems of [first, last) as a list: [1, 2, ...].
template <class It, class End>
void write_items(std::ostream& os, It first, End last) {
  os << '[';
  std::size_t n = 0;
  for (; first != last; ++first, ++n) {
    if (n == kReprMaxItems) {
      os << ", ...";
      break;
    }
    if (n != 0) os << ", ";
    write_value(os, *first);
  }
  os << ']';
}

// A queue's ` items=[1, 2, ...]`: the first kReprMaxItems of the n items
// that at(i) gives; nothing for none.
template <class At>
void write_items_field(std::ostream& os, std::size_t n, At at) {
  if (n == 0) return;
  os << " items=[";
  for (std::size_t i = 0; i < n && i < kReprMaxItems; ++i) {
    if (i != 0) os << ", ";
    write_value(os, at(i));
  }
  os << (n > kReprMaxItems ? ", ...]" : "]");
}

// A value in a repr (a result, a queue item, a default): strings quoted,
// containers as lists, pairs and tuples as tuples, anything with an
// operator<< through it, and any other type as its name in angle brackets
// (`<point>`), so that printing never fails to compile.
template <class T>
void write_value(std::ostream& os, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "true" : "false");
  } else if constexpr (std::is_same_v<T, char>) {
    write_quoted(os, std::string_view(&v, 1));
  } else if constexpr (std::is_same_v<T, signed char> || std::is_same_v<T, unsigned char>) {
    os << static_cast<int>(v);
  } else if constexpr (std::is_pointer_v<T> && std::is_convertible_v<T, const char*>) {
    if (v == nullptr)
      os << "nullptr";
    else
      write_quoted(os, std::string_view(v));
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    write_quoted(os, std::string_view(v));
  } else if constexpr (std::is_same_v<T, std::exception_ptr>) {
    write_exception(os, v);
  } else if constexpr (std::is_same_v<T, std::nullptr_t>) {
    os << "nullptr";
  } else if constexpr (is_optional_v<T>) {
    if (v)
      write_value(os, *v);
    else
      os << "nullopt";
  } else if constexpr (is_variant_v<T>) {
    std::visit([&os](const auto& x) { write_value(os, x); }, v);
  } else if constexpr (streamable<T>) {
    os << v;
  } else if constexpr (std::ranges::input_range<const T>) {
    write_items(os, std::ranges::begin(v), std::ranges::end(v));
  } else if constexpr (tuple_like<T>) {
    write_tuple(os, v, std::make_index_sequence<std::tuple_size_v<T>>());
  } else {
    os << '<' << type_name(typeid(T)) << '>';
  }
}

}  // namespace detail

/// Python: repr(x) / str(x): the text `std::cout << x` prints, for any corio
/// object that has a text form (tasks, futures, handles, locks, queues,
/// threads, generators, context variables, exception groups). Found by
/// argument-dependent lookup: `to_string(task)`.
template <class T>
  requires(std::is_class_v<T> && detail::streamable<T>)
std::string to_string(const T& x) {
  return detail::stream_to_string([](std::ostream& os, const void* p) { os << *static_cast<const T*>(p); }, &x);
}

/// Python: repr(exc) for an exception held in an exception_ptr:
/// `std::runtime_error('boom')`; "None" for a null one.
std::string to_string(const std::exception_ptr& e);

}  // namespace corio

// The same to_string for the objects of corio's other namespaces.
namespace corio::threading {
using corio::to_string;
}
namespace corio::futures {
using corio::to_string;
}

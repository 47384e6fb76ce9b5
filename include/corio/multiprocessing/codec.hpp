// Python: pickle, as multiprocessing uses it: the one codec for everything
// that crosses a process (a spawned target's arguments, pipe messages,
// results, exceptions). Nothing is pickled: values are written as
// MessagePack (msgpack-cxx), which other languages read too (Python's
// msgpack package: `msgpack.unpackb(data)`).
//
// What crosses, and as what:
//   bool, integers, floating point      bool, int, float
//   enums                                their underlying integer
//   std::string (std::string_view out)   str (decoding also takes bin)
//   bytes (std::vector<std::byte> or     bin
//     std::vector<unsigned char>)
//   std::vector, std::deque, std::list,  array
//     std::array, std::set,
//     std::unordered_set
//   std::map, std::unordered_map         map
//   std::pair, std::tuple                array of its members
//   std::optional                        nil or the value
//   std::variant                         [index, value]
//   std::monostate, std::nullptr_t       nil
//   std::chrono::duration                its count (int or float, in its own period)
//   std::exception_ptr                   map: type, message, traceback, errno
//   a struct with CORIO_CODEC(a, b, c)   array [a, b, c]
// and codec<T> may be specialised for anything else. A type with none of
// these is a compile-time error in the instantiation of codec<T>, which
// names it.
//
// Decoding reads bytes that may come from outside: every malformed input,
// mismatched shape, out-of-range number and trailing byte raises
// codec_error, with the C++ type expected; sizes are bounded by the input's
// length before anything is allocated.
#pragma once

#include <msgpack.hpp>

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace corio::multiprocessing {

/// Python: pickle.PicklingError and UnpicklingError in one: a value that
/// cannot be encoded, or bytes that do not decode to the type asked for.
class codec_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Python: bytes, as a codec value (MessagePack bin).
using bytes = std::vector<std::byte>;

/// Where encode() writes: a std::string grown in place.
class codec_writer {
 public:
  explicit codec_writer(std::string& out) noexcept : out_(&out) {}
  void write(const char* p, std::size_t n) { out_->append(p, n); }

 private:
  std::string* out_;
};
using packer = msgpack::packer<codec_writer>;
using object = msgpack::object;

/// How a T is written and read. Specialise it for a type of your own (or
/// give the type CORIO_CODEC): `static void encode(packer&, const T&)` and
/// `static T decode(const object&)`.
template <class T, class Enable = void>
struct codec;

namespace detail {

template <class T>
inline constexpr bool always_false = false;

// The demangled name of T, for error messages.
std::string codec_type_name(const std::type_info& t);
[[noreturn]] void codec_mismatch(const std::type_info& want, const object& o, const char* detail = nullptr);
const char* codec_kind(const object& o) noexcept;

template <class T>
[[noreturn]] void mismatch(const object& o, const char* why = nullptr) {
  codec_mismatch(typeid(T), o, why);
}

template <class T>
concept has_fields = requires(T& t, const T& ct) {
  t.corio_fields();
  ct.corio_fields();
};

template <class T>
concept has_codec = requires(packer& p, const T& v, const object& o) {
  codec<T>::encode(p, v);
  { codec<T>::decode(o) } -> std::same_as<T>;
};

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

template <class T>
concept byte_like = std::is_same_v<T, std::byte> || std::is_same_v<T, unsigned char>;

// Containers written as arrays: vector (not of bytes), deque, list, set,
// unordered_set.
template <class T>
struct is_sequence : std::false_type {};
template <class T, class A>
  requires(!byte_like<T>)
struct is_sequence<std::vector<T, A>> : std::true_type {};
template <class T, class A>
struct is_sequence<std::deque<T, A>> : std::true_type {};
template <class T, class A>
struct is_sequence<std::list<T, A>> : std::true_type {};
template <class T, class C, class A>
struct is_sequence<std::set<T, C, A>> : std::true_type {};
template <class T, class H, class E, class A>
struct is_sequence<std::unordered_set<T, H, E, A>> : std::true_type {};

template <class T>
struct is_map : std::false_type {};
template <class K, class V, class C, class A>
struct is_map<std::map<K, V, C, A>> : std::true_type {};
template <class K, class V, class H, class E, class A>
struct is_map<std::unordered_map<K, V, H, E, A>> : std::true_type {};

template <class C>
void append(C& c, typename C::value_type&& v) {
  if constexpr (requires { c.push_back(std::move(v)); }) {
    c.push_back(std::move(v));
  } else {
    c.insert(std::move(v));
  }
}

template <class T>
void check_array(const object& o, std::size_t n) {
  if (o.type != msgpack::type::ARRAY) mismatch<T>(o);
  if (o.via.array.size != n) mismatch<T>(o, "wrong number of members");
}

}  // namespace detail

/// No codec for T: the error names T in the instantiation of codec<T>.
template <class T, class Enable>
struct codec {
  static_assert(detail::always_false<T>,
                "corio::multiprocessing::codec<T>: this type cannot cross a process. Give it "
                "CORIO_CODEC(member, ...) or specialise codec<T>; T is named in the instantiation above");
};

template <>
struct codec<bool> {
  static void encode(packer& p, bool v) { v ? p.pack_true() : p.pack_false(); }
  static bool decode(const object& o) {
    if (o.type != msgpack::type::BOOLEAN) detail::mismatch<bool>(o);
    return o.via.boolean;
  }
};

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
struct codec<T> {
  static void encode(packer& p, T v) {
    if constexpr (std::is_signed_v<T>) {
      p.pack_int64(static_cast<std::int64_t>(v));
    } else {
      p.pack_uint64(static_cast<std::uint64_t>(v));
    }
  }
  static T decode(const object& o) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
      const std::uint64_t u = o.via.u64;
      if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) detail::mismatch<T>(o, "out of range");
      return static_cast<T>(u);
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
      const std::int64_t i = o.via.i64;
      if constexpr (std::is_unsigned_v<T>) {
        detail::mismatch<T>(o, "out of range");
      } else {
        if (i < static_cast<std::int64_t>(std::numeric_limits<T>::min())) detail::mismatch<T>(o, "out of range");
        return static_cast<T>(i);
      }
    }
    detail::mismatch<T>(o);
  }
};

template <class T>
  requires std::is_floating_point_v<T>
struct codec<T> {
  // Written here, not by packer::pack_float/pack_double: those write a
  // whole-numbered value as an integer (Python would read 1.0 back as 1),
  // and their range check converts 2^64 and above to uint64_t, which is
  // undefined. pack_bin_body appends bytes as they are.
  static void encode(packer& p, T v) {
    if constexpr (sizeof(T) <= sizeof(float)) {
      const auto bits = std::bit_cast<std::uint32_t>(static_cast<float>(v));
      char b[5] = {static_cast<char>(0xca)};
      for (int i = 0; i < 4; ++i) b[1 + i] = static_cast<char>(bits >> (24 - 8 * i));
      p.pack_bin_body(b, sizeof b);
    } else {
      const auto bits = std::bit_cast<std::uint64_t>(static_cast<double>(v));
      char b[9] = {static_cast<char>(0xcb)};
      for (int i = 0; i < 8; ++i) b[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
      p.pack_bin_body(b, sizeof b);
    }
  }
  static T decode(const object& o) {
    switch (o.type) {
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        return static_cast<T>(o.via.f64);
      case msgpack::type::POSITIVE_INTEGER:  // Python writes 1.0 as a float, but other peers may not
        return static_cast<T>(o.via.u64);
      case msgpack::type::NEGATIVE_INTEGER:
        return static_cast<T>(o.via.i64);
      default:
        detail::mismatch<T>(o);
    }
  }
};

template <class T>
  requires std::is_enum_v<T>
struct codec<T> {
  using U = std::underlying_type_t<T>;
  static void encode(packer& p, T v) { codec<U>::encode(p, static_cast<U>(v)); }
  static T decode(const object& o) { return static_cast<T>(codec<U>::decode(o)); }
};

template <>
struct codec<std::string> {
  static void encode(packer& p, const std::string& v) {
    p.pack_str(static_cast<std::uint32_t>(v.size()));
    p.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
  }
  static std::string decode(const object& o) {
    if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
    if (o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
    detail::mismatch<std::string>(o);
  }
};

/// Encoding only (a view owns nothing to decode into).
template <>
struct codec<std::string_view> {
  static void encode(packer& p, std::string_view v) {
    p.pack_str(static_cast<std::uint32_t>(v.size()));
    p.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
  }
};

template <class B, class A>
  requires detail::byte_like<B>
struct codec<std::vector<B, A>> {
  using V = std::vector<B, A>;
  static void encode(packer& p, const V& v) {
    p.pack_bin(static_cast<std::uint32_t>(v.size()));
    p.pack_bin_body(reinterpret_cast<const char*>(v.data()), static_cast<std::uint32_t>(v.size()));
  }
  static V decode(const object& o) {
    const char* ptr;
    std::size_t n;
    if (o.type == msgpack::type::BIN) {
      ptr = o.via.bin.ptr;
      n = o.via.bin.size;
    } else if (o.type == msgpack::type::STR) {
      ptr = o.via.str.ptr;
      n = o.via.str.size;
    } else {
      detail::mismatch<V>(o);
    }
    const auto* b = reinterpret_cast<const B*>(ptr);
    return V(b, b + n);
  }
};

template <class C>
  requires detail::is_sequence<C>::value
struct codec<C> {
  using T = typename C::value_type;
  static void encode(packer& p, const C& c) {
    p.pack_array(static_cast<std::uint32_t>(c.size()));
    for (const auto& x : c) codec<T>::encode(p, x);
  }
  static C decode(const object& o) {
    if (o.type != msgpack::type::ARRAY) detail::mismatch<C>(o);
    C out;
    if constexpr (requires { out.reserve(std::size_t{}); }) out.reserve(o.via.array.size);
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) detail::append(out, codec<T>::decode(o.via.array.ptr[i]));
    return out;
  }
};

template <class T, std::size_t N>
struct codec<std::array<T, N>> {
  static void encode(packer& p, const std::array<T, N>& a) {
    p.pack_array(static_cast<std::uint32_t>(N));
    for (const auto& x : a) codec<T>::encode(p, x);
  }
  static std::array<T, N> decode(const object& o) {
    detail::check_array<std::array<T, N>>(o, N);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<T, N>{codec<T>::decode(o.via.array.ptr[I])...};
    }(std::make_index_sequence<N>());
  }
};

template <class M>
  requires detail::is_map<M>::value
struct codec<M> {
  using K = typename M::key_type;
  using V = typename M::mapped_type;
  static void encode(packer& p, const M& m) {
    p.pack_map(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      codec<K>::encode(p, k);
      codec<V>::encode(p, v);
    }
  }
  static M decode(const object& o) {
    if (o.type != msgpack::type::MAP) detail::mismatch<M>(o);
    M out;
    for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
      const auto& kv = o.via.map.ptr[i];
      out.insert_or_assign(codec<K>::decode(kv.key), codec<V>::decode(kv.val));
    }
    return out;
  }
};

template <class... Ts>
struct codec<std::tuple<Ts...>> {
  using Tup = std::tuple<Ts...>;
  static void encode(packer& p, const Tup& t) {
    p.pack_array(static_cast<std::uint32_t>(sizeof...(Ts)));
    std::apply([&](const auto&... x) { (codec<std::remove_cvref_t<decltype(x)>>::encode(p, x), ...); }, t);
  }
  static Tup decode(const object& o) {
    detail::check_array<Tup>(o, sizeof...(Ts));
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return Tup{codec<Ts>::decode(o.via.array.ptr[I])...};
    }(std::index_sequence_for<Ts...>());
  }
};

// The empty tuple (a target without arguments): an empty array.
template <>
struct codec<std::tuple<>> {
  static void encode(packer& p, const std::tuple<>&) { p.pack_array(0); }
  static std::tuple<> decode(const object& o) {
    detail::check_array<std::tuple<>>(o, 0);
    return {};
  }
  static void encode_refs(packer& p, const std::tuple<>&) { p.pack_array(0); }
  static void decode_refs(const object& o, std::tuple<>&, const std::type_info& owner) {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != 0) detail::codec_mismatch(owner, o);
  }
};

template <class A, class B>
struct codec<std::pair<A, B>> {
  static void encode(packer& p, const std::pair<A, B>& v) {
    p.pack_array(2);
    codec<A>::encode(p, v.first);
    codec<B>::encode(p, v.second);
  }
  static std::pair<A, B> decode(const object& o) {
    detail::check_array<std::pair<A, B>>(o, 2);
    return {codec<A>::decode(o.via.array.ptr[0]), codec<B>::decode(o.via.array.ptr[1])};
  }
};

template <class T>
struct codec<std::optional<T>> {
  static void encode(packer& p, const std::optional<T>& v) {
    if (v) {
      codec<T>::encode(p, *v);
    } else {
      p.pack_nil();
    }
  }
  static std::optional<T> decode(const object& o) {
    if (o.type == msgpack::type::NIL) return std::nullopt;
    return codec<T>::decode(o);
  }
};

template <>
struct codec<std::monostate> {
  static void encode(packer& p, std::monostate) { p.pack_nil(); }
  static std::monostate decode(const object& o) {
    if (o.type != msgpack::type::NIL) detail::mismatch<std::monostate>(o);
    return {};
  }
};

template <>
struct codec<std::nullptr_t> {
  static void encode(packer& p, std::nullptr_t) { p.pack_nil(); }
  static std::nullptr_t decode(const object& o) {
    if (o.type != msgpack::type::NIL) detail::mismatch<std::nullptr_t>(o);
    return nullptr;
  }
};

template <class... Ts>
struct codec<std::variant<Ts...>> {
  using Var = std::variant<Ts...>;
  static void encode(packer& p, const Var& v) {
    if (v.valueless_by_exception()) throw codec_error("codec: a valueless std::variant cannot be encoded");
    p.pack_array(2);
    p.pack_uint64(v.index());
    std::visit([&](const auto& x) { codec<std::remove_cvref_t<decltype(x)>>::encode(p, x); }, v);
  }
  static Var decode(const object& o) {
    detail::check_array<Var>(o, 2);
    const std::size_t i = codec<std::size_t>::decode(o.via.array.ptr[0]);
    if (i >= sizeof...(Ts)) detail::mismatch<Var>(o, "alternative index out of range");
    static constexpr Var (*makers[])(const object&) = {
        +[](const object& x) { return Var(std::in_place_type<Ts>, codec<Ts>::decode(x)); }...};
    return makers[i](o.via.array.ptr[1]);
  }
};

template <class Rep, class Period>
struct codec<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  static void encode(packer& p, const D& d) { codec<Rep>::encode(p, d.count()); }
  static D decode(const object& o) { return D(codec<Rep>::decode(o)); }
};

/// What a decoded exception_ptr holds: the same corio or standard exception
/// type when corio knows the name (caused by a remote_traceback, see
/// errors.hpp), remote_error otherwise.
template <>
struct codec<std::exception_ptr> {
  static void encode(packer& p, const std::exception_ptr& e);
  static std::exception_ptr decode(const object& o);
};

/// A struct with CORIO_CODEC(members...): an array of its members.
template <class T>
  requires detail::has_fields<T>
struct codec<T> {
  static void encode(packer& p, const T& v) {
    const auto fields = v.corio_fields();
    codec<std::remove_cvref_t<decltype(fields)>>::encode_refs(p, fields);
  }
  static T decode(const object& o) {
    T v{};
    auto fields = v.corio_fields();
    codec<std::remove_cvref_t<decltype(fields)>>::decode_refs(o, fields, typeid(T));
    return v;
  }
};

// The references a CORIO_CODEC struct gives: encoded in place, decoded into.
template <class... Ts>
struct codec<std::tuple<Ts&...>> {
  static void encode_refs(packer& p, const std::tuple<Ts&...>& t) {
    p.pack_array(static_cast<std::uint32_t>(sizeof...(Ts)));
    std::apply([&](const auto&... x) { (codec<std::remove_cvref_t<decltype(x)>>::encode(p, x), ...); }, t);
  }
  static void decode_refs(const object& o, std::tuple<Ts&...>& t, const std::type_info& owner) {
    if (o.type != msgpack::type::ARRAY) detail::codec_mismatch(owner, o);
    if (o.via.array.size != sizeof...(Ts)) detail::codec_mismatch(owner, o, "wrong number of members");
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((std::get<I>(t) = codec<std::remove_cvref_t<Ts>>::decode(o.via.array.ptr[I])), ...);
    }(std::index_sequence_for<Ts...>());
  }
};

/// Writes `v` after what `out` holds.
template <class T>
void encode_into(std::string& out, const T& v) {
  codec_writer w(out);
  packer p(w);
  codec<T>::encode(p, v);
}

/// Python: pickle.dumps(v).
template <class T>
std::string encode(const T& v) {
  std::string out;
  encode_into(out, v);
  return out;
}

namespace detail {
// Parses one MessagePack value that must span `data` exactly; throws
// codec_error (naming `want`) for malformed, truncated or trailing bytes.
// Strings and binaries in the result point into `data`.
msgpack::object_handle parse_exactly(std::string_view data, const std::type_info& want);
}  // namespace detail

/// Python: pickle.loads(data), for a T: codec_error if `data` is not one
/// value of T's shape.
template <class T>
T decode(std::string_view data) {
  const msgpack::object_handle h = detail::parse_exactly(data, typeid(T));
  return codec<T>::decode(h.get());
}

namespace detail {
// File descriptors cross a process only as arguments of a process being
// started (inheritance): while a spawn or forkserver payload is encoded,
// share_fd(fd) lists `fd` for the child and gives its index; in the child,
// received_fd(index) gives the fd it got. Elsewhere (a pipe message),
// share_fd raises codec_error: a silent unshared copy must never happen.
std::size_t share_fd(int fd, const char* what);
int received_fd(std::size_t index, const char* what);
// While alive, share_fd() collects into `fds` (this thread).
class fd_collector {
 public:
  fd_collector() noexcept;
  ~fd_collector();
  fd_collector(const fd_collector&) = delete;
  fd_collector& operator=(const fd_collector&) = delete;
  std::vector<int> fds;

 private:
  std::vector<int>* prev_;
};
// True while a start payload is encoded (share_fd() lists fds).
bool sharing_fds() noexcept;
// In a child decoding its start arguments: `fd` was received only to reach
// an object that holds an fd of its own once attached, and is closed by
// received_fds_done(), which the child calls once its arguments are decoded.
void close_after_decoding(int fd);
void received_fds_done() noexcept;
// While alive, received_fd() reads `fds` (this thread).
class fd_provider {
 public:
  explicit fd_provider(const std::vector<int>& fds) noexcept;
  ~fd_provider();
  fd_provider(const fd_provider&) = delete;
  fd_provider& operator=(const fd_provider&) = delete;

 private:
  const std::vector<int>* prev_;
};
}  // namespace detail

/// True if T can cross a process (has a codec).
template <class T>
inline constexpr bool can_cross = detail::has_codec<T>;

}  // namespace corio::multiprocessing

/// Python: what makes a class picklable. Inside a struct or class, names
/// the members that cross a process, in order (encoded as an array):
///   struct point { int x, y; std::string label; CORIO_CODEC(x, y, label) };
/// The type must be default-constructible (decoding assigns each member).
#define CORIO_CODEC(...)                                                   \
  auto corio_fields() { return std::tie(__VA_ARGS__); }                    \
  auto corio_fields() const { return std::tie(__VA_ARGS__); }

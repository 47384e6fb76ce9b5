// corio::multiprocessing's codec: what crosses a process, round trips, the
// errors decoding raises for bytes that do not fit, and exceptions crossing.
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/errors.hpp>

#include <corio/exceptions.hpp>
#include <corio/os_errors.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

enum class colour : std::uint8_t { red = 1, green = 2 };

struct point {
  int x = 0;
  int y = 0;
  std::string label;
  CORIO_CODEC(x, y, label)
  bool operator==(const point&) const = default;
};

struct shape {
  std::vector<point> points;
  std::optional<colour> fill;
  std::map<std::string, double> props;
  CORIO_CODEC(points, fill, props)
  bool operator==(const shape&) const = default;
};

struct my_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T round_trip(const T& v) {
  return mp::decode<T>(mp::encode(v));
}

std::string hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

}  // namespace

TEST(codec, scalars_round_trip) {
  EXPECT_EQ(round_trip(true), true);
  EXPECT_EQ(round_trip(false), false);
  EXPECT_EQ(round_trip(0), 0);
  EXPECT_EQ(round_trip(-1), -1);
  EXPECT_EQ(round_trip(std::numeric_limits<std::int64_t>::min()), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(round_trip(std::numeric_limits<std::uint64_t>::max()), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(round_trip(std::uint8_t{255}), 255);
  EXPECT_DOUBLE_EQ(round_trip(3.25), 3.25);
  EXPECT_FLOAT_EQ(round_trip(1.5f), 1.5f);
  EXPECT_EQ(round_trip(colour::green), colour::green);
  EXPECT_EQ(round_trip(std::string("h\0llo", 5)), std::string("h\0llo", 5));
  EXPECT_EQ(round_trip(std::chrono::milliseconds(1500)), std::chrono::milliseconds(1500));
  EXPECT_EQ(round_trip(std::chrono::duration<double>(0.25)), std::chrono::duration<double>(0.25));
}

TEST(codec, the_wire_format_is_plain_messagepack_as_python_writes_it) {
  // msgpack.packb(5), packb(-1), packb("ab"), packb([1, "x"]), packb({"a": None}), packb(b"\x01")
  EXPECT_EQ(hex(mp::encode(5)), "05");
  EXPECT_EQ(hex(mp::encode(-1)), "ff");
  EXPECT_EQ(hex(mp::encode(std::string("ab"))), "a26162");
  EXPECT_EQ(hex(mp::encode(std::tuple<int, std::string>(1, "x"))), "9201a178");
  EXPECT_EQ(hex(mp::encode(std::map<std::string, std::optional<int>>{{"a", std::nullopt}})), "81a161c0");
  EXPECT_EQ(hex(mp::encode(mp::bytes{std::byte{1}})), "c40101");
  EXPECT_EQ(hex(mp::encode(1.5)), "cb3ff8000000000000");
}

TEST(codec, containers_round_trip) {
  const std::vector<int> v{1, 2, 3};
  EXPECT_EQ(round_trip(v), v);
  const std::array<std::string, 2> a{"a", "b"};
  EXPECT_EQ(round_trip(a), a);
  const std::set<int> s{3, 1, 2};
  EXPECT_EQ(round_trip(s), s);
  const std::unordered_map<std::string, std::vector<int>> m{{"x", {1}}, {"y", {}}};
  EXPECT_EQ(round_trip(m), m);
  const std::pair<int, std::string> p{1, "one"};
  EXPECT_EQ(round_trip(p), p);
  const std::tuple<int, double, std::string> t{1, 2.5, "z"};
  EXPECT_EQ(round_trip(t), t);
  const std::optional<int> none;
  EXPECT_EQ(round_trip(none), none);
  const std::variant<int, std::string> var = std::string("s");
  EXPECT_EQ(round_trip(var), var);
  const mp::bytes b{std::byte{0}, std::byte{255}};
  EXPECT_EQ(round_trip(b), b);
}

TEST(codec, user_structs_cross_with_corio_codec) {
  const shape s{{{1, 2, "a"}, {3, 4, "b"}}, colour::red, {{"w", 1.5}}};
  EXPECT_EQ(round_trip(s), s);
  EXPECT_EQ(hex(mp::encode(point{1, 2, "p"})), "930102a170");  // [1, 2, "p"]
}

TEST(codec, decoding_the_wrong_shape_names_the_type_expected) {
  const std::string s = mp::encode(std::string("x"));
  try {
    (void)mp::decode<int>(s);
    FAIL() << "no error";
  } catch (const mp::codec_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot decode int from a str"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)mp::decode<std::uint8_t>(mp::encode(256)), mp::codec_error);
  EXPECT_THROW((void)mp::decode<unsigned>(mp::encode(-1)), mp::codec_error);
  EXPECT_THROW((void)mp::decode<point>(mp::encode(std::tuple<int, int>(1, 2))), mp::codec_error);
  EXPECT_THROW((void)(mp::decode<std::array<int, 3>>(mp::encode(std::vector<int>{1, 2}))), mp::codec_error);
  EXPECT_THROW((void)(mp::decode<std::variant<int, bool>>(mp::encode(std::tuple<int, int>(5, 1)))), mp::codec_error);
}

TEST(codec, truncated_malformed_and_trailing_bytes_raise_codec_error) {
  const std::string full = mp::encode(std::vector<std::string>{"abc", "def"});
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_THROW((void)mp::decode<std::vector<std::string>>(full.substr(0, n)), mp::codec_error) << n;
  EXPECT_THROW((void)mp::decode<int>(mp::encode(1) + "x"), mp::codec_error);
  EXPECT_THROW((void)mp::decode<int>(std::string("\xc1", 1)), mp::codec_error);  // never used
}

TEST(codec, a_header_claiming_billions_of_elements_fails_without_allocating_them) {
  // array 32 with 0xffffffff elements, then nothing
  const std::string evil("\xdd\xff\xff\xff\xff", 5);
  EXPECT_THROW((void)mp::decode<std::vector<int>>(evil), mp::codec_error);
  const std::string evil_map("\xdf\xff\xff\xff\xff", 5);
  EXPECT_THROW((void)(mp::decode<std::map<int, int>>(evil_map)), mp::codec_error);
  std::string deep(100000, '\x91');  // [[[[...]]]]
  deep += '\x01';
  EXPECT_THROW((void)mp::decode<std::vector<int>>(deep), mp::codec_error);
}

TEST(codec, a_known_exception_type_comes_back_as_itself_caused_by_its_remote_traceback) {
  const std::string wire = mp::encode(std::make_exception_ptr(std::invalid_argument("bad x")));
  const std::exception_ptr e = mp::decode<std::exception_ptr>(wire);
  try {
    std::rethrow_exception(e);
  } catch (const std::invalid_argument& x) {
    EXPECT_STREQ(x.what(), "bad x");
    try {
      std::rethrow_if_nested(x);
      FAIL() << "no cause";
    } catch (const mp::remote_traceback& tb) {
      EXPECT_NE(std::string(tb.what()).find("std::invalid_argument: bad x"), std::string::npos) << tb.what();
    }
  }
}

TEST(codec, corio_exceptions_keep_their_type_and_roots) {
  auto back = [](std::exception_ptr e) { return mp::decode<std::exception_ptr>(mp::encode(e)); };
  EXPECT_TRUE(corio::detail::exception_is<corio::timeout_error>(back(std::make_exception_ptr(corio::timeout_error("t")))));
  EXPECT_TRUE(corio::detail::exception_is<corio::queue_empty>(back(std::make_exception_ptr(corio::queue_empty()))));
  EXPECT_TRUE(corio::is_cancelled_error(back(std::make_exception_ptr(corio::cancelled_error("c")))));
  try {
    std::rethrow_exception(back(std::make_exception_ptr(corio::system_exit(3))));
  } catch (const corio::system_exit& x) {
    EXPECT_EQ(x.code(), 3);
  }
}

TEST(codec, os_errors_keep_their_subclass_errno_and_filename) {
  const std::exception_ptr e =
      mp::decode<std::exception_ptr>(mp::encode(corio::make_os_error(ENOENT, "open 'x'", "x")));
  try {
    std::rethrow_exception(e);
  } catch (const corio::file_not_found_error& x) {
    EXPECT_EQ(x.error_number(), ENOENT);
    EXPECT_EQ(x.filename(), "x");
    EXPECT_EQ(std::string(x.what()), std::string("open 'x': ") + std::strerror(ENOENT));
  }
}

TEST(codec, an_unknown_exception_type_becomes_remote_error_naming_it) {
  const std::exception_ptr e = mp::decode<std::exception_ptr>(mp::encode(std::make_exception_ptr(my_error("nope"))));
  try {
    std::rethrow_exception(e);
  } catch (const mp::remote_error& x) {
    EXPECT_NE(x.type().find("my_error"), std::string::npos) << x.type();
    EXPECT_EQ(x.message(), "nope");
    EXPECT_NE(std::string(x.what()).find("my_error: nope"), std::string::npos);
    // Crossing again keeps the original name.
    try {
      std::rethrow_exception(mp::decode<std::exception_ptr>(mp::encode(std::current_exception())));
    } catch (const mp::remote_error& y) {
      EXPECT_EQ(y.type(), x.type());
    }
  }
  try {
    std::rethrow_exception(mp::decode<std::exception_ptr>(mp::encode(std::make_exception_ptr(42))));
  } catch (const mp::remote_error& x) {
    EXPECT_EQ(x.type(), "int");
  }
}

TEST(codec, a_null_exception_ptr_crosses_as_nil) {
  EXPECT_EQ(mp::decode<std::exception_ptr>(mp::encode(std::exception_ptr())), nullptr);
}

static_assert(mp::can_cross<point>);
static_assert(mp::can_cross<std::map<std::string, std::vector<std::optional<point>>>>);

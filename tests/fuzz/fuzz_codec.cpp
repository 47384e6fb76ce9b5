// libFuzzer target for the multiprocessing codec (make fuzz): decoding
// bytes that come from another process, or from another language.
//
// The first byte picks the C++ type to decode the rest as. Invariants:
//  - decoding either returns a value or raises codec_error: no other
//    exception, no crash, no allocation the input's length does not bound
//    (ASan's allocation limit catches one);
//  - a decoded value encodes again to bytes that decode to an equal value
//    (exceptions: to one of the same type name and message).
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/errors.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

[[noreturn]] void fail(const char* what, int line) {
  std::fprintf(stderr, "fuzz_codec: invariant broken at line %d: %s\n", line, what);
  std::abort();
}
#define CHECK(c)                   \
  do {                             \
    if (!(c)) fail(#c, __LINE__); \
  } while (0)

enum class colour : std::uint8_t { red, green, blue };

struct point {
  std::int32_t x = 0;
  double y = 0;
  std::string label;
  std::vector<std::int64_t> tags;
  std::optional<colour> c;
  CORIO_CODEC(x, y, label, tags, c)
};

// NaN decodes to NaN, which is not equal to itself: compare bytes then.
template <class T>
void round_trip(std::string_view data) {
  T v;
  try {
    v = mp::decode<T>(data);
  } catch (const mp::codec_error&) {
    return;
  }
  const std::string again = mp::encode(v);
  const T back = mp::decode<T>(again);
  if constexpr (std::is_floating_point_v<T>) {
    CHECK(back == v || (back != back && v != v));
  } else if constexpr (std::is_same_v<T, point> || std::is_same_v<T, std::vector<double>> ||
                       std::is_same_v<T, std::map<std::string, double>>) {
    CHECK(mp::encode(back) == again);
  } else {
    CHECK(back == v);
  }
}

void exception_round_trip(std::string_view data) {
  std::exception_ptr e;
  try {
    e = mp::decode<std::exception_ptr>(data);
  } catch (const mp::codec_error&) {
    return;
  }
  const std::exception_ptr back = mp::decode<std::exception_ptr>(mp::encode(e));
  CHECK((e == nullptr) == (back == nullptr));  // nil is the empty exception_ptr
  if (e == nullptr) return;
  std::string what1, what2;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    what1 = x.what();
  } catch (...) {
    what1 = "?";
  }
  try {
    std::rethrow_exception(back);
  } catch (const std::exception& x) {
    what2 = x.what();
  } catch (...) {
    what2 = "?";
  }
  CHECK(what1 == what2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (data[0] % 16) {
      case 0: round_trip<std::int64_t>(rest); break;
      case 1: round_trip<std::uint8_t>(rest); break;
      case 2: round_trip<double>(rest); break;
      case 3: round_trip<bool>(rest); break;
      case 4: round_trip<std::string>(rest); break;
      case 5: round_trip<mp::bytes>(rest); break;
      case 6: round_trip<std::vector<std::int32_t>>(rest); break;
      case 7: round_trip<std::map<std::string, double>>(rest); break;
      case 8: round_trip<std::tuple<std::int16_t, std::string, std::optional<float>>>(rest); break;
      case 9: round_trip<std::variant<std::monostate, std::int64_t, std::string>>(rest); break;
      case 10: round_trip<point>(rest); break;
      case 11: round_trip<std::set<std::uint32_t>>(rest); break;
      case 12: round_trip<std::array<std::int8_t, 3>>(rest); break;
      case 13: round_trip<std::chrono::milliseconds>(rest); break;
      case 14: round_trip<std::vector<std::vector<std::string>>>(rest); break;
      default: exception_round_trip(rest); break;
    }
  } catch (const mp::codec_error&) {
    fail("codec_error from re-decoding what was encoded", __LINE__);
  }
  return 0;
}

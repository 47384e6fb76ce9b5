// A double crosses as a MessagePack float, whatever its value. The codec
// used msgpack-cxx's pack_double, which writes a whole-numbered double as an
// integer (Python read 1.0 back as 1) and, for 2^64 and above, converted it
// to uint64_t first: undefined behaviour, found by fuzz_codec on a struct
// whose double member was sent as the integer 2^64 - 1 (2^64 as a double).
#include <corio/multiprocessing/codec.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>

namespace mp = corio::multiprocessing;

namespace {

std::string bytes(std::initializer_list<unsigned> l) {
  std::string s;
  for (unsigned b : l) s += static_cast<char>(b);
  return s;
}

}  // namespace

TEST(codec_whole_doubles, a_whole_numbered_double_is_written_as_a_float64) {
  EXPECT_EQ(mp::encode(1.0), bytes({0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(mp::encode(-2.0), bytes({0xcb, 0xc0, 0x00, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(mp::encode(0.0), bytes({0xcb, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(mp::encode(1.0f), bytes({0xca, 0x3f, 0x80, 0, 0}));
}

TEST(codec_whole_doubles, two_to_the_64_and_beyond_round_trip) {
  const double big[] = {18446744073709551616.0, 1e300, -9223372036854775808.0 * 4,
                        std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                        std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min()};
  for (double d : big) {
    const std::string b = mp::encode(d);
    EXPECT_EQ(static_cast<unsigned char>(b[0]), 0xcbu);
    EXPECT_EQ(mp::decode<double>(b), d);
  }
  EXPECT_EQ(mp::decode<float>(mp::encode(1.8446744e19f)), 1.8446744e19f);
  EXPECT_TRUE(std::isnan(mp::decode<double>(mp::encode(std::nan("")))));
}

TEST(codec_whole_doubles, the_integer_two_to_the_64_minus_one_read_as_a_double_encodes_again) {
  // fuzz_codec's input: a struct's double member sent as uint64 0xff..ff.
  const double d = mp::decode<double>(bytes({0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(d, 18446744073709551616.0);
  EXPECT_EQ(mp::encode(d), bytes({0xcb, 0x43, 0xf0, 0, 0, 0, 0, 0, 0}));
  const std::map<std::string, double> m{{"x", d}};
  using dmap = std::map<std::string, double>;
  EXPECT_EQ(mp::decode<dmap>(mp::encode(m)), m);
}

TEST(codec_whole_doubles, integers_still_decode_as_doubles) {
  EXPECT_EQ(mp::decode<double>(mp::encode(7)), 7.0);
  EXPECT_EQ(mp::decode<double>(mp::encode(-7)), -7.0);
}

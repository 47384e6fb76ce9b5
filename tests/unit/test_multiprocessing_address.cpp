// Unit tests for corio::multiprocessing::address (Python: the str or
// (host, port) tuple Listener and Client take) and its family.
#include <corio/multiprocessing/address.hpp>

#include <corio/multiprocessing/errors.hpp>

#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

namespace mp = corio::multiprocessing;
using namespace std::string_literals;

TEST(multiprocessing_address, a_path_is_an_af_unix_address) {
  const mp::address a("/tmp/x.sock");
  EXPECT_TRUE(a.is_unix());
  EXPECT_FALSE(a.is_abstract());
  EXPECT_EQ(a.family(), mp::family::af_unix);
  EXPECT_EQ(a.path(), "/tmp/x.sock");
  EXPECT_EQ(a.host(), "");
  EXPECT_EQ(a.port(), 0);
  EXPECT_EQ(a.to_string(), "/tmp/x.sock");
}

TEST(multiprocessing_address, a_leading_nul_names_an_abstract_socket_printed_with_an_at_sign) {
  const mp::address a("\0corio-x"s);
  EXPECT_TRUE(a.is_unix());
  EXPECT_TRUE(a.is_abstract());
  EXPECT_EQ(a.path().size(), 8u);
  EXPECT_EQ(a.to_string(), "@corio-x");
}

TEST(multiprocessing_address, a_host_and_port_is_af_inet_or_af_inet6_by_the_host_spelling) {
  const mp::address v4("127.0.0.1", 5000);
  EXPECT_FALSE(v4.is_unix());
  EXPECT_EQ(v4.family(), mp::family::af_inet);
  EXPECT_EQ(v4.host(), "127.0.0.1");
  EXPECT_EQ(v4.port(), 5000);
  EXPECT_EQ(v4.to_string(), "127.0.0.1:5000");
  EXPECT_EQ(mp::address("localhost", 1).family(), mp::family::af_inet);
  const mp::address v6("::1", 80);
  EXPECT_EQ(v6.family(), mp::family::af_inet6);
  EXPECT_EQ(v6.to_string(), "[::1]:80");
}

TEST(multiprocessing_address, addresses_compare_by_kind_then_value) {
  EXPECT_EQ(mp::address("/a"), mp::address("/a"));
  EXPECT_NE(mp::address("/a"), mp::address("/b"));
  EXPECT_EQ(mp::address("h", 1), mp::address("h", 1));
  EXPECT_NE(mp::address("h", 1), mp::address("h", 2));
  // A path never equals a TCP address, even one with an empty host.
  EXPECT_NE(mp::address(""), mp::address("", 0));
  const std::set<mp::address> s{mp::address("h", 2), mp::address("/b"), mp::address("h", 1), mp::address("/a")};
  std::string order;
  for (const auto& a : s) order += a.to_string() + " ";
  EXPECT_EQ(order, "/a /b h:1 h:2 ");
}

TEST(multiprocessing_address, an_address_prints_to_a_stream_as_to_string_and_families_have_pythons_names) {
  std::ostringstream os;
  os << mp::address("::1", 9) << " " << mp::address("/p");
  EXPECT_EQ(os.str(), "[::1]:9 /p");
  EXPECT_STREQ(mp::to_string(mp::family::af_unix), "AF_UNIX");
  EXPECT_STREQ(mp::to_string(mp::family::af_inet), "AF_INET");
  EXPECT_STREQ(mp::to_string(mp::family::af_inet6), "AF_INET6");
}

TEST(multiprocessing_address, an_address_crosses_the_codec_as_a_string_or_a_host_port_pair) {
  for (const mp::address& a : {mp::address("/tmp/x"), mp::address("\0abs"s), mp::address("::1", 7)}) {
    EXPECT_EQ(mp::decode<mp::address>(mp::encode(a)), a) << a;
  }
  EXPECT_EQ(mp::decode<mp::address>(mp::encode(std::string("/p"))), mp::address("/p"));
  EXPECT_EQ(mp::decode<mp::address>(mp::encode(std::pair<std::string, int>("h", 80))), mp::address("h", 80));
  EXPECT_THROW(mp::decode<mp::address>(mp::encode(42)), mp::codec_error);
}

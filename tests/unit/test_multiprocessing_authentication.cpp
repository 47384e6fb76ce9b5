// Unit tests for the authkey handshake's messages (MG-15, MG-16): the
// answers Python computes for the same challenges (the vectors come from
// Python's hmac module), the legacy MD5 shapes, and malformed challenges
// and responses fed in bulk: each is refused with authentication_error,
// never accepted, never a crash. The exchanges over real connections are
// in tests/semantics/test_mp_listener.cpp.
#include <corio/multiprocessing/authentication.hpp>

#include <corio/multiprocessing/errors.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mp = corio::multiprocessing;
namespace d = corio::multiprocessing::detail;
using namespace std::string_literals;

namespace {

std::string unhex(std::string_view h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  return out;
}

std::string what_of_verify(std::string_view key, std::string_view message, std::string_view response) {
  try {
    d::verify_response(key, message, response);
  } catch (const mp::authentication_error& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST(multiprocessing_authentication, a_challenge_is_the_tag_the_sha256_prefix_and_40_fresh_random_bytes) {
  const std::string a = d::make_challenge(), b = d::make_challenge();
  EXPECT_EQ(a.size(), 11u + 8u + 40u);
  EXPECT_TRUE(a.starts_with("#CHALLENGE#{sha256}"));
  EXPECT_NE(a, b);
}

TEST(multiprocessing_authentication, MG_15_a_prefixed_challenge_is_answered_with_the_prefixed_hmac_python_computes) {
  const std::string msg = "{sha256}" + std::string(40, 'B');
  EXPECT_EQ(d::make_response("k", "#CHALLENGE#" + msg),
            "{sha256}" + unhex("3b74714ba3b85d727ad84becaa4f9f550a1c340ab6e831e78ea62d8663eebecb"));
  const std::string msg3 = "{sha3_256}" + std::string(40, 'B');
  EXPECT_EQ(d::make_response("k", "#CHALLENGE#" + msg3),
            "{sha3_256}" + unhex("5daade4ae24a24b6d7fc7ee64b7f1811aa3bf9729b58610b4f0379841e260c37"));
}

TEST(multiprocessing_authentication, MG_15_a_legacy_20_byte_challenge_is_answered_with_a_raw_hmac_md5) {
  EXPECT_EQ(d::make_response("k", "#CHALLENGE#" + std::string(20, 'A')), unhex("d49662cd72753272d83a80974d0b62ab"));
}

TEST(multiprocessing_authentication, MG_16_an_empty_key_is_an_ordinary_key) {
  const std::string msg = "{sha256}" + std::string(40, 'B');
  const std::string r = d::make_response("", "#CHALLENGE#" + msg);
  EXPECT_EQ(r, "{sha256}" + unhex("0c4afcbc8eb855333f3988a8d2175ff08044cc0cc069a8d50f42f0ce512f4dcd"));
  EXPECT_NO_THROW(d::verify_response("", msg, r));
  EXPECT_EQ(what_of_verify("k", msg, r), "digest received was wrong");
}

TEST(multiprocessing_authentication, MG_15_our_answer_verifies_and_any_other_key_or_flipped_bit_is_wrong) {
  const std::string challenge = d::make_challenge();
  const std::string message = challenge.substr(11);
  const std::string r = d::make_response("key", challenge);
  EXPECT_NO_THROW(d::verify_response("key", message, r));
  EXPECT_EQ(what_of_verify("kez", message, r), "digest received was wrong");
  for (std::size_t i = 8; i < r.size(); ++i) {
    std::string bad = r;
    bad[i] = static_cast<char>(bad[i] ^ 1);
    EXPECT_EQ(what_of_verify("key", message, bad), "digest received was wrong") << "byte " << i;
  }
}

TEST(multiprocessing_authentication, MG_15_a_legacy_peers_raw_md5_answer_is_checked_over_the_whole_message) {
  // What Python 3.11's answer_challenge sends to our challenge: HMAC-MD5
  // over everything after the tag, prefix included, with no prefix of its own.
  const std::string message = "{sha256}" + std::string(40, 'B');
  const std::string legacy = unhex("7d8acc014691ac3da254f90a8ec83028");
  EXPECT_EQ(what_of_verify("k", message, legacy), "accepted");
  EXPECT_EQ(what_of_verify("j", message, legacy), "digest received was wrong");
  // MD5 over the payload alone (without the prefix) is not the answer.
  EXPECT_EQ(what_of_verify("k", message, d::make_response("k", "#CHALLENGE#" + std::string(20, 'B'))),
            "digest received was wrong");
}

TEST(multiprocessing_authentication, MG_15_md5_is_refused_outside_the_legacy_shapes) {
  const std::string prefixed_md5_challenge = "#CHALLENGE#{md5}" + std::string(40, 'x');
  EXPECT_THROW(d::make_response("k", prefixed_md5_challenge), mp::authentication_error);
  const std::string message = "{sha256}" + std::string(40, 'x');
  EXPECT_NE(what_of_verify("k", message, "{md5}" + std::string(16, 'y')).find("unsupported digest {md5}"),
            std::string::npos);
}

TEST(multiprocessing_authentication, MG_15_malformed_challenges_raise_naming_what_was_wrong) {
  auto what = [](const std::string& m) -> std::string {
    try {
      d::make_response("k", m);
    } catch (const mp::authentication_error& e) {
      return e.what();
    }
    return "answered";
  };
  EXPECT_NE(what("#WELCOME#").find("expected a challenge"), std::string::npos);
  EXPECT_NE(what("").find("expected a challenge"), std::string::npos);
  EXPECT_NE(what("#CHALLENGE#short").find("challenge too short: 5 bytes"), std::string::npos);
  EXPECT_NE(what("#CHALLENGE#" + std::string(30, 'z')).find("missing digest prefix"), std::string::npos);
  EXPECT_NE(what("#CHALLENGE#{sha256" + std::string(30, 'z')).find("missing digest prefix"), std::string::npos);
  EXPECT_NE(what("#CHALLENGE#{sha512}" + std::string(30, 'z')).find("unsupported digest {sha512}"), std::string::npos);
  EXPECT_NE(what("#CHALLENGE#{}" + std::string(30, 'z')).find("unsupported digest {}"), std::string::npos);
}

TEST(multiprocessing_authentication, MG_15_random_malformed_responses_are_never_accepted) {
  // Fuzz-style: responses of every length up to the handshake limit, random
  // or built around the expected one, are refused with authentication_error.
  std::mt19937 rng(12345);
  const std::string challenge = d::make_challenge();
  const std::string message = challenge.substr(11);
  const std::string good = d::make_response("k", challenge);
  int refused = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::size_t n = rng() % (d::max_handshake_message + 1);
    std::string r(n, '\0');
    for (auto& ch : r) ch = static_cast<char>(rng());
    switch (round % 4) {
      case 1:  // a plausible prefix with random bytes
        r = (round % 8 == 1 ? "{sha256}" : "{sha3_384}") + r.substr(0, n / 4);
        break;
      case 2:  // the good answer, cut or extended
        r = good.substr(0, rng() % good.size()) + r.substr(0, round % 3);
        break;
      case 3:  // unterminated or odd braces
        r = "{" + r;
        break;
      default:
        break;
    }
    if (r == good) continue;
    EXPECT_THROW(d::verify_response("k", message, r), mp::authentication_error) << "length " << r.size();
    ++refused;
  }
  EXPECT_GT(refused, 1900);
  EXPECT_NO_THROW(d::verify_response("k", message, good));
}

TEST(multiprocessing_authentication, random_malformed_challenges_never_crash) {
  std::mt19937 rng(54321);
  int answered = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string m(rng() % (d::max_handshake_message + 1), '\0');
    for (auto& ch : m) ch = static_cast<char>(rng());
    if (round % 2) m = "#CHALLENGE#" + (round % 4 == 1 ? "{sha256}"s : ""s) + m;
    try {
      const std::string r = d::make_response("k", m);
      ++answered;
      EXPECT_LE(r.size(), d::max_handshake_message);
    } catch (const mp::authentication_error&) {
    }
  }
  EXPECT_GT(answered, 0);
}

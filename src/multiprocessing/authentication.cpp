// The authkey handshake (see multiprocessing/authentication.hpp), Python
// 3.12's protocol with 3.11's legacy shapes.
//
// The message logic (make_challenge, make_response, verify_response) is
// apart from the sending and receiving so that the blocking and the
// awaitable forms share it.
#include <corio/multiprocessing/authentication.hpp>

#include <corio/multiprocessing/errors.hpp>
#include <corio/os_errors.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>

namespace corio::multiprocessing {

namespace {

constexpr std::size_t kMessageLength = 40;     // Python: MESSAGE_LENGTH
constexpr std::size_t kLegacyChallenge = 20;   // Python 3.11's challenge: 20 raw bytes
constexpr std::size_t kLegacyResponse = 16;    // its answer: a raw HMAC-MD5
constexpr std::size_t kMaxDigestName = 8;      // "sha3_384"
constexpr std::string_view kDigest = "sha256";  // what we challenge with

// The digests a prefixed message may name (Python's _ALLOWED_DIGESTS
// without md5, which only the legacy shapes use).
const EVP_MD* prefixed_digest(std::string_view name) noexcept {
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha3_256") return EVP_sha3_256();
  if (name == "sha3_384") return EVP_sha3_384();
  return nullptr;
}

// A short printable form of untrusted bytes for an error message.
std::string printable(std::string_view m) {
  std::string out = "b'";
  for (std::size_t i = 0; i < m.size() && i < 32; ++i) {
    const auto ch = static_cast<unsigned char>(m[i]);
    if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'') {
      out += static_cast<char>(ch);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  out += m.size() > 32 ? "'... (" + std::to_string(m.size()) + " bytes)" : "'";
  return out;
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  static const unsigned char empty = 0;  // a zero-length key still needs a pointer
  const void* k = key.empty() ? static_cast<const void*>(&empty) : key.data();
  if (!HMAC(md, k, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
            out.data(), &len))
    throw authentication_error(std::string("HMAC-") + EVP_MD_get0_name(md) + " failed");
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

struct parsed {
  const EVP_MD* md;  // nullptr: the legacy shape (raw, HMAC-MD5)
  std::string_view name;
  std::string_view payload;
};

// Python: _get_digest_name_and_payload, with md5 only in the legacy shape.
parsed parse_message(std::string_view m, const char* what) {
  if (m.size() == kLegacyChallenge || m.size() == kLegacyResponse) return {nullptr, {}, m};
  if (!m.empty() && m[0] == '{') {
    const std::size_t curly = m.find('}', 1);
    if (curly != std::string_view::npos && curly <= kMaxDigestName + 1) {
      const std::string_view name = m.substr(1, curly - 1);
      if (const EVP_MD* md = prefixed_digest(name)) return {md, name, m.substr(curly + 1)};
      throw authentication_error(std::string(what) + ": unsupported digest {" + std::string(name) + "}");
    }
  }
  throw authentication_error(std::string(what) + ": unsupported message length or missing digest prefix: " +
                             printable(m));
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

namespace detail {

std::string make_challenge() {
  std::string m(challenge_tag);
  m += '{';
  m += kDigest;
  m += '}';
  std::array<unsigned char, kMessageLength> r{};
  if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1)
    throw authentication_error("deliver_challenge: RAND_bytes failed to make a challenge");
  m.append(reinterpret_cast<const char*>(r.data()), r.size());
  return m;
}

std::string make_response(std::string_view authkey, std::string_view challenge_message) {
  if (!challenge_message.starts_with(challenge_tag))
    throw authentication_error("answer_challenge: protocol error, expected a challenge: " +
                               printable(challenge_message));
  const std::string_view message = challenge_message.substr(challenge_tag.size());
  if (message.size() < kLegacyChallenge)
    throw authentication_error("answer_challenge: challenge too short: " + std::to_string(message.size()) + " bytes");
  const parsed p = parse_message(message, "answer_challenge");
  // The MAC covers the whole message, digest prefix included.
  if (!p.md) return hmac(EVP_md5(), authkey, message);
  std::string r;
  r.append(1, '{').append(p.name).append(1, '}').append(hmac(p.md, authkey, message));
  return r;
}

void verify_response(std::string_view authkey, std::string_view message, std::string_view response) {
  const parsed p = parse_message(response, "deliver_challenge");
  const EVP_MD* md = p.md ? p.md : EVP_md5();
  const std::string expected = hmac(md, authkey, message);
  if (expected.size() != p.payload.size())
    throw authentication_error("deliver_challenge: expected a " + std::to_string(expected.size()) + "-byte " +
                               EVP_MD_get0_name(md) + " digest, got " + std::to_string(p.payload.size()) + " bytes");
  if (!constant_time_equal(expected, p.payload)) throw authentication_error("digest received was wrong");
}

}  // namespace detail

void deliver_challenge(connection& c, std::string_view authkey) {
  const std::string challenge = detail::make_challenge();
  c.send_bytes(challenge);
  const std::string response = c.recv_bytes(detail::max_handshake_message);
  try {
    detail::verify_response(authkey, std::string_view(challenge).substr(detail::challenge_tag.size()), response);
  } catch (const authentication_error&) {
    // The verdict goes first; a peer already gone must not hide the error.
    try {
      c.send_bytes(detail::failure);
    } catch (const os_error&) {
    }
    throw;
  }
  c.send_bytes(detail::welcome);
}

void answer_challenge(connection& c, std::string_view authkey) {
  const std::string challenge = c.recv_bytes(detail::max_handshake_message);
  c.send_bytes(detail::make_response(authkey, challenge));
  if (c.recv_bytes(detail::max_handshake_message) != detail::welcome)
    throw authentication_error("digest sent was rejected");
}

task<void> deliver_challenge_async(connection& c, std::string authkey) {
  const std::string challenge = detail::make_challenge();
  co_await c.send_bytes_async(challenge);
  const std::string response = co_await c.recv_bytes_async(detail::max_handshake_message);
  std::exception_ptr failed;
  try {
    detail::verify_response(authkey, std::string_view(challenge).substr(detail::challenge_tag.size()), response);
  } catch (const authentication_error&) {
    failed = std::current_exception();
  }
  if (failed) {
    try {
      co_await c.send_bytes_async(std::string(detail::failure));
    } catch (const os_error&) {
    }
    std::rethrow_exception(failed);
  }
  co_await c.send_bytes_async(std::string(detail::welcome));
}

task<void> answer_challenge_async(connection& c, std::string authkey) {
  const std::string challenge = co_await c.recv_bytes_async(detail::max_handshake_message);
  co_await c.send_bytes_async(detail::make_response(authkey, challenge));
  if (co_await c.recv_bytes_async(detail::max_handshake_message) != detail::welcome)
    throw authentication_error("digest sent was rejected");
}

}  // namespace corio::multiprocessing

// Python: multiprocessing.connection.deliver_challenge and
// answer_challenge, the authkey handshake Listener and Client run.
//
// The protocol is Python 3.12's: the challenger sends b"#CHALLENGE#" +
// b"{sha256}" + 40 random bytes; the answerer returns b"{sha256}" +
// HMAC-SHA256(key, everything after #CHALLENGE#); the challenger checks it
// in constant time and replies b"#WELCOME#" or b"#FAILURE#". Peers of
// Python 3.11 and older still work: their 20-byte challenge is answered
// with a raw 16-byte HMAC-MD5, and their raw 16-byte HMAC-MD5 answer to
// our challenge is checked as such. MD5 is accepted in those two legacy
// shapes only. Handshake messages over 256 bytes are refused (os_error
// "bad message length", the connection left unreadable). A failed check
// raises authentication_error.
#pragma once

#include <corio/multiprocessing/connection.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace corio::multiprocessing {

/// Python: deliver_challenge(connection, authkey): challenges the peer,
/// checks its answer and tells it the verdict. authentication_error("digest
/// received was wrong") after sending #FAILURE# for a wrong answer, or
/// naming what was malformed about it.
void deliver_challenge(connection& c, std::string_view authkey);
/// Python: answer_challenge(connection, authkey): answers the peer's
/// challenge. authentication_error("digest sent was rejected") when the
/// peer does not welcome the answer, or naming what was wrong with the
/// challenge.
void answer_challenge(connection& c, std::string_view authkey);
/// deliver_challenge in a running loop; cancellable at every wait.
task<void> deliver_challenge_async(connection& c, std::string authkey);
/// answer_challenge in a running loop; cancellable at every wait.
task<void> answer_challenge_async(connection& c, std::string authkey);

namespace detail {

// The wire pieces, exposed for the tests that feed malformed messages.
inline constexpr std::string_view challenge_tag = "#CHALLENGE#";
inline constexpr std::string_view welcome = "#WELCOME#";
inline constexpr std::string_view failure = "#FAILURE#";
// The largest handshake message read (Python: recv_bytes(256)).
inline constexpr std::size_t max_handshake_message = 256;

// A fresh challenge message: #CHALLENGE#{sha256} and 40 random bytes.
std::string make_challenge();
// The answer to a whole challenge message (with its #CHALLENGE# tag);
// authentication_error naming what is wrong with it.
std::string make_response(std::string_view authkey, std::string_view challenge_message);
// Checks `response` against the challenge `message` (without its tag);
// authentication_error when it is malformed or wrong.
void verify_response(std::string_view authkey, std::string_view message, std::string_view response);

}  // namespace detail

}  // namespace corio::multiprocessing

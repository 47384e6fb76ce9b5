// A manager's server facing bad clients and a death of its own: garbage,
// unknown operations and oversized frames, before and after the
// handshake, get an error or a closed connection while every other client
// goes on; a wrong key is refused; a server killed while a
// client waits gives that client a clear error, never a hang; a call that
// waits ends with its client and keeps its place against later calls.
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/listener.hpp>
#include <corio/multiprocessing/managers.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <optional>
#include <string>
#include <thread>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;

// A connection to the manager speaking raw frames, after the handshake
// with the process's authkey (the manager's default key, MG-16).
mp::connection raw_connect(const mp::base_manager& m) {
  return mp::client(m.address(), mp::current_process().authkey());
}

// The same without the handshake: what an unauthenticated peer sees.
mp::connection unauthenticated(const mp::base_manager& m) { return mp::client(m.address()); }

// The exception an error reply carries, as the client would raise it.
void expect_remote_error(const std::string& reply, const std::string& fragment) {
  try {
    mp::detail::decode_reply<void>(reply);
    FAIL() << "an ok reply";
  } catch (const mp::remote_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace

TEST_F(mp_test, a_request_that_is_not_msgpack_gets_an_error_reply_and_the_connection_goes_on) {
  auto m = mp::manager();
  auto c = raw_connect(m);
  c.send_bytes("\xc1\xc1 not msgpack");
  ASSERT_TRUE(c.poll(kBound));
  expect_remote_error(c.recv_bytes(), "does not decode");
  c.send_bytes(mp::encode(std::string("a string, not a request")));
  ASSERT_TRUE(c.poll(kBound));
  expect_remote_error(c.recv_bytes(), "[op, id, method, args]");
  c.send_bytes(mp::detail::encode_request("no_such_op", 0, ""));
  ASSERT_TRUE(c.poll(kBound));
  expect_remote_error(c.recv_bytes(), "unknown op");
  c.send_bytes(mp::detail::encode_request("call", 12345, "get"));
  ASSERT_TRUE(c.poll(kBound));
  expect_remote_error(c.recv_bytes(), "no object with id 12345");
  c.send_bytes(mp::detail::encode_request("create", 0, "no_such_type"));
  ASSERT_TRUE(c.poll(kBound));
  expect_remote_error(c.recv_bytes(), "unknown typeid");
  c.send_bytes(mp::detail::encode_request("ping", 0, ""));
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_NO_THROW(mp::detail::decode_reply<void>(c.recv_bytes()));
}

TEST_F(mp_test, an_oversized_frame_closes_that_connection_only) {
  auto m = mp::manager();
  auto d = m.dict<int, int>();
  d.set(1, 1);
  auto c = raw_connect(m);
  // A header announcing 2 GiB - 1: refused before anything is allocated.
  const std::uint32_t n = htonl(0x7fffffffu);
  ASSERT_EQ(::write(c.fileno(), &n, 4), 4);
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_THROW(c.recv_bytes(), mp::eof_error);
  EXPECT_EQ(d.at(1), 1);
  EXPECT_EQ(m.number_of_objects(), 1u);
}

TEST_F(mp_test, a_client_waiting_when_the_server_is_killed_gets_a_clear_error) {
  auto m = mp::manager();
  auto q = m.queue<int>();
  const std::string where = m.address().to_string();
  auto waiting = std::async(std::launch::async, [q] {
    try {
      q.get();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  ASSERT_EQ(waiting.wait_for(100ms), std::future_status::timeout);  // it waits in the server
  ASSERT_EQ(::kill(*m.server_pid(), SIGKILL), 0);
  ASSERT_EQ(waiting.wait_for(kBound), std::future_status::ready);
  const std::string what = waiting.get();
  EXPECT_NE(what.find(where), std::string::npos) << what;
  EXPECT_THROW(q.put(1), std::exception);
  m.shutdown();  // reaps the dead server
}

namespace {
std::size_t waiting_calls(mp::connection& c) {
  c.send_bytes(mp::detail::encode_request("waiting_calls", 0, ""));
  if (!c.poll(kBound)) throw std::runtime_error("no reply");
  return mp::detail::decode_reply<std::size_t>(c.recv_bytes());
}

// Polls the server until `n` calls wait (bounded).
void until_waiting(mp::connection& c, std::size_t n) {
  for (int i = 0; i < 6000 && waiting_calls(c) != n; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(waiting_calls(c), n);
}
}  // namespace

TEST_F(mp_test, a_client_that_leaves_while_its_get_waits_takes_no_item) {
  auto m = mp::manager();
  auto q = m.queue<int>();
  auto probe = raw_connect(m);
  {
    auto leaving = raw_connect(m);
    leaving.send_bytes(mp::detail::encode_request("call", q.id(), "get", true, std::optional<double>()));
    until_waiting(probe, 1);
  }  // closed while its get waits
  until_waiting(probe, 0);
  q.put(5);
  EXPECT_EQ(q.get(false), 5);  // not handed to the client that left
}

TEST_F(mp_test, a_request_sent_ahead_while_a_get_waits_is_answered_after_the_get) {
  auto m = mp::manager();
  auto q = m.queue<int>();
  auto probe = raw_connect(m);
  auto c = raw_connect(m);
  c.send_bytes(mp::detail::encode_request("call", q.id(), "get", true, std::optional<double>()));
  until_waiting(probe, 1);
  c.send_bytes(mp::detail::encode_request("call", q.id(), "qsize"));
  q.put(7);
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_EQ(mp::detail::decode_reply<int>(c.recv_bytes()), 7);
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_EQ(mp::detail::decode_reply<std::size_t>(c.recv_bytes()), 0u);
  until_waiting(probe, 0);
}

// A get or put that can complete at once is answered without waiting; one
// that arrives after an item (or a slot) was promised to a waiting call
// must still wait behind it.
TEST_F(mp_test, an_item_put_for_a_waiting_get_is_not_taken_by_a_get_that_comes_after) {
  auto m = mp::manager();
  auto q = m.queue<int>();
  auto probe = raw_connect(m);
  auto c = raw_connect(m);
  c.send_bytes(mp::detail::encode_request("call", q.id(), "get", true, std::optional<double>()));
  until_waiting(probe, 1);
  q.put(1);
  EXPECT_THROW(q.get(true, 10ms), corio::queue_empty);
  EXPECT_THROW(q.get(false), corio::queue_empty);
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_EQ(mp::detail::decode_reply<int>(c.recv_bytes()), 1);
  q.put(2);
  EXPECT_EQ(q.get(true, kBound), 2);
}

TEST_F(mp_test, a_slot_freed_for_a_waiting_put_is_not_taken_by_a_put_that_comes_after) {
  auto m = mp::manager();
  auto q = m.queue<int>(1);
  q.put(1);
  auto probe = raw_connect(m);
  auto c = raw_connect(m);
  c.send_bytes(mp::detail::encode_request("call", q.id(), "put", 2, true, std::optional<double>()));
  until_waiting(probe, 1);
  EXPECT_EQ(q.get(), 1);
  EXPECT_THROW(q.put(3, true, 10ms), corio::queue_full);
  EXPECT_THROW(q.put(3, false), corio::queue_full);
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_NO_THROW(mp::detail::decode_reply<void>(c.recv_bytes()));
  EXPECT_EQ(q.get(), 2);
  q.put(3);
  EXPECT_EQ(q.qsize(), 1u);
}

TEST_F(mp_test, a_lock_released_to_a_waiting_acquire_is_not_taken_by_an_acquire_that_comes_after) {
  auto m = mp::manager();
  auto l = m.lock();
  ASSERT_TRUE(l.acquire());
  auto probe = raw_connect(m);
  auto c = raw_connect(m);
  c.send_bytes(mp::detail::encode_request("call", l.id(), "acquire", true, std::optional<double>()));
  until_waiting(probe, 1);
  l.release();
  EXPECT_FALSE(l.acquire(false));
  EXPECT_FALSE(l.acquire(true, 10ms));
  ASSERT_TRUE(c.poll(kBound));
  EXPECT_TRUE(mp::detail::decode_reply<bool>(c.recv_bytes()));
  EXPECT_FALSE(l.acquire(false));  // c holds it
  l.release();  // any client may release a managed Lock (MG-11)
  EXPECT_TRUE(l.acquire(false));
}

CORIO_MP_TEST_MAIN()

TEST_F(mp_test, a_peer_that_does_not_know_the_key_is_refused_before_any_request_is_read) {
  auto m = mp::manager();
  auto d = m.dict<int, int>();
  d.set(1, 1);
  {
    // Garbage instead of an answer to the challenge.
    auto c = unauthenticated(m);
    ASSERT_TRUE(c.poll(kBound));
    EXPECT_EQ(c.recv_bytes().rfind("#CHALLENGE#", 0), 0u);
    c.send_bytes(mp::detail::encode_request("create", 0, "dict"));
    ASSERT_TRUE(c.poll(kBound));
    EXPECT_EQ(c.recv_bytes(), "#FAILURE#");
    ASSERT_TRUE(c.poll(kBound));
    EXPECT_THROW(c.recv_bytes(), mp::eof_error);
  }
  {
    // A header announcing 2 GiB - 1 before authenticating: refused by the
    // 256-byte limit of a handshake message, nothing allocated.
    auto c = unauthenticated(m);
    const std::uint32_t n = htonl(0x7fffffffu);
    ASSERT_EQ(::write(c.fileno(), &n, 4), 4);
    ASSERT_TRUE(c.poll(kBound));
    (void)c.recv_bytes();  // the challenge
    ASSERT_TRUE(c.poll(kBound));
    EXPECT_THROW(c.recv_bytes(), mp::eof_error);
  }
  // A wrong key: the client's error says so; the manager goes on.
  EXPECT_THROW(mp::client(m.address(), std::string("not the key")), mp::authentication_error);
  mp::sync_manager stranger(m.address(), std::string("not the key"));
  EXPECT_THROW(stranger.connect(), mp::authentication_error);
  EXPECT_EQ(d.at(1), 1);
  EXPECT_EQ(m.number_of_objects(), 1u);
}

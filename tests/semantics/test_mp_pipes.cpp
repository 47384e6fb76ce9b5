// docs/semantics.md section 15, pipes and connections (MP-24 .. MP-28),
// between real processes (fork, spawn and forkserver children). The
// single-process details (framing, errors, awaitables) are in
// tests/unit/test_multiprocessing_connection.cpp.
//
// MP-24's "a connection is a context manager" is its destructor in C++.
#include "multiprocessing_util.hpp"

#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;

// Echoes values until it gets -1.
void echo_ints(mp::connection c) {
  for (;;) {
    const int v = c.recv<int>();
    if (v < 0) return;
    c.send(v + 1);
  }
}

// Echoes byte messages until it gets "stop".
void echo_bytes(mp::connection c) {
  for (;;) {
    std::string m = c.recv_bytes();
    if (m == "stop") return;
    c.send_bytes(m);
  }
}

void send_three(mp::connection c) {
  c.send_bytes("");
  c.send_bytes("a");
  c.send_bytes(std::string(100000, 'b'));
}

void write_then_close(mp::connection c) {
  c.send(1);
  c.close();
}

}  // namespace

TEST_F(mp_test, MP_24_a_duplex_pipe_carries_both_ways_between_processes) {
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    auto [a, b] = mp::pipe();
    EXPECT_TRUE(a.readable() && a.writable() && b.readable() && b.writable());
    mp::process p(echo_ints, std::move(b));
    mp::get_context(method).start(p);
    for (int i = 0; i < 100; ++i) {
      a.send(i);
      ASSERT_EQ(a.recv<int>(), i + 1) << method;
    }
    a.send(-1);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
  }
}

TEST_F(mp_test, MP_24_a_one_way_pipe_gives_a_reader_and_a_writer) {
  auto [r, w] = mp::pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_TRUE(w.writable());
  EXPECT_THROW(r.send(1), corio::os_error);
  EXPECT_THROW(w.recv<int>(), corio::os_error);
  EXPECT_THROW(w.poll(), corio::os_error);
  mp::process p(write_then_close, std::move(w));
  mp::get_context("spawn").start(p);
  EXPECT_EQ(r.recv<int>(), 1);
  p.join(kBound);
}

TEST_F(mp_test, MP_25_message_boundaries_hold_and_an_empty_message_is_a_message) {
  for (const char* method : {"fork", "spawn"}) {
    auto [a, b] = mp::pipe();
    mp::process p(send_three, std::move(b));
    mp::get_context(method).start(p);
    p.join(kBound);  // all three are in the socket: they must not merge
    EXPECT_TRUE(a.poll());
    EXPECT_EQ(a.recv_bytes(), "") << method;
    EXPECT_TRUE(a.poll());
    EXPECT_EQ(a.recv_bytes(), "a") << method;
    EXPECT_EQ(a.recv_bytes(), std::string(100000, 'b')) << method;
    EXPECT_THROW(a.recv_bytes(), mp::eof_error) << method;  // nothing more: the child is gone
  }
}

TEST_F(mp_test, MP_25_send_bytes_with_offset_and_size_across_processes) {
  auto [a, b] = mp::pipe();
  mp::process p(echo_bytes, std::move(b));
  p.start();
  const std::string buf = "0123456789";
  a.send_bytes(buf, 2, 5);
  EXPECT_EQ(a.recv_bytes(), "23456");
  a.send_bytes(buf, 8);
  EXPECT_EQ(a.recv_bytes(), "89");
  EXPECT_THROW(a.send_bytes(buf, 11), std::invalid_argument);
  EXPECT_THROW(a.send_bytes(buf, 5, 6), std::invalid_argument);
  a.send_bytes("stop");
  p.join(kBound);
}

TEST_F(mp_test, MP_26_recv_bytes_into_and_buffer_too_short_carrying_the_message) {
  auto [a, b] = mp::pipe();
  mp::process p(echo_bytes, std::move(b));
  p.start();
  a.send_bytes("hello");
  char buf[8] = {};
  EXPECT_EQ(a.recv_bytes_into(buf, 3), 5u);
  EXPECT_EQ(std::string(buf + 3, 5), "hello");
  a.send_bytes("far too long for it");
  try {
    a.recv_bytes_into(buf);
    ADD_FAILURE() << "no buffer_too_short";
  } catch (const mp::buffer_too_short& e) {
    EXPECT_EQ(e.message(), "far too long for it");
  }
  a.send_bytes("0123456789");
  EXPECT_THROW(a.recv_bytes(4), corio::os_error);  // bad message length: unreadable now
  EXPECT_THROW(a.recv_bytes(), corio::os_error);
  a.send_bytes("stop");
  p.join(kBound);
}

TEST_F(mp_test, MP_27_recv_raises_eof_error_once_every_copy_of_the_other_end_is_closed) {
  auto [a, b] = mp::pipe();
  mp::process p(write_then_close, std::move(b));  // the parent's copy of b goes with the target at start
  p.start();
  EXPECT_EQ(a.recv<int>(), 1);
  p.join(kBound);
  EXPECT_TRUE(a.poll(0s));  // the end is something to read
  EXPECT_THROW(a.recv<int>(), mp::eof_error);
}

TEST_F(mp_test, MP_27_poll_waits_up_to_its_timeout_and_a_negative_one_counts_as_zero) {
  auto [a, b] = mp::pipe();
  mp::process p(echo_ints, std::move(b));
  p.start();
  EXPECT_FALSE(a.poll());
  EXPECT_FALSE(a.poll(-5s));
  EXPECT_FALSE(a.poll(20ms));
  a.send(1);
  EXPECT_TRUE(a.poll(kBound));
  EXPECT_TRUE(a.poll(std::nullopt));
  EXPECT_EQ(a.recv<int>(), 2);
  a.send(-1);
  p.join(kBound);
  a.close();
  EXPECT_THROW(a.poll(), corio::os_error);  // handle is closed
  EXPECT_THROW(a.recv<int>(), corio::os_error);
}

TEST_F(mp_test, MP_28_wait_returns_ready_connections_sentinels_and_fds) {
  auto [a, b] = mp::pipe();
  auto [c, d] = mp::pipe();
  mp::process p(echo_ints, std::move(b));
  p.start();
  int raw[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, raw), 0);
  const int sentinel = p.sentinel();
  EXPECT_TRUE(mp::wait({&a, &c, sentinel, raw[0]}, 0s).empty());
  EXPECT_TRUE(mp::wait({&a, &c, sentinel, raw[0]}, -1s).empty());
  EXPECT_TRUE(mp::wait({&a, &c, sentinel, raw[0]}, 10ms).empty());
  a.send(1);
  auto ready = mp::wait({&a, &c, sentinel, raw[0]}, kBound);
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(std::get<mp::connection*>(ready[0]), &a);
  EXPECT_EQ(a.recv<int>(), 2);
  ASSERT_EQ(::write(raw[1], "x", 1), 1);
  a.send(-1);
  p.join(kBound);
  ready = mp::wait({&a, &c, sentinel, raw[0]}, kBound);
  ASSERT_EQ(ready.size(), 3u);  // a (its end: EOF), the sentinel, the socket
  EXPECT_EQ(std::get<mp::connection*>(ready[0]), &a);
  EXPECT_EQ(std::get<int>(ready[1]), sentinel);
  EXPECT_EQ(std::get<int>(ready[2]), raw[0]);
  ::close(raw[0]);
  ::close(raw[1]);
}

TEST_F(mp_test, MP_28_the_awaitable_forms_talk_to_a_child_without_blocking_the_loop) {
  auto [a, b] = mp::pipe();
  mp::process p(echo_ints, std::move(b));
  p.start();
  const int last = corio::run([](mp::connection& c) -> corio::task<int> {
    int v = 0;
    for (int i = 0; i < 50; ++i) {
      co_await c.send_async(v);
      v = co_await c.recv_async<int>();
    }
    // A timeout around a receive that gets nothing loses nothing.
    EXPECT_THROW(co_await corio::wait_for(c.recv_async<int>(), 10ms), corio::timeout_error);
    co_await c.send_async(-1);
    co_return v;
  }(a));
  EXPECT_EQ(last, 50);
  p.join(kBound);
}

TEST_F(mp_test, MP_23_a_connection_crosses_only_as_a_process_argument_never_in_a_message) {
  auto [a, b] = mp::pipe();
  auto [c, d] = mp::pipe();
  EXPECT_THROW(a.send(c), mp::codec_error);  // Python: "should only be shared ... through inheritance"
  a.send(1);
  EXPECT_EQ(b.recv<int>(), 1);
}

CORIO_MP_TEST_MAIN()

// corio::multiprocessing::connection within one process: framing, the
// codec, errors, poll and wait, and the awaitable forms (cancellation and
// timeouts lose no message). Across processes: tests/semantics/test_mp_pipes.cpp.
#include <corio/multiprocessing/connection.hpp>

#include "loop_util.hpp"

#include <corio/runners.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace mp = corio::multiprocessing;
using namespace std::chrono_literals;

namespace {

// Raw bytes on the fd, as a peer that is not a connection would write them.
void write_raw(int fd, const std::string& s) { ASSERT_EQ(::write(fd, s.data(), s.size()), ssize_t(s.size())); }

}  // namespace

TEST(connection, frames_are_python_frames_4_byte_big_endian_length_then_payload) {
  auto [a, b] = mp::pipe(false);
  b.send_bytes("abc");
  char buf[16];
  ASSERT_EQ(::read(a.fileno(), buf, sizeof buf), 7);
  EXPECT_EQ(std::string(buf, 7), std::string("\0\0\0\3abc", 7));
  write_raw(b.fileno(), std::string("\0\0\0\2hi", 6));
  EXPECT_EQ(a.recv_bytes(), "hi");
}

TEST(connection, a_message_split_across_writes_is_received_whole) {
  auto [a, b] = mp::pipe(false);
  std::thread t([fd = b.fileno()] {
    const std::string m = std::string("\0\0\0\5", 4) + "hello";
    for (char c : m) {
      (void)!::write(fd, &c, 1);
      std::this_thread::sleep_for(1ms);
    }
  });
  EXPECT_EQ(a.recv_bytes(), "hello");
  t.join();
}

TEST(connection, values_cross_through_the_codec) {
  auto [a, b] = mp::pipe();
  a.send(std::map<std::string, int>{{"x", 1}});
  a.send(42);
  EXPECT_EQ((b.recv<std::map<std::string, int>>()), (std::map<std::string, int>{{"x", 1}}));
  EXPECT_EQ(b.recv<int>(), 42);
  b.send(std::string("back"));
  EXPECT_EQ(a.recv<std::string>(), "back");
}

TEST(connection, a_message_of_the_wrong_type_is_consumed_and_raises_codec_error) {
  auto [a, b] = mp::pipe();
  a.send(std::string("not an int"));
  a.send(7);
  EXPECT_THROW(b.recv<int>(), mp::codec_error);
  EXPECT_EQ(b.recv<int>(), 7);
}

TEST(connection, recv_bytes_with_lends_the_message_in_place_and_consumes_it_even_when_f_throws) {
  auto [a, b] = mp::pipe();
  a.send_bytes("first");
  a.send_bytes("second");
  a.send_bytes("third");
  EXPECT_EQ(b.recv_bytes_with([](std::string_view m) { return m.size(); }), 5u);
  EXPECT_THROW(b.recv_bytes_with([](std::string_view m) -> int { throw std::runtime_error(std::string(m)); }),
               std::runtime_error);
  std::string seen;
  b.recv_bytes_with([&seen](std::string_view m) { seen = m; });
  EXPECT_EQ(seen, "third");
  a.close();
  EXPECT_THROW(b.recv_bytes_with([](std::string_view) {}), mp::eof_error);
}

TEST(connection, large_messages_cross_whole) {
  auto [a, b] = mp::pipe();
  const std::string big(3 * 1024 * 1024, 'x');
  std::thread t([&a, &big] { a.send_bytes(big); });
  EXPECT_EQ(b.recv_bytes(), big);
  t.join();
}

TEST(connection, recv_after_the_other_end_closed_raises_eof_error_once_drained) {
  auto [a, b] = mp::pipe();
  a.send_bytes("last");
  a.close();
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv_bytes(), "last");
  EXPECT_TRUE(b.poll());  // the end of the stream is something to read
  EXPECT_THROW(b.recv_bytes(), mp::eof_error);
  EXPECT_THROW(b.recv<int>(), mp::eof_error);
}

TEST(connection, half_a_message_then_the_end_is_eof_error) {
  auto [a, b] = mp::pipe(false);
  write_raw(b.fileno(), std::string("\0\0\0\5ab", 6));
  b.close();
  EXPECT_THROW(a.recv_bytes(), mp::eof_error);
}

TEST(connection, a_write_to_a_connection_whose_reader_left_raises_broken_pipe_error) {
  auto [a, b] = mp::pipe(false);
  a.close();
  EXPECT_THROW(b.send_bytes("x"), corio::broken_pipe_error);
  auto [c, d] = mp::pipe();
  c.close();
  EXPECT_THROW(d.send(1), corio::os_error);
}

TEST(connection, send_bytes_offset_and_size_outside_the_buffer_are_invalid_argument) {
  auto [a, b] = mp::pipe();
  EXPECT_THROW(a.send_bytes("abc", 4), std::invalid_argument);
  EXPECT_THROW(a.send_bytes("abc", 1, 3), std::invalid_argument);
  a.send_bytes("abcdef", 2, 3);
  EXPECT_EQ(b.recv_bytes(), "cde");
}

TEST(connection, closed_connections_raise_handle_is_closed_and_close_twice_is_fine) {
  auto [a, b] = mp::pipe();
  a.close();
  a.close();
  EXPECT_TRUE(a.closed());
  EXPECT_THROW(a.send(1), corio::os_error);
  EXPECT_THROW(a.recv_bytes(), corio::os_error);
  EXPECT_THROW(a.poll(), corio::os_error);
  EXPECT_THROW(a.fileno(), corio::os_error);
}

TEST(connection, detach_gives_up_the_fd_without_closing_it) {
  auto [r, w] = mp::pipe(false);
  const int fd = w.detach();
  EXPECT_TRUE(w.closed());
  mp::connection again(fd, false, true);
  again.send(5);
  EXPECT_EQ(r.recv<int>(), 5);
}

TEST(connection, a_duplex_end_holds_two_fds_and_refuses_to_detach_as_one) {
  auto [a, b] = mp::pipe();
  EXPECT_NE(a.fileno(), a.write_fileno());
  EXPECT_THROW((void)a.detach(), std::invalid_argument);
  EXPECT_FALSE(a.closed());
  a.send(5);
  EXPECT_EQ(b.recv<int>(), 5);
}

TEST(connection, move_keeps_buffered_messages) {
  auto [a, b] = mp::pipe();
  a.send(1);
  a.send(2);
  EXPECT_EQ(b.recv<int>(), 1);  // the second may be buffered already
  mp::connection c = std::move(b);
  EXPECT_EQ(c.recv<int>(), 2);
}

TEST(connection, poll_with_a_timeout_waits_that_long_at_most) {
  auto [a, b] = mp::pipe();
  EXPECT_FALSE(b.poll(10ms));
  EXPECT_FALSE(b.poll(-1s));
  a.send_bytes("");
  EXPECT_TRUE(b.poll(std::nullopt));
  EXPECT_EQ(b.recv_bytes(), "");
}

TEST(connection, wait_returns_the_ready_objects_in_order_and_nothing_on_timeout) {
  auto [a, b] = mp::pipe();
  auto [c, d] = mp::pipe();
  int raw[2];
  ASSERT_EQ(::pipe(raw), 0);
  EXPECT_TRUE(mp::wait({&b, &d, raw[0]}, 0s).empty());
  EXPECT_TRUE(mp::wait({&b, &d, raw[0]}, -1s).empty());
  c.send(1);
  write_raw(raw[1], "x");
  const auto ready = mp::wait({&b, &d, raw[0]}, 5s);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(std::get<mp::connection*>(ready[0]), &d);
  EXPECT_EQ(std::get<int>(ready[1]), raw[0]);
  ::close(raw[0]);
  ::close(raw[1]);
}

TEST(connection, recv_async_waits_in_the_loop_without_blocking_it) {
  auto [a, b] = mp::pipe();
  const int got = corio::run([](mp::connection& r, mp::connection& w) -> corio::task<int> {
    auto reader = corio::create_task(r.recv_async<int>());
    co_await corio_test::yield_once();
    EXPECT_FALSE(reader.done());
    co_await w.send_async(99);
    co_return co_await reader;
  }(b, a));
  EXPECT_EQ(got, 99);
}

TEST(connection, a_timed_out_recv_async_leaves_the_message_for_the_next_recv) {
  auto [a, b] = mp::pipe(false);
  corio::run([](mp::connection& r, mp::connection& w) -> corio::task<> {
    // Half a message arrives, then the receive times out.
    write_raw(w.fileno(), std::string("\0\0\0\6pi", 6));
    EXPECT_THROW(co_await corio::wait_for(r.recv_bytes_async(), 20ms), corio::timeout_error);
    write_raw(w.fileno(), "ng!!");
    EXPECT_EQ(co_await r.recv_bytes_async(), "ping!!");
    // A cancelled receive with nothing there loses nothing either.
    auto t = corio::create_task(r.recv_async<int>());
    co_await corio_test::yield_once();
    t.cancel();
    EXPECT_THROW(co_await t, corio::cancelled_error);
    w.send(5);
    EXPECT_EQ(r.recv<int>(), 5);
  }(a, b));
}

TEST(connection, messages_sent_together_arrive_as_the_same_messages_in_order) {
  auto [a, b] = mp::pipe();
  corio::run([](mp::connection& w, mp::connection& r) -> corio::task<> {
    std::vector<std::string> out{"first", "", std::string(100000, 'z'), "last"};
    const std::vector<std::string> expected = out;
    auto t = corio::create_task(w.send_bytes_async(std::move(out)));
    std::vector<std::string> got;
    std::thread reader([&] {
      for (std::size_t i = 0; i < expected.size(); ++i) got.push_back(r.recv_bytes());
    });
    co_await t;
    reader.join();
    EXPECT_EQ(got, expected);
    co_await w.send_bytes_async(std::vector<std::string>{});  // nothing: nothing sent
    w.send(2);
    EXPECT_EQ(r.recv<int>(), 2);
  }(a, b));
}

TEST(connection, a_cancelled_send_async_finishes_its_message_before_raising) {
  auto [a, b] = mp::pipe();
  const std::string payload(1 << 20, 'y');  // far more than a pipe holds
  corio::run([](mp::connection& w, mp::connection& r, const std::string& big) -> corio::task<> {
    auto t = corio::create_task(w.send_bytes_async(big));
    co_await corio_test::yield_once();  // part of it went, the pipe is full
    t.cancel();
    // Drain from another thread while the loop goes on.
    std::string got;
    std::thread reader([&] { got = r.recv_bytes(); });
    EXPECT_THROW(co_await t, corio::cancelled_error);
    reader.join();
    EXPECT_EQ(got.size(), big.size());
    w.send(1);
    EXPECT_EQ(r.recv<int>(), 1);
  }(a, b, payload));
}

TEST(connection, poll_async_and_wait_async_in_a_loop) {
  auto [a, b] = mp::pipe();
  corio::run([](mp::connection& w, mp::connection& r) -> corio::task<> {
    EXPECT_FALSE(co_await r.poll_async(10ms));
    // (GCC 12 rejects a braced vector inside co_await: see the guide.)
    const std::vector<mp::wait_object> objs{&r};
    auto ready = co_await mp::wait_async(objs, 10ms);
    EXPECT_TRUE(ready.empty());
    auto waiter = corio::create_task(mp::wait_async(objs));
    co_await corio_test::yield_once();
    w.send(3);
    ready = co_await waiter;
    EXPECT_EQ(ready.size(), 1u);
    EXPECT_TRUE(co_await r.poll_async(std::nullopt));
    EXPECT_EQ(r.recv<int>(), 3);
  }(a, b));
}

TEST(connection, a_message_over_maxlength_raises_and_leaves_the_connection_unreadable) {
  auto [a, b] = mp::pipe();
  a.send_bytes("0123456789");
  EXPECT_THROW(b.recv_bytes(4), corio::os_error);
  EXPECT_THROW(b.recv_bytes(), corio::os_error);
}

TEST(connection, recv_bytes_into_copies_or_raises_buffer_too_short_with_the_message) {
  auto [a, b] = mp::pipe();
  a.send_bytes("hello");
  a.send_bytes("much too long");
  char buf[10] = {};
  EXPECT_EQ(b.recv_bytes_into(buf, 2), 5u);
  EXPECT_EQ(std::string(buf + 2, 5), "hello");
  try {
    b.recv_bytes_into(buf);
    FAIL();
  } catch (const mp::buffer_too_short& e) {
    EXPECT_EQ(e.message(), "much too long");
  }
  EXPECT_THROW(b.recv_bytes_into(buf, 11), std::invalid_argument);
}

TEST(connection, one_way_pipes_refuse_the_other_direction) {
  auto [r, w] = mp::pipe(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_THROW(r.send(1), corio::os_error);
  EXPECT_THROW(w.recv<int>(), corio::os_error);
  EXPECT_THROW(w.poll(), corio::os_error);
}

// Unit tests for <corio/stream_reader.hpp>: the handle, the buffer, the fast
// paths, flow control towards a transport, cancellation, memory, volume.
// The Python scenarios of ST-01..ST-13 are in tests/semantics/test_st_reader.cpp,
// large volumes and long runs in tests/stress/test_stream_reader_stress.cpp.
#include <corio/stream_reader.hpp>

#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "loop_util.hpp"
#include "error_util.hpp"

// Counts allocations, to check that the fast paths make none. (GCC takes
// the free() in a replaced operator delete for a mismatch.)
using corio_test::bounded;

namespace {
thread_local std::size_t g_allocations = 0;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using namespace std::chrono_literals;
using corio::testing::run_briefly;
using corio::testing::virtual_time;
using corio_test::holds;
using reader_core = corio::detail::reader_core;

namespace {

corio::task<std::string> read_n(corio::stream_reader r, std::ptrdiff_t n) { co_return co_await r.read(n); }
corio::task<std::string> readline_of(corio::stream_reader r) { co_return co_await r.readline(); }
corio::task<std::string> readuntil_of(corio::stream_reader r, std::string sep) {
  co_return co_await r.readuntil(sep);
}
corio::task<std::string> readexactly_of(corio::stream_reader r, std::size_t n) {
  co_return co_await r.readexactly(n);
}
corio::task<std::string> read_into_of(corio::stream_reader r, std::size_t n) {
  std::string buf(n, '\0');
  const std::size_t got = co_await r.read_into(buf);
  buf.resize(got);
  co_return buf;
}

std::string buffered_bytes(const corio::stream_reader& r) { return std::string(r.core().data(), r.core().size()); }

// A transport as the reader sees it: records the flow-control calls.
struct fake_flow final : corio::detail::read_flow {
  int pauses = 0;
  int resumes = 0;
  bool paused = false;
  void pause_reading() noexcept override {
    EXPECT_FALSE(paused) << "paused twice";
    ++pauses;
    paused = true;
  }
  void resume_reading() noexcept override {
    EXPECT_TRUE(paused) << "resumed while running";
    ++resumes;
    paused = false;
  }
};

}  // namespace

// -- the handle and the errors ------------------------------------------------------------

TEST(StreamReader, copies_share_one_reader_and_moves_hand_it_over) {
  corio::stream_reader a(100);
  corio::stream_reader b = a;
  a.feed_data("abc");
  EXPECT_EQ(b.buffered(), 3u);
  EXPECT_EQ(&a.core(), &b.core());
  corio::stream_reader c = std::move(a);
  EXPECT_EQ(&c.core(), &b.core());
  c = corio::stream_reader(5);
  EXPECT_EQ(c.limit(), 5u);
  EXPECT_EQ(b.limit(), 100u);
  EXPECT_EQ(corio::stream_reader::default_limit, 65536u);
}

TEST(StreamReader, the_errors_carry_python_attributes_and_are_std_runtime_errors) {
  static_assert(std::is_base_of_v<std::runtime_error, corio::incomplete_read_error>);
  static_assert(std::is_base_of_v<std::runtime_error, corio::limit_overrun_error>);
  const corio::incomplete_read_error a("abc", 10);
  EXPECT_EQ(a.partial(), "abc");
  EXPECT_EQ(a.expected(), 10u);
  EXPECT_STREQ(a.what(), "3 bytes read on a total of 10 expected bytes");
  const corio::incomplete_read_error b("", std::nullopt);
  EXPECT_STREQ(b.what(), "0 bytes read on a total of undefined expected bytes");
  const corio::limit_overrun_error c("too long", 42);
  EXPECT_EQ(c.consumed(), 42u);
  EXPECT_STREQ(c.what(), "too long");
}

TEST(StreamReader, feeding_after_eof_and_a_null_exception_are_refused) {
  corio::stream_reader r;
  r.feed_data("");  // no-op, as in Python
  EXPECT_EQ(r.buffered(), 0u);
  r.feed_eof();
  r.feed_data("");
  EXPECT_THROW(r.feed_data("x"), corio::invalid_state_error);
  EXPECT_THROW(r.set_exception(nullptr), std::invalid_argument);
  EXPECT_EQ(r.exception(), nullptr);
}

TEST(StreamReader, a_reader_waited_on_from_a_second_loop_throws) {
  corio::stream_reader r;
  corio::event_loop first(virtual_time());
  corio::event_loop second(virtual_time());
  auto w = first.create_task(read_n(r, 1));
  run_briefly(first);
  w.cancel();
  run_briefly(first);
  auto u = second.create_task(read_n(r, 1));
  EXPECT_EQ(corio_test::what_of<std::runtime_error>([&] { second.run_until_complete(u); }),
            "StreamReader is bound to a different event loop");
  r.feed_data("ok");
  EXPECT_EQ(second.run_until_complete(read_n(r, 5)), "ok");  // no wait: no loop involved
}

// -- fast paths ---------------------------------------------------------------------------

TEST(StreamReader, reads_that_the_buffer_satisfies_complete_in_the_first_step) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("one\ntwo\r\nthree four five");
  std::vector<std::string> got;
  auto main = [&]() -> corio::task<> {
    got.push_back(co_await r.readline());
    got.push_back(co_await r.readuntil("\r\n"));
    got.push_back(co_await r.readexactly(5));
    got.push_back(co_await r.read(4));
    std::array<char, 3> buf{};
    const std::size_t n = co_await r.read_into(buf);
    got.emplace_back(buf.data(), n);
  };
  auto t = loop.create_task(main());
  run_briefly(loop);  // one step: no suspension
  ASSERT_TRUE(t.done());
  t.result();
  EXPECT_EQ(got, (std::vector<std::string>{"one\n", "two\r\n", "three", " fou", "r f"}));
  EXPECT_EQ(buffered_bytes(r), "ive");
}

TEST(StreamReader, the_fast_paths_allocate_nothing_beyond_the_returned_string) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto main = [&]() -> corio::task<> {
    r.feed_data("short line\nabcdefgh");
    std::array<char, 4> buf{};
    const std::size_t before = g_allocations;
    const std::string line = co_await r.readline();         // fits std::string's inline space
    const std::string four = co_await r.readexactly(4);     // idem
    const std::size_t n = co_await r.read_into(buf);        // never allocates
    const std::size_t after = g_allocations;
    EXPECT_EQ(after - before, 0u);
    EXPECT_EQ(line, "short line\n");
    EXPECT_EQ(four, "abcd");
    EXPECT_EQ(std::string_view(buf.data(), n), "efgh");
  };
  loop.run_until_complete(main());
}

// -- read_into ----------------------------------------------------------------------------

TEST(StreamReader, read_into_copies_what_fits_and_leaves_the_rest) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("0123456789");
  EXPECT_EQ(loop.run_until_complete(read_into_of(r, 4)), "0123");
  EXPECT_EQ(loop.run_until_complete(read_into_of(r, 100)), "456789");
  EXPECT_EQ(loop.run_until_complete(read_into_of(r, 0)), "");  // an empty span does not wait
  auto t = loop.create_task(read_into_of(r, 8));
  run_briefly(loop);
  EXPECT_FALSE(t.done());
  r.feed_data("ab");
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), "ab");
  r.feed_eof();
  EXPECT_EQ(loop.run_until_complete(read_into_of(r, 8)), "");  // 0 at EOF
  r.set_exception(std::make_exception_ptr(std::runtime_error("boom")));
  EXPECT_THROW(loop.run_until_complete(read_into_of(r, 8)), std::runtime_error);
}

// -- framing across chunk boundaries ------------------------------------------------------

TEST(StreamReader, every_chunking_gives_the_same_lines_and_frames) {
  const std::string text = "alpha\r\nbe\rta\r\n\r\n\r\ngamma-delta\r\nlast";
  for (std::size_t chunk = 1; chunk <= text.size(); ++chunk) {
    corio::event_loop loop(virtual_time());
    corio::stream_reader r;
    std::vector<std::string> got;
    auto consumer = [&]() -> corio::task<> {
      got.push_back(co_await r.readuntil("\r\n"));
      got.push_back(co_await r.readexactly(3));
      got.push_back(co_await r.readline());
      got.push_back(co_await r.readuntil("\r\n\r\n"));
      got.push_back(co_await r.readuntil("-"));
      got.push_back(co_await r.read(3));
      got.push_back(co_await r.read());
    };
    auto t = loop.create_task(consumer());
    for (std::size_t off = 0; off < text.size(); off += chunk) {
      r.feed_data(std::string_view(text).substr(off, chunk));
      run_briefly(loop, chunk % 3);
    }
    r.feed_eof();
    loop.run_until_complete(t);
    ASSERT_EQ(got.size(), 7u);
    EXPECT_EQ(got[0], "alpha\r\n") << chunk;
    EXPECT_EQ(got[1], "be\r") << chunk;
    EXPECT_EQ(got[2], "ta\r\n") << chunk;
    EXPECT_EQ(got[3], "\r\n\r\n") << chunk;
    EXPECT_EQ(got[4], "gamma-") << chunk;
    // read(3) returns what is buffered at once: 1 to 3 bytes.
    EXPECT_TRUE(!got[5].empty() && got[5].size() <= 3) << chunk;
    EXPECT_EQ(got[5] + got[6], "delta\r\nlast") << chunk;
  }
}

TEST(StreamReader, a_multibyte_separator_split_at_every_point) {
  const std::string sep = "<=>";
  for (std::size_t cut = 0; cut <= 6; ++cut) {
    corio::event_loop loop(virtual_time());
    corio::stream_reader r(8);
    const std::string msg = "abc<=>de";
    auto t = loop.create_task(readuntil_of(r, sep));
    r.feed_data(std::string_view(msg).substr(0, cut));
    run_briefly(loop);
    r.feed_data(std::string_view(msg).substr(cut));
    run_briefly(loop);
    ASSERT_TRUE(t.done()) << cut;
    EXPECT_EQ(t.result(), "abc<=>") << cut;
    EXPECT_EQ(buffered_bytes(r), "de") << cut;
  }
}

TEST(StreamReader, a_separator_ending_exactly_at_the_limit_is_found) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(4);
  auto t = loop.create_task(readuntil_of(r, "xyz"));
  for (char c : std::string("abcdxyz")) {  // separator starts at offset 4 == limit
    r.feed_data(std::string_view(&c, 1));
    run_briefly(loop);
  }
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), "abcdxyz");
}

// -- cancellation -------------------------------------------------------------------------

TEST(StreamReader, every_read_cancelled_while_waiting_loses_nothing) {
  using reader_fn = corio::task<std::string> (*)(corio::stream_reader);
  const std::vector<reader_fn> readers = {
      [](corio::stream_reader r) { return read_n(r, 10); },
      [](corio::stream_reader r) { return read_n(r, -1); },
      [](corio::stream_reader r) { return readline_of(r); },
      [](corio::stream_reader r) { return readuntil_of(r, "##"); },
      [](corio::stream_reader r) { return readexactly_of(r, 10); },
      [](corio::stream_reader r) { return read_into_of(r, 10); },
  };
  for (std::size_t i = 0; i < readers.size(); ++i) {
    corio::event_loop loop(virtual_time());
    corio::stream_reader r;
    if (i != 0 && i != 5) r.feed_data("ab");  // read(n) and read_into wait only when empty
    auto t = loop.create_task(readers[i](r));
    run_briefly(loop);
    EXPECT_FALSE(t.done()) << i;
    t.cancel();
    run_briefly(loop);
    EXPECT_TRUE(t.cancelled()) << i;
    EXPECT_FALSE(r.core().waiting());
    r.feed_data("cd#");
    r.feed_data("#efghijkl");
    r.feed_eof();
    EXPECT_EQ(loop.run_until_complete(read_n(r, -1)), std::string(i != 0 && i != 5 ? "ab" : "") + "cd##efghijkl")
        << i;
  }
}

TEST(StreamReader, a_read_timed_out_by_wait_for_consumes_nothing_and_the_next_read_works) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto main = [&]() -> corio::task<> {
    r.feed_data("partial");
    bool timed_out = false;
    try {
      co_await corio::wait_for(readline_of(r), 10ms);
    } catch (const corio::timeout_error&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    EXPECT_EQ(buffered_bytes(r), "partial");
    loop.call_later(5ms, [&] { r.feed_data(" line\n"); });
    const std::string line = co_await corio::wait_for(readline_of(r), 10ms);
    EXPECT_EQ(line, "partial line\n");
  };
  loop.run_until_complete(bounded(main()));
}

TEST(StreamReader, a_woken_reader_keeps_its_data_from_a_second_reader) {
  // Between the wake-up and its step the first reader still counts as
  // waiting, so the data it was woken for cannot be taken from it.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto first = loop.create_task(readexactly_of(r, 4));
  run_briefly(loop);
  auto second = loop.create_task(read_n(r, 4));  // its first step runs before first's next one
  r.feed_data("1234");
  run_briefly(loop);
  ASSERT_TRUE(first.done() && second.done());
  EXPECT_EQ(first.result(), "1234");
  EXPECT_TRUE(holds<std::runtime_error>(second.exception()));
}

TEST(StreamReader, a_waiting_read_destroyed_with_its_loop_leaves_the_reader_usable) {
  corio::stream_reader r;
  {
    corio::event_loop loop(virtual_time());
    loop.set_exception_handler([](corio::event_loop&, const corio::exception_context&) {});
    loop.create_task(readline_of(r));
    run_briefly(loop);
    EXPECT_TRUE(r.core().waiting());
  }
  EXPECT_FALSE(r.core().waiting());
  r.feed_data("fine\n");
  corio::event_loop next(virtual_time());
  EXPECT_EQ(next.run_until_complete(readline_of(r)), "fine\n");
}

// -- flow control ---------------------------------------------------------------------------

TEST(StreamReader, the_transport_pauses_above_twice_the_limit_and_resumes_at_the_limit) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(10);
  fake_flow flow;
  r.core().set_transport(&flow);
  r.feed_data(std::string(20, 'a'));
  EXPECT_EQ(flow.pauses, 0);  // 20 is not above 2 * 10
  r.feed_data("b");
  EXPECT_EQ(flow.pauses, 1);
  EXPECT_TRUE(r.core().paused());
  r.feed_data("ccc");  // already paused: no second call
  EXPECT_EQ(flow.pauses, 1);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 13)).size(), 13u);  // 11 left: still above the limit
  EXPECT_EQ(flow.resumes, 0);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 1)), "a");  // 10 left
  EXPECT_EQ(flow.resumes, 1);
  EXPECT_FALSE(r.core().paused());
  r.core().set_transport(nullptr);
}

TEST(StreamReader, a_read_that_must_wait_resumes_a_paused_transport) {
  // Python's _wait_for_data: waiting while paused would deadlock.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(4);
  fake_flow flow;
  r.core().set_transport(&flow);
  r.feed_data("0123456789");
  ASSERT_TRUE(flow.paused);
  auto t = loop.create_task(readexactly_of(r, 30));
  run_briefly(loop);
  EXPECT_FALSE(flow.paused);
  EXPECT_EQ(flow.resumes, 1);
  // While it waits for more, more data does not pause the transport...
  r.feed_data("0123456789");
  r.feed_data("012345678");
  EXPECT_FALSE(flow.paused);
  // ...until the read can finish; it then consumes and resumes.
  r.feed_data("9ABCDEFGHIJK");
  EXPECT_TRUE(flow.paused);
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result().size(), 30u);
  EXPECT_EQ(buffered_bytes(r), "ABCDEFGHIJK");  // 11 > limit: still paused
  EXPECT_TRUE(flow.paused);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 8)), "ABCDEFGH");  // 3 left
  EXPECT_FALSE(flow.paused);
  r.core().set_transport(nullptr);
}

TEST(StreamReader, a_cancelled_read_that_held_the_transport_running_pauses_it) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(4);
  fake_flow flow;
  r.core().set_transport(&flow);
  auto t = loop.create_task(readexactly_of(r, 100));
  run_briefly(loop);
  r.feed_data(std::string(50, 'x'));
  EXPECT_FALSE(flow.paused);
  t.cancel();
  run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(flow.paused);
  EXPECT_EQ(r.buffered(), 50u);
  r.core().set_transport(nullptr);
}

TEST(StreamReader, readline_dropping_a_long_line_resumes_the_transport) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(4);
  fake_flow flow;
  r.core().set_transport(&flow);
  r.feed_data("0123456789\nok\n");
  EXPECT_TRUE(flow.paused);
  EXPECT_THROW(loop.run_until_complete(readline_of(r)), std::invalid_argument);
  EXPECT_FALSE(flow.paused);
  EXPECT_EQ(loop.run_until_complete(readline_of(r)), "ok\n");
  r.core().set_transport(nullptr);
}

TEST(StreamReader, detaching_the_transport_forgets_the_pause) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(1);
  fake_flow flow;
  r.core().set_transport(&flow);
  r.feed_data("abc");
  ASSERT_TRUE(flow.paused);
  r.core().set_transport(nullptr);
  EXPECT_FALSE(r.core().paused());
  EXPECT_EQ(loop.run_until_complete(read_n(r, 3)), "abc");
  EXPECT_EQ(flow.resumes, 0);
}

// -- memory ---------------------------------------------------------------------------------

TEST(StreamReader, small_messages_never_touch_the_heap) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto main = [&]() -> corio::task<> {
    std::array<char, 64> buf{};
    const std::string msg(64, 'm');
    for (int i = 0; i < 1000; ++i) {
      r.feed_data(msg);
      const std::size_t n = co_await r.read_into(buf);
      EXPECT_EQ(n, 64u);
      EXPECT_EQ(r.core().heap_capacity(), 0u);
    }
  };
  loop.run_until_complete(main());
  EXPECT_LE(sizeof(reader_core), 256u);
}

TEST(StreamReader, a_drained_reader_gives_its_heap_buffer_back) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data(std::string(1 << 20, 'z'));
  EXPECT_GE(r.core().heap_capacity(), std::size_t{1} << 20);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 1 << 19)).size(), std::size_t{1} << 19);
  EXPECT_GT(r.core().heap_capacity(), 0u);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 1 << 20)).size(), std::size_t{1} << 19);
  EXPECT_EQ(r.core().heap_capacity(), 0u);
}

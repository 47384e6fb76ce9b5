// Semantic tests for docs/semantics.md section 8, the reading half of streams:
// StreamReader reads and framing (ST-01..ST-07); EOF, limits, errors,
// cancellation and the one-waiter rule are in test_st_reader_errors.cpp.
// Scenarios follow CPython's Lib/test/test_asyncio/test_streams.py;
// `stream._buffer` there is buffered_bytes(r) here, and `loop.call_soon(cb)`
// before run_until_complete becomes a call_soon on the same virtual-time loop.
//
// Parts of rules with nothing to test in C++:
//   ST-01  StreamReader(loop=...) and a non-integer limit: no constructor
//          takes a loop, and the limit is an integer.
//   ST-14..ST-22 belong to the writer, the transports and the server.
#include "st_helpers.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>

using namespace sth;

// == ST-01 ==========================================================================

TEST(ST, ST_01_a_limit_of_zero_or_less_is_invalid) {
  // Python: test_invalid_limit (the message mentions the limit).
  EXPECT_EQ(corio_test::what_of<std::invalid_argument>([] { corio::stream_reader r(0); }), "Limit cannot be <= 0");
  EXPECT_EQ(corio_test::what_of<std::invalid_argument>([] { corio::stream_reader r(-1); }), "Limit cannot be <= 0");
  EXPECT_THROW(corio::stream_reader(std::size_t{0}), std::invalid_argument);
  EXPECT_EQ(corio::stream_reader().limit(), 65536u);
  EXPECT_EQ(corio::stream_reader(7).limit(), 7u);
}

TEST(ST, ST_01_the_limit_does_not_bound_read_n) {
  // Python: test_read_limit.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(3);
  r.feed_data("chunk");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 5)), "chunk");
  EXPECT_EQ(buffered_bytes(r), "");
}

TEST(ST, ST_01_the_limit_does_not_bound_readexactly) {
  // Python: test_readexactly_limit.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(3);
  r.feed_data("chunk");
  EXPECT_EQ(loop.run_until_complete(readexactly_of(r, 5)), "chunk");
  EXPECT_EQ(buffered_bytes(r), "");
}

// == ST-02 ==========================================================================

TEST(ST, ST_02_read_zero_returns_empty_without_consuming) {
  // Python: test_read_zero.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data(kData);
  EXPECT_EQ(loop.run_until_complete(read_n(r, 0)), "");
  EXPECT_EQ(buffered_bytes(r), kData);
}

TEST(ST, ST_02_read_zero_on_an_empty_stream_does_not_wait) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(read_n(r, 0));
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), "");
}

// == ST-03 ==========================================================================

TEST(ST, ST_03_read_n_waits_for_data_fed_later) {
  // Python: test_read.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(read_n(r, 30));
  loop.call_soon([&] { r.feed_data(kData); });
  EXPECT_EQ(loop.run_until_complete(t), kData);
  EXPECT_EQ(buffered_bytes(r), "");
}

TEST(ST, ST_03_read_n_returns_what_is_there_without_filling_n) {
  // Python: test_read_line_breaks.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("line1");
  r.feed_data("line2");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 5)), "line1");
  EXPECT_EQ(buffered_bytes(r), "line2");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 100)), "line2");
}

TEST(ST, ST_03_read_n_returns_after_the_first_chunk_even_when_short) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(read_n(r, 1000));
  run_briefly(loop);
  EXPECT_FALSE(t.done());
  r.feed_data("abc");
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), "abc");
}

TEST(ST, ST_03_read_n_at_eof_returns_empty) {
  // Python: test_read_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(read_n(r, 1024));
  loop.call_soon([&] { r.feed_eof(); });
  EXPECT_EQ(loop.run_until_complete(t), "");
  EXPECT_EQ(buffered_bytes(r), "");
  EXPECT_EQ(loop.run_until_complete(read_n(r, 1024)), "");
}

// == ST-04 ==========================================================================

TEST(ST, ST_04_read_minus_one_reads_until_eof) {
  // Python: test_read_until_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(read_n(r, -1));
  loop.call_soon([&] {
    r.feed_data("chunk1\n");
    r.feed_data("chunk2");
    r.feed_eof();
  });
  EXPECT_EQ(loop.run_until_complete(t), "chunk1\nchunk2");
  EXPECT_EQ(buffered_bytes(r), "");
}

TEST(ST, ST_04_read_minus_one_keeps_waiting_across_chunks) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(4);  // the limit does not bound it either
  auto t = loop.create_task(read_n(r, -1));
  for (int i = 0; i < 10; ++i) {
    r.feed_data("0123456789");
    run_briefly(loop);
    EXPECT_FALSE(t.done());
  }
  r.feed_eof();
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result().size(), 100u);
}

// == ST-05 ==========================================================================

TEST(ST, ST_05_readline_accumulates_across_chunks_and_leaves_the_rest) {
  // Python: test_readline.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("chunk1 ");
  auto t = loop.create_task(readline_of(r));
  loop.call_soon([&] {
    r.feed_data("chunk2 ");
    r.feed_data("chunk3 ");
    r.feed_data("\n chunk4");
  });
  EXPECT_EQ(loop.run_until_complete(t), "chunk1 chunk2 chunk3 \n");
  EXPECT_EQ(buffered_bytes(r), " chunk4");
}

TEST(ST, ST_05_readline_with_everything_buffered_does_not_wait) {
  // Python: test_readline_nolimit_nowait.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data(kData.substr(0, 6));
  r.feed_data(kData.substr(6));
  EXPECT_EQ(loop.run_until_complete(readline_of(r)), "line1\n");
  EXPECT_EQ(buffered_bytes(r), "line2\nline3\n");
}

TEST(ST, ST_05_readline_at_eof_returns_the_partial_line) {
  // Python: test_readline_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("some data");
  r.feed_eof();
  EXPECT_EQ(loop.run_until_complete(readline_of(r)), "some data");
  EXPECT_TRUE(r.at_eof());
}

TEST(ST, ST_05_readline_at_eof_with_nothing_buffered_returns_empty) {
  // Python: test_readline_empty_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_eof();
  EXPECT_EQ(loop.run_until_complete(readline_of(r)), "");
}

TEST(ST, ST_05_read_after_readline_takes_the_next_bytes) {
  // Python: test_readline_read_byte_count.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data(kData);
  loop.run_until_complete(readline_of(r));
  EXPECT_EQ(loop.run_until_complete(read_n(r, 7)), "line2\nl");
  EXPECT_EQ(buffered_bytes(r), "ine3\n");
}

// == ST-06 ==========================================================================

TEST(ST, ST_06_readline_over_the_limit_consumes_through_the_separator) {
  // Python: test_readline_limit, first two scenarios (data fed by call_soon).
  corio::event_loop loop(virtual_time());
  {
    corio::stream_reader r(7);
    loop.call_soon([&] {
      r.feed_data("chunk1");
      r.feed_data("chunk2");
      r.feed_data("chunk3\n");
      r.feed_eof();
    });
    EXPECT_THROW(loop.run_until_complete(readline_of(r)), std::invalid_argument);
    EXPECT_EQ(buffered_bytes(r), "");
  }
  {
    corio::stream_reader r(7);
    loop.call_soon([&] {
      r.feed_data("chunk1");
      r.feed_data("chunk2\n");
      r.feed_data("chunk3\n");
      r.feed_eof();
    });
    EXPECT_EQ(corio_test::what_of<std::invalid_argument>([&] { loop.run_until_complete(readline_of(r)); }),
              "Separator is found, but chunk is longer than limit");
    EXPECT_EQ(buffered_bytes(r), "chunk3\n");
  }
}

TEST(ST, ST_06_a_line_of_exactly_limit_bytes_is_accepted_one_more_is_not) {
  // Python: test_readline_limit, "check strictness of the limit".
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(7);
  r.feed_data("1234567\n");
  EXPECT_EQ(loop.run_until_complete(readline_of(r)), "1234567\n");
  EXPECT_EQ(buffered_bytes(r), "");

  r.feed_data("12345678\n");
  EXPECT_THROW(loop.run_until_complete(readline_of(r)), std::invalid_argument);
  EXPECT_EQ(buffered_bytes(r), "");

  r.feed_data("12345678");
  EXPECT_EQ(corio_test::what_of<std::invalid_argument>([&] { loop.run_until_complete(readline_of(r)); }),
            "Separator is not found, and chunk exceed the limit");
  EXPECT_EQ(buffered_bytes(r), "");
}

TEST(ST, ST_06_readline_over_the_limit_with_data_already_buffered) {
  // Python: test_readline_limit_with_existing_data.
  corio::event_loop loop(virtual_time());
  {
    corio::stream_reader r(3);
    r.feed_data("li");
    r.feed_data("ne1\nline2\n");
    EXPECT_THROW(loop.run_until_complete(readline_of(r)), std::invalid_argument);
    EXPECT_EQ(buffered_bytes(r), "line2\n");  // the rest stays
  }
  {
    corio::stream_reader r(3);
    r.feed_data("li");
    r.feed_data("ne1");
    r.feed_data("li");
    EXPECT_THROW(loop.run_until_complete(readline_of(r)), std::invalid_argument);
    EXPECT_EQ(buffered_bytes(r), "");  // no separator: the whole buffer goes
  }
}

// == ST-07 ==========================================================================

TEST(ST, ST_07_an_empty_separator_is_invalid) {
  // Python: test_readuntil_separator.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("abc");
  EXPECT_EQ(corio_test::what_of<std::invalid_argument>([&] { loop.run_until_complete(readuntil_of(r, "")); }),
            "Separator should be at least one-byte string");
  EXPECT_EQ(buffered_bytes(r), "abc");
}

TEST(ST, ST_07_readuntil_returns_data_including_a_multibyte_separator) {
  // Python: test_readuntil_multi_chunks.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("lineAAA");
  EXPECT_EQ(loop.run_until_complete(readuntil_of(r, "AAA")), "lineAAA");
  EXPECT_EQ(buffered_bytes(r), "");
  r.feed_data("lineAAA");
  EXPECT_EQ(loop.run_until_complete(readuntil_of(r, "AAA")), "lineAAA");
  EXPECT_EQ(buffered_bytes(r), "");
  r.feed_data("lineAAAxxx");
  EXPECT_EQ(loop.run_until_complete(readuntil_of(r, "AAA")), "lineAAA");
  EXPECT_EQ(buffered_bytes(r), "xxx");
}

TEST(ST, ST_07_the_separator_may_span_chunks) {
  // Python: test_readuntil_multi_chunks_1.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  const auto case_of = [&](std::initializer_list<std::string_view> chunks, const std::string& expect) {
    for (auto c : chunks) r.feed_data(c);
    EXPECT_EQ(loop.run_until_complete(readuntil_of(r, "aaa")), expect);
    EXPECT_EQ(buffered_bytes(r), "");
  };
  case_of({"QWEaa", "XYaa", "a"}, "QWEaaXYaaa");
  case_of({"QWEaa", "XYa", "aa"}, "QWEaaXYaaa");
  case_of({"aaa"}, "aaa");
  case_of({"Xaaa"}, "Xaaa");
  case_of({"XXX", "a", "a", "a"}, "XXXaaa");
}

TEST(ST, ST_07_a_separator_spanning_chunks_fed_while_waiting) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(readuntil_of(r, "\r\n\r\n"));
  for (std::string_view c : {"GET / HTTP/1.1\r", "\nHost: x\r\n", "\r", "\nbody"}) {
    EXPECT_FALSE(t.done());
    r.feed_data(c);
    run_briefly(loop);
  }
  ASSERT_TRUE(t.done());
  EXPECT_EQ(t.result(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(buffered_bytes(r), "body");
}

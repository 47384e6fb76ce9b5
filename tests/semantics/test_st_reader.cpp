// Semantic tests for SEMANTICS.md section 8, the reading half of streams:
// StreamReader (ST-01..ST-13). Scenarios follow CPython's
// Lib/test/test_asyncio/test_streams.py; `stream._buffer` there is
// buffered_bytes(r) here, and `loop.call_soon(cb)` before
// run_until_complete becomes a call_soon on the same virtual-time loop.
//
// Parts of rules with nothing to test in C++:
//   ST-01  StreamReader(loop=...) and a non-integer limit: no constructor
//          takes a loop, and the limit is an integer.
//   ST-10  A non-integer n (TypeError): n is an integer.
//   ST-14..ST-22 belong to the writer, the transports and the server.
#include "sync_util.hpp"

#include <corio/wait.hpp>

#include <corio/stream_reader.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using corio::testing::run_briefly;
using corio::testing::virtual_time;

namespace {

const std::string kData = "line1\nline2\nline3\n";

std::string buffered_bytes(const corio::stream_reader& r) {
  return std::string(r.core().data(), r.core().size());
}

corio::task<std::string> read_n(corio::stream_reader r, std::ptrdiff_t n) { co_return co_await r.read(n); }
corio::task<std::string> readline_of(corio::stream_reader r) { co_return co_await r.readline(); }
corio::task<std::string> readuntil_of(corio::stream_reader r, std::string sep) {
  co_return co_await r.readuntil(sep);
}
corio::task<std::string> readexactly_of(corio::stream_reader r, std::size_t n) {
  co_return co_await r.readexactly(n);
}

struct python_value_error : std::invalid_argument {
  python_value_error() : std::invalid_argument("ValueError()") {}
};

}  // namespace

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

// == ST-08 ==========================================================================

TEST(ST, ST_08_readuntil_at_eof_without_separator_gives_everything_and_empties_the_buffer) {
  // Python: test_readuntil_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("some dataAA");
  r.feed_eof();
  try {
    loop.run_until_complete(readuntil_of(r, "AAA"));
    ADD_FAILURE() << "no incomplete_read_error";
  } catch (const corio::incomplete_read_error& e) {
    EXPECT_EQ(e.partial(), "some dataAA");
    EXPECT_FALSE(e.expected().has_value());
    EXPECT_STREQ(e.what(), "11 bytes read on a total of undefined expected bytes");
  }
  EXPECT_EQ(buffered_bytes(r), "");
  EXPECT_TRUE(r.at_eof());
}

TEST(ST, ST_08_readuntil_waiting_when_eof_arrives) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(readuntil_of(r, "\n"));
  run_briefly(loop);
  r.feed_data("partial");
  run_briefly(loop);
  EXPECT_FALSE(t.done());
  r.feed_eof();
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  const auto e = syt::outcome_of(t);
  ASSERT_TRUE(syt::holds<corio::incomplete_read_error>(e));
  try {
    std::rethrow_exception(e);
  } catch (const corio::incomplete_read_error& x) {
    EXPECT_EQ(x.partial(), "partial");
  }
}

// == ST-09 ==========================================================================

TEST(ST, ST_09_readuntil_over_the_limit_leaves_the_data_buffered) {
  // Python: test_readuntil_limit_found_sep.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(3);
  r.feed_data("some dataAA");
  try {
    loop.run_until_complete(readuntil_of(r, "AAA"));
    ADD_FAILURE() << "no limit_overrun_error";
  } catch (const corio::limit_overrun_error& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    EXPECT_EQ(e.consumed(), 9u);  // len + 1 - len(sep)
  }
  EXPECT_EQ(buffered_bytes(r), "some dataAA");

  r.feed_data("A");
  try {
    loop.run_until_complete(readuntil_of(r, "AAA"));
    ADD_FAILURE() << "no limit_overrun_error";
  } catch (const corio::limit_overrun_error& e) {
    EXPECT_NE(std::string(e.what()).find("is found"), std::string::npos) << e.what();
    EXPECT_EQ(e.consumed(), 9u);  // where the separator starts
  }
  EXPECT_EQ(buffered_bytes(r), "some dataAAA");
}

TEST(ST, ST_09_a_waiting_readuntil_fails_as_soon_as_the_limit_is_passed) {
  // The search stops at the limit: a peer cannot make it buffer without end.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(10);
  auto t = loop.create_task(readuntil_of(r, "\n"));
  r.feed_data("0123456789");  // limit bytes: may still be followed by "\n"
  run_briefly(loop);
  EXPECT_FALSE(t.done());
  r.feed_data("x");
  run_briefly(loop);
  ASSERT_TRUE(t.done());
  EXPECT_TRUE(syt::holds<corio::limit_overrun_error>(syt::outcome_of(t)));
  EXPECT_EQ(r.buffered(), 11u);
}

// == ST-10 ==========================================================================

TEST(ST, ST_10_readexactly_zero_returns_empty_and_negative_is_invalid) {
  // Python: test_readexactly_zero_or_less.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data(kData);
  EXPECT_EQ(loop.run_until_complete(readexactly_of(r, 0)), "");
  EXPECT_EQ(buffered_bytes(r), kData);
  auto negative = [&]() -> corio::task<std::string> { co_return co_await r.readexactly(-1); };
  EXPECT_EQ(corio_test::what_of<std::invalid_argument>([&] { loop.run_until_complete(negative()); }),
            "readexactly size can not be less than zero");
  EXPECT_EQ(buffered_bytes(r), kData);
}

TEST(ST, ST_10_readexactly_waits_for_n_bytes_and_leaves_the_surplus) {
  // Python: test_readexactly.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  const std::size_t n = 2 * kData.size();
  auto t = loop.create_task(readexactly_of(r, n));
  loop.call_soon([&] {
    r.feed_data(kData);
    r.feed_data(kData);
    r.feed_data(kData);
  });
  EXPECT_EQ(loop.run_until_complete(t), kData + kData);
  EXPECT_EQ(buffered_bytes(r), kData);
}

TEST(ST, ST_10_readexactly_at_eof_raises_incomplete_read_and_empties_the_buffer) {
  // Python: test_readexactly_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  const std::size_t n = 2 * kData.size();
  auto t = loop.create_task(readexactly_of(r, n));
  loop.call_soon([&] {
    r.feed_data(kData);
    r.feed_eof();
  });
  try {
    loop.run_until_complete(t);
    ADD_FAILURE() << "no incomplete_read_error";
  } catch (const corio::incomplete_read_error& e) {
    EXPECT_EQ(e.partial(), kData);
    EXPECT_EQ(e.expected(), n);
    EXPECT_STREQ(e.what(), "18 bytes read on a total of 36 expected bytes");
  }
  EXPECT_EQ(buffered_bytes(r), "");
}

// == ST-11 ==========================================================================

TEST(ST, ST_11_at_eof_needs_eof_and_an_empty_buffer) {
  // Python: test_at_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  EXPECT_FALSE(r.at_eof());
  r.feed_data("some data\n");
  EXPECT_FALSE(r.at_eof());
  loop.run_until_complete(readline_of(r));
  EXPECT_FALSE(r.at_eof());
  r.feed_data("some data\n");
  r.feed_eof();
  EXPECT_FALSE(r.at_eof());
  loop.run_until_complete(readline_of(r));
  EXPECT_TRUE(r.at_eof());
}

// == ST-12 ==========================================================================

TEST(ST, ST_12_exception_returns_what_set_exception_gave) {
  // Python: test_exception.
  corio::stream_reader r;
  EXPECT_EQ(r.exception(), nullptr);
  auto e = std::make_exception_ptr(python_value_error());
  r.set_exception(e);
  EXPECT_EQ(r.exception(), e);
}

TEST(ST, ST_12_every_read_after_set_exception_raises_it) {
  // Python: test_read_exception, test_readline_exception, test_readexactly_exception.
  corio::event_loop loop(virtual_time());
  {
    corio::stream_reader r;
    r.feed_data("line\n");
    EXPECT_EQ(loop.run_until_complete(read_n(r, 2)), "li");
    r.set_exception(std::make_exception_ptr(python_value_error()));
    EXPECT_THROW(loop.run_until_complete(read_n(r, 2)), python_value_error);
    EXPECT_THROW(loop.run_until_complete(read_n(r, 0)), python_value_error);
    EXPECT_THROW(loop.run_until_complete(read_n(r, -1)), python_value_error);
  }
  {
    corio::stream_reader r;
    r.feed_data("line\n");
    EXPECT_EQ(loop.run_until_complete(readline_of(r)), "line\n");
    r.set_exception(std::make_exception_ptr(python_value_error()));
    EXPECT_THROW(loop.run_until_complete(readline_of(r)), python_value_error);
    EXPECT_EQ(buffered_bytes(r), "");
  }
  {
    corio::stream_reader r;
    r.feed_data("line\n");
    EXPECT_EQ(loop.run_until_complete(readexactly_of(r, 2)), "li");
    r.set_exception(std::make_exception_ptr(python_value_error()));
    EXPECT_THROW(loop.run_until_complete(readexactly_of(r, 2)), python_value_error);
    EXPECT_THROW(loop.run_until_complete(readexactly_of(r, 0)), python_value_error);
    EXPECT_THROW(loop.run_until_complete(readuntil_of(r, "\n")), python_value_error);
  }
}

TEST(ST, ST_12_set_exception_wakes_a_waiting_reader_with_it) {
  // Python: test_exception_waiter.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto set_err = [&]() -> corio::task<> {
    r.set_exception(std::make_exception_ptr(python_value_error()));
    co_return;
  };
  auto t1 = loop.create_task(readline_of(r));
  auto t2 = loop.create_task(set_err());
  auto both = [&]() -> corio::task<> {
    std::vector<corio::any_task> fs;
    fs.push_back(t1);
    fs.push_back(t2);
    co_await corio::wait(std::move(fs));
  };
  loop.run_until_complete(both());
  EXPECT_TRUE(syt::holds<python_value_error>(syt::outcome_of(t1)));
}

TEST(ST, ST_12_a_reader_cancelled_while_waiting_leaves_the_stream_usable) {
  // Python: test_exception_cancel.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(readline_of(r));
  run_briefly(loop);
  t.cancel();
  run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  // "The following line fails if set_exception() isn't careful."
  r.set_exception(std::make_exception_ptr(std::runtime_error("message")));
  run_briefly(loop);
  EXPECT_FALSE(r.core().waiting());
}

TEST(ST, ST_12_a_cancelled_read_loses_no_data) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(readexactly_of(r, 10));
  run_briefly(loop);
  r.feed_data("01234");
  run_briefly(loop);
  t.cancel();
  run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(buffered_bytes(r), "01234");
  r.feed_data("56789");
  EXPECT_EQ(loop.run_until_complete(readexactly_of(r, 10)), "0123456789");
}

TEST(ST, ST_12_a_read_woken_then_cancelled_before_it_runs_consumes_nothing) {
  // The wake-up and the cancel land in the same iteration: the cancel wins
  // (as in Python, where the pending cancel is thrown into `await waiter`).
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto t = loop.create_task(readline_of(r));
  run_briefly(loop);
  r.feed_data("whole line\n");  // wakes the reader...
  t.cancel();                   // ...which is cancelled before it runs
  run_briefly(loop);
  EXPECT_TRUE(t.cancelled());
  EXPECT_EQ(buffered_bytes(r), "whole line\n");
  EXPECT_EQ(loop.run_until_complete(readline_of(r)), "whole line\n");
}

// == ST-13 ==========================================================================

TEST(ST, ST_13_only_one_coroutine_may_wait_at_a_time) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto first = loop.create_task(readline_of(r));
  run_briefly(loop);
  auto second = loop.create_task(read_n(r, 10));
  run_briefly(loop);
  ASSERT_TRUE(second.done());
  EXPECT_EQ(syt::what(syt::outcome_of(second)),
            "read() called while another coroutine is already waiting for incoming data");
  EXPECT_FALSE(first.done());
  r.feed_data("still mine\n");
  run_briefly(loop);
  ASSERT_TRUE(first.done());
  EXPECT_EQ(first.result(), "still mine\n");
}

TEST(ST, ST_13_the_message_names_the_method_that_was_called) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  auto first = loop.create_task(read_n(r, 1));
  run_briefly(loop);
  const auto second_of = [&](corio::task<std::string> t) {
    auto h = loop.create_task(std::move(t));
    run_briefly(loop);
    return syt::what(syt::outcome_of(h));
  };
  EXPECT_EQ(second_of(readline_of(r)), "readline() called while another coroutine is already waiting for incoming data");
  EXPECT_EQ(second_of(readuntil_of(r, "x")),
            "readuntil() called while another coroutine is already waiting for incoming data");
  EXPECT_EQ(second_of(readexactly_of(r, 3)),
            "readexactly() called while another coroutine is already waiting for incoming data");
  first.cancel();
  run_briefly(loop);
}

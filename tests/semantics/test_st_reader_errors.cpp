// Semantic tests for docs/semantics.md section 8, the reading half of streams:
// StreamReader at EOF and over the limit, exceptions, cancellation and the
// one-waiter rule (ST-08..ST-13). Scenarios follow CPython's
// Lib/test/test_asyncio/test_streams.py (see test_st_reader.cpp).
//
// Parts of rules with nothing to test in C++:
//   ST-10  A non-integer n (TypeError): n is an integer.
#include "st_helpers.hpp"

#include <corio/wait.hpp>

#include <gtest/gtest.h>

#include <cstddef>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

using namespace sth;
// == ST-08 ==========================================================================

TEST(ST, ST_08_readuntil_at_eof_without_separator_gives_everything_and_empties_the_buffer) {
  // Python: test_readuntil_eof.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  r.feed_data("some dataAA");
  r.feed_eof();
  const auto e = caught<corio::incomplete_read_error>([&] { loop.run_until_complete(readuntil_of(r, "AAA")); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->partial(), "some dataAA");
  EXPECT_FALSE(e->expected().has_value());
  EXPECT_STREQ(e->what(), "11 bytes read on a total of undefined expected bytes");
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
  const auto e = caught<corio::incomplete_read_error>([&] { t.result(); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->partial(), "partial");
}

// == ST-09 ==========================================================================

TEST(ST, ST_09_readuntil_over_the_limit_leaves_the_data_buffered) {
  // Python: test_readuntil_limit_found_sep.
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(3);
  r.feed_data("some dataAA");
  auto e = caught<corio::limit_overrun_error>([&] { loop.run_until_complete(readuntil_of(r, "AAA")); });
  ASSERT_TRUE(e);
  EXPECT_STREQ(e->what(), "Separator is not found, and chunk exceed the limit");
  EXPECT_EQ(e->consumed(), 9u);  // len + 1 - len(sep)
  EXPECT_EQ(buffered_bytes(r), "some dataAA");

  r.feed_data("A");
  e = caught<corio::limit_overrun_error>([&] { loop.run_until_complete(readuntil_of(r, "AAA")); });
  ASSERT_TRUE(e);
  EXPECT_STREQ(e->what(), "Separator is found, but chunk is longer than limit");
  EXPECT_EQ(e->consumed(), 9u);  // where the separator starts
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
  const auto e = caught<corio::incomplete_read_error>([&] { loop.run_until_complete(t); });
  ASSERT_TRUE(e);
  EXPECT_EQ(e->partial(), kData);
  EXPECT_EQ(e->expected(), n);
  EXPECT_STREQ(e->what(), "18 bytes read on a total of 36 expected bytes");
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

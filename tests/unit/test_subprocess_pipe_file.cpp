// Unit tests for <corio/subprocess/pipe_file.hpp>: the pipe file objects
// of a popen (Python: Popen.stdin / stdout / stderr).
#include <corio/subprocess/pipe_file.hpp>

#include <corio/detail/pipes.hpp>
#include <corio/os_errors.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "error_util.hpp"

namespace sp = corio::subprocess;

namespace {
struct pipe_pair {
  sp::pipe_file reader;
  sp::pipe_file writer;
};
pipe_pair make() {
  corio::detail::pipe_ends p = corio::detail::make_pipe(true, true);
  return {sp::pipe_file(std::move(p.read), true, "test reader"), sp::pipe_file(std::move(p.write), false, "test writer")};
}
}  // namespace

TEST(PipeFile, read_n_waits_for_n_bytes_or_eof) {
  pipe_pair p = make();
  std::thread w([&] {
    p.writer.write("abc");
    p.writer.write("defgh");
    p.writer.close();
  });
  EXPECT_EQ(p.reader.read(5), "abcde");
  EXPECT_EQ(p.reader.read(10), "fgh");  // fewer at EOF
  EXPECT_EQ(p.reader.read(10), "");
  w.join();
}

TEST(PipeFile, read1_returns_what_one_read_gives_and_readline_splits_lines) {
  pipe_pair p = make();
  p.writer.write("one\ntwo\nthree");
  p.writer.close();
  EXPECT_EQ(p.reader.readline(), "one\n");
  EXPECT_EQ(p.reader.read1(2), "tw");
  EXPECT_EQ(p.reader.readline(), "o\n");
  EXPECT_EQ(p.reader.readline(), "three");  // what is left at EOF
  EXPECT_EQ(p.reader.readline(), "");
  EXPECT_EQ(p.reader.read1(), "");
}

TEST(PipeFile, a_write_larger_than_the_pipe_blocks_until_read) {
  pipe_pair p = make();
  const std::string big(1 << 20, 'z');
  std::thread w([&] {
    EXPECT_EQ(p.writer.write(big), big.size());
    p.writer.close();
  });
  EXPECT_EQ(p.reader.read(), big);
  w.join();
}

TEST(PipeFile, writing_after_the_reader_left_raises_broken_pipe_without_sigpipe) {
  pipe_pair p = make();
  p.reader.close();
  try {
    p.writer.write("x");
    FAIL() << "no exception";
  } catch (const corio::broken_pipe_error& e) {
    EXPECT_NE(std::string(e.what()).find("test writer"), std::string::npos) << e.what();
  }
}

TEST(PipeFile, closed_or_wrong_direction_calls_are_refused) {
  pipe_pair p = make();
  EXPECT_THROW(p.reader.write("x"), std::invalid_argument);
  EXPECT_THROW(p.writer.read(), std::invalid_argument);
  p.reader.close();
  EXPECT_TRUE(p.reader.closed());
  EXPECT_EQ(p.reader.fileno(), -1);
  EXPECT_EQ(corio_test::what_of<std::invalid_argument>([&] { p.reader.read(); }),
            "read on test reader: I/O operation on closed file");
  p.reader.close();  // idempotent
}

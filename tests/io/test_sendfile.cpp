// Unit tests for corio::sock_sendfile (Python: loop.sock_sendfile) on both
// backends: whole files, ranges, the fallback for what sendfile(2) cannot
// read, the file position afterwards, bad arguments and cancellation.
#include <corio/sock_ops.hpp>

#include <corio/os_errors.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::open_fd_count;
using corio_test::run_io;

namespace {

// A temporary file holding `content`, removed when the test ends.
class temp_file {
 public:
  explicit temp_file(const std::string& content) {
    char name[] = "/tmp/corio-sendfile-XXXXXX";
    fd_ = ::mkstemp(name);
    path_ = name;
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::write(fd_, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::lseek(fd_, 0, SEEK_SET);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  off_t position() const { return ::lseek(fd_, 0, SEEK_CUR); }

 private:
  int fd_ = -1;
  std::string path_;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// Reads from `s` until `n` bytes came or the peer closed.
corio::task<std::string> receive(corio::socket& s, std::size_t n) {
  std::string got;
  while (got.size() < n) {
    std::string part = co_await corio::sock_recv(s, 65536);
    if (part.empty()) break;
    got += part;
  }
  co_return got;
}

TEST(SockSendfile, SendsAWholeFileLargerThanTheSocketBuffers) {
  const std::string content = pattern(3 * 1024 * 1024 + 17);
  temp_file f(content);
  run_io([](const std::string& want, int fd) -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto rx = corio::create_task(receive(b, want.size()));
    const std::size_t sent = co_await corio::sock_sendfile(a, fd);
    EXPECT_EQ(sent, want.size());
    const std::string got = co_await rx;
    EXPECT_TRUE(got == want) << "received " << got.size() << " bytes, not the file's " << want.size();
  }(content, f.fd()));
  EXPECT_EQ(f.position(), static_cast<off_t>(content.size()));
}

TEST(SockSendfile, SendsTheRangeGivenByOffsetAndCount) {
  const std::string content = pattern(100000);
  temp_file f(content);
  run_io([](const std::string& all, int fd) -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    EXPECT_EQ(co_await corio::sock_sendfile(a, fd, 1000, 5000), 5000u);
    EXPECT_EQ(co_await receive(b, 5000), all.substr(1000, 5000));
    // A count past the end stops at the end; an offset at the end sends nothing.
    EXPECT_EQ(co_await corio::sock_sendfile(a, fd, 99000, 10000), 1000u);
    EXPECT_EQ(co_await receive(b, 1000), all.substr(99000));
    EXPECT_EQ(co_await corio::sock_sendfile(a, fd, 100000), 0u);
  }(content, f.fd()));
  EXPECT_EQ(f.position(), 100000);
}

TEST(SockSendfile, APipeIsReadAndSentWhenFallbackIsAllowed) {
  run_io([]() -> corio::task<void> {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    EXPECT_EQ(::write(p[1], "through a pipe", 14), 14);
    ::close(p[1]);
    auto [a, b] = corio::socketpair();
    EXPECT_EQ(co_await corio::sock_sendfile(a, p[0]), 14u);
    EXPECT_EQ(co_await receive(b, 14), "through a pipe");
    ::close(p[0]);
  }());
}

TEST(SockSendfile, WithoutFallbackAnUnsendableFileRaisesNamingTheFds) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto [c, d] = corio::socketpair();  // a socket is never a sendfile(2) source
    std::string what;
    try {
      (void)co_await corio::sock_sendfile(a, c.fileno(), 0, std::nullopt, false);
    } catch (const corio::os_error& e) {
      what = e.what();
    }
    EXPECT_NE(what.find("fd " + std::to_string(c.fileno())), std::string::npos) << what;
    EXPECT_NE(what.find("fd " + std::to_string(a.fileno())), std::string::npos) << what;
  }());
}

TEST(SockSendfile, BadArgumentsRaise) {
  temp_file f("x");
  run_io([](int fd) -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    corio::socket udp(AF_INET, SOCK_DGRAM);
    EXPECT_THROW((void)co_await corio::sock_sendfile(udp, fd), std::invalid_argument);
    corio::socket closed;
    EXPECT_THROW((void)co_await corio::sock_sendfile(closed, fd), std::invalid_argument);
    EXPECT_THROW((void)co_await corio::sock_sendfile(a, 1000000), corio::os_error);  // EBADF
  }(f.fd()));
}

TEST(SockSendfile, CancelledWhileThePeerDoesNotReadLeavesThePositionAtWhatWasSent) {
  const std::string content = pattern(8 * 1024 * 1024);
  temp_file f(content);
  const int before = open_fd_count();
  std::size_t received = 0;
  run_io([](int fd, std::size_t& got) -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    auto tx = corio::create_task([](corio::socket& s, int file) -> corio::task<std::size_t> {
      co_return co_await corio::sock_sendfile(s, file);
    }(a, fd));
    co_await corio::sleep(20ms);  // the socket buffers fill; the sender waits
    EXPECT_FALSE(tx.done());
    tx.cancel();
    EXPECT_THROW((void)co_await tx, corio::cancelled_error);
    a.shutdown(SHUT_WR);
    got = (co_await receive(b, std::size_t(-1))).size();
  }(f.fd(), received));
  EXPECT_GT(received, 0u);
  EXPECT_LT(received, content.size());
  EXPECT_EQ(f.position(), static_cast<off_t>(received));
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace

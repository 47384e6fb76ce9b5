// The pipe file objects of a popen (see subprocess/pipe_file.hpp). The fds
// are non-blocking (communicate polls them); these calls block in poll(2)
// while the pipe is empty or full.
#include <corio/detail/pipes.hpp>
#include <corio/os_errors.hpp>
#include <corio/subprocess/pipe_file.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace corio::subprocess {

namespace {
constexpr std::size_t kChunk = 64 * 1024;
}

pipe_file::pipe_file(detail::unique_fd fd, bool readable, std::string name)
    : fd_(std::move(fd)), readable_(readable), name_(std::move(name)) {
  const int fl = ::fcntl(fd_.get(), F_GETFL);
  if (fl >= 0 && !(fl & O_NONBLOCK)) ::fcntl(fd_.get(), F_SETFL, fl | O_NONBLOCK);
}

void pipe_file::check_open(const char* call, bool want_readable) const {
  if (!fd_) throw std::invalid_argument(std::string(call) + " on " + name_ + ": I/O operation on closed file");
  if (want_readable != readable_)
    throw std::invalid_argument(std::string(call) + " on " + name_ + ": the pipe is not " +
                                (want_readable ? "readable" : "writable"));
}

bool pipe_file::fill() {
  for (;;) {
    const std::size_t old = buf_.size();
    buf_.resize(old + kChunk);  // read straight into the buffer
    const ssize_t r = ::read(fd_.get(), buf_.data() + old, kChunk);
    const int err = errno;
    buf_.resize(old + (r > 0 ? static_cast<std::size_t>(r) : 0));
    if (r > 0) return true;
    if (r == 0) return false;
    if (err == EINTR) continue;
    if (err != EAGAIN) throw_os_error(err, "read from " + name_);
    pollfd p{fd_.get(), POLLIN, 0};
    detail::poll_until(&p, 1, std::nullopt);
  }
}

std::string pipe_file::read(std::ptrdiff_t n) {
  check_open("read", true);
  if (n < 0) {
    while (fill()) {
    }
    return std::exchange(buf_, std::string());
  }
  const auto want = static_cast<std::size_t>(n);
  while (buf_.size() < want && fill()) {
  }
  std::string out = buf_.substr(0, want);
  buf_.erase(0, out.size());
  return out;
}

std::string pipe_file::read1(std::size_t n) {
  check_open("read1", true);
  if (n == 0) return {};
  if (buf_.empty()) fill();
  std::string out = buf_.substr(0, n);
  buf_.erase(0, out.size());
  return out;
}

std::string pipe_file::readline() {
  check_open("readline", true);
  std::size_t scanned = 0;
  for (;;) {
    const std::size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      std::string out = buf_.substr(0, nl + 1);
      buf_.erase(0, nl + 1);
      return out;
    }
    scanned = buf_.size();
    if (!fill()) return std::exchange(buf_, std::string());
  }
}

std::size_t pipe_file::write(std::string_view data) {
  check_open("write", false);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t r = detail::write_nosignal(fd_.get(), data.data() + done, data.size() - done);
    if (r >= 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (r == -EINTR) continue;
    if (r != -EAGAIN) throw_os_error(static_cast<int>(-r), "write to " + name_);
    pollfd p{fd_.get(), POLLOUT, 0};
    detail::poll_until(&p, 1, std::nullopt);
  }
  return done;
}

std::string pipe_file::take_buffered() noexcept { return std::exchange(buf_, std::string()); }

}  // namespace corio::subprocess

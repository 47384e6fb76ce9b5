// Connections and pipes between processes (see multiprocessing/connection.hpp).
//
// The fds stay blocking, as Python leaves them: a blocking recv is one
// read(2) when the message is there (the ping-pong of W12b costs what two
// raw pipes cost). The awaitable forms never block the loop: on a socket
// (a connection made from a socket fd) they read and write with MSG_DONTWAIT; on a
// pipe they read only after the loop saw it readable (a read then returns
// what is there), and write at most PIPE_BUF bytes after each time it saw
// it writable (a pipe reports writable with a free slot of a page; a second
// write without a wait could block).
#include <corio/multiprocessing/connection.hpp>

#include "connection_tls.hpp"

#include <corio/detail/pipes.hpp>
#include <corio/exceptions.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/timeouts.hpp>
#include <corio/wait.hpp>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace corio::multiprocessing {

namespace {

constexpr std::size_t kChunk = 64 * 1024;

std::string on_fd(const char* what, int fd) { return std::string(what) + " on fd " + std::to_string(fd); }

std::uint32_t load_be32(const char* p) noexcept {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t(u[0]) << 24) | (std::uint32_t(u[1]) << 16) | (std::uint32_t(u[2]) << 8) | u[3];
}
std::uint64_t load_be64(const char* p) noexcept {
  return (std::uint64_t(load_be32(p)) << 32) | load_be32(p + 4);
}
void store_be32(char* p, std::uint32_t v) noexcept {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}
void store_be64(char* p, std::uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<char>(v & 0xff);
}

bool is_socket(int fd) noexcept {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// Writes all of iov (blocking), without SIGPIPE.
void write_all(int fd, bool sock, iovec* iov, int n) {
  while (n > 0) {
    ssize_t w;
    if (sock) {
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = static_cast<std::size_t>(n);
      w = ::sendmsg(fd, &m, MSG_NOSIGNAL);
      if (w < 0) w = -errno;
    } else if (n == 1) {
      w = corio::detail::write_nosignal(fd, iov[0].iov_base, iov[0].iov_len);
    } else {
      // A pipe: header and payload in one write when small (as Python
      // does below 16 KiB), else one after the other.
      const std::size_t total = iov[0].iov_len + iov[1].iov_len;
      if (total <= 16384) {
        char buf[16384];
        std::memcpy(buf, iov[0].iov_base, iov[0].iov_len);
        std::memcpy(buf + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
        iovec one{buf, total};
        write_all(fd, sock, &one, 1);
        return;
      }
      write_all(fd, sock, iov, 1);
      write_all(fd, sock, iov + 1, 1);
      return;
    }
    if (w == -EINTR) continue;
    if (w < 0) throw_os_error(static_cast<int>(-w), on_fd("send", fd));
    auto left = static_cast<std::size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
}

}  // namespace

std::size_t detail::frame_header(char* h, std::size_t n) noexcept {
  if (n > 0x7fffffff) {
    store_be32(h, 0xffffffffu);
    store_be64(h + 4, n);
    return 12;
  }
  store_be32(h, static_cast<std::uint32_t>(n));
  return 4;
}

connection::connection(int fd, bool readable, bool writable) {
  if (fd < 0) throw std::invalid_argument("connection: invalid handle " + std::to_string(fd));
  if (!readable && !writable) throw std::invalid_argument("connection: at least one of readable and writable must be true");
  fd_ = wfd_ = fd;
  readable_ = readable;
  writable_ = writable;
  socket_ = is_socket(fd);
}

connection::connection(int rfd, int wfd, detail_two_fds) {
  if (rfd < 0 || wfd < 0) throw std::invalid_argument("connection: invalid handles " + std::to_string(rfd) + ", " +
                                                      std::to_string(wfd));
  fd_ = rfd;
  wfd_ = wfd;
  readable_ = writable_ = true;
  socket_ = false;
}

connection::connection(connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      wfd_(std::exchange(o.wfd_, -1)),
      readable_(std::exchange(o.readable_, false)),
      writable_(std::exchange(o.writable_, false)),
      socket_(o.socket_),
      bad_(o.bad_),
      eof_(o.eof_),
      tls_(std::exchange(o.tls_, nullptr)),
      rbuf_(std::move(o.rbuf_)),
      rcap_(std::exchange(o.rcap_, 0)),
      rlen_(std::exchange(o.rlen_, 0)),
      rpos_(std::exchange(o.rpos_, 0)),
      msg_begin_(std::exchange(o.msg_begin_, 0)),
      msg_end_(std::exchange(o.msg_end_, 0)) {}

connection& connection::operator=(connection&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    wfd_ = std::exchange(o.wfd_, -1);
    readable_ = std::exchange(o.readable_, false);
    writable_ = std::exchange(o.writable_, false);
    socket_ = o.socket_;
    bad_ = o.bad_;
    eof_ = o.eof_;
    tls_ = std::exchange(o.tls_, nullptr);
    rbuf_ = std::move(o.rbuf_);
    rcap_ = std::exchange(o.rcap_, 0);
    rlen_ = std::exchange(o.rlen_, 0);
    rpos_ = std::exchange(o.rpos_, 0);
    msg_begin_ = std::exchange(o.msg_begin_, 0);
    msg_end_ = std::exchange(o.msg_end_, 0);
  }
  return *this;
}

connection::~connection() { close(); }

void connection::close() noexcept {
  detail::connection_tls::destroy(std::exchange(tls_, nullptr));
  if (wfd_ >= 0 && wfd_ != fd_) ::close(wfd_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = wfd_ = -1;
  readable_ = writable_ = false;
  rbuf_.reset();
  rcap_ = rlen_ = rpos_ = msg_begin_ = msg_end_ = 0;
}

int connection::detach() {
  if (wfd_ != fd_) throw std::invalid_argument("connection: a duplex pipe holds two fds and cannot be detached as one");
  if (tls_) throw std::invalid_argument("connection: a connection in TLS cannot be detached (its TLS state is not in the fd)");
  const int fd = std::exchange(fd_, -1);
  wfd_ = -1;
  close();
  return fd;
}

int connection::write_fileno() const {
  check_open();
  return wfd_;
}

int connection::fileno() const {
  check_open();
  return fd_;
}

void connection::check_open() const {
  if (fd_ < 0) throw os_error(EBADF, "connection: handle is closed");
}

void connection::check_readable(const char* what) const {
  check_open();
  if (!readable_) throw os_error(EBADF, on_fd(what, fd_) + ": connection is write-only");
  if (bad_) throw os_error(EMSGSIZE, on_fd(what, fd_) + ": bad message length (the connection cannot be read any more)");
}

void connection::check_writable(const char* what) const {
  check_open();
  if (!writable_) throw os_error(EBADF, on_fd(what, fd_) + ": connection is read-only");
}

// -- sending -------------------------------------------------------------------

// Writes all of iov through TLS, blocking: header and payload in one record
// when small (a record per piece would add its overhead twice).
void connection::write_all_tls(const iovec* iov, int n) {
  const auto all = [this](const char* p, std::size_t len) {
    while (len > 0) {
      const auto w = static_cast<std::size_t>(detail::connection_tls::write(*this, p, len, true));
      p += w;
      len -= w;
    }
  };
  const std::size_t total = n == 1 ? iov[0].iov_len : iov[0].iov_len + iov[1].iov_len;
  if (n == 1 || total > 16384) {
    for (int i = 0; i < n; ++i) all(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return;
  }
  char buf[16384];
  std::memcpy(buf, iov[0].iov_base, iov[0].iov_len);
  std::memcpy(buf + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
  all(buf, total);
}

void connection::send_bytes(std::string_view buf, std::size_t offset, std::optional<std::size_t> size) {
  check_writable("send_bytes");
  if (offset > buf.size()) throw std::invalid_argument("send_bytes: buffer length < offset");
  const std::size_t n = size.value_or(buf.size() - offset);
  if (n > buf.size() - offset) throw std::invalid_argument("send_bytes: buffer length < offset + size");
  char h[12];
  iovec iov[2] = {{h, detail::frame_header(h, n)}, {const_cast<char*>(buf.data() + offset), n}};
  if (tls_) {
    write_all_tls(iov, n == 0 ? 1 : 2);
    return;
  }
  write_all(wfd_, socket_, iov, n == 0 ? 1 : 2);
}

void connection::send_frame(std::string& frame) {
  check_writable("send");
  const std::size_t n = frame.size() - kHeader;
  if (n > 0x7fffffff) {
    send_bytes(std::string_view(frame).substr(kHeader));
    return;
  }
  store_be32(frame.data(), static_cast<std::uint32_t>(n));
  iovec iov{frame.data(), frame.size()};
  if (tls_) {
    write_all_tls(&iov, 1);
    return;
  }
  write_all(wfd_, socket_, &iov, 1);
}

task<void> connection::send_bytes_async(std::string buf) {
  check_writable("send_bytes");
  char h[12];
  const std::size_t hl = detail::frame_header(h, buf.size());
  std::string frame;
  frame.reserve(hl + buf.size());
  frame.append(h, hl);
  frame += buf;
  buf = std::string();
  co_await send_frame_async(std::move(frame), true);
}

task<void> connection::send_bytes_async(std::vector<std::string> messages) {
  check_writable("send_bytes");
  std::size_t total = 0;
  for (const std::string& m : messages) total += m.size() + 12;
  std::string frames;
  frames.reserve(total);
  for (std::string& m : messages) {
    char h[12];
    frames.append(h, detail::frame_header(h, m.size()));
    frames += m;
    m = std::string();
  }
  co_await send_frame_async(std::move(frames), true);
}

task<void> connection::send_frame_async(std::string frame) { return send_frame_async(std::move(frame), false); }

task<void> connection::send_frame_async(std::string frame, bool framed) {
  check_writable("send");
  if (!framed) {
    const std::size_t n = frame.size() - kHeader;
    if (n > 0x7fffffff) {
      co_await send_bytes_async(frame.substr(kHeader));
      co_return;
    }
    store_be32(frame.data(), static_cast<std::uint32_t>(n));
  }
  const int fd = wfd_;
  std::size_t done = 0;
  std::exception_ptr deferred;  // a cancel that came after the first byte went
  // TLS: OpenSSL took the bytes into a record it has begun to send, so the
  // message must be finished even though no byte was reported sent yet.
  bool committed = false;
  while (done < frame.size()) {
    ssize_t w = -EAGAIN;
    bool want_read = false;  // TLS: the write waits for the peer's bytes
    if (tls_) {
      const long r = detail::connection_tls::write(*this, frame.data() + done, frame.size() - done, deferred != nullptr);
      if (r > 0) {
        done += static_cast<std::size_t>(r);
        continue;
      }
      want_read = r == detail::tls_want_read;
      committed = true;
    } else if (socket_) {
      w = ::send(fd, frame.data() + done, frame.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w < 0) w = -errno;
    } else {
      // A pipe: at most PIPE_BUF when it has room now (cancelled with part
      // of the message gone, the rest must follow, blocking, or the stream
      // would be corrupt).
      pollfd p{fd, POLLOUT, 0};
      if (deferred || (::poll(&p, 1, 0) > 0 && p.revents != 0))
        w = corio::detail::write_nosignal(fd, frame.data() + done, std::min<std::size_t>(PIPE_BUF, frame.size() - done));
    }
    if (w == -EINTR) continue;
    if (w >= 0) {
      done += static_cast<std::size_t>(w);
      continue;
    }
    if (w != -EAGAIN) throw_os_error(static_cast<int>(-w), on_fd("send", fd));
    try {
      if (want_read) {
        co_await corio::wait_readable(fd);
        continue;
      }
      co_await corio::wait_writable(fd);
      if (!socket_) {
        w = corio::detail::write_nosignal(fd, frame.data() + done, std::min<std::size_t>(PIPE_BUF, frame.size() - done));
        if (w == -EINTR || w == -EAGAIN) continue;
        if (w < 0) throw_os_error(static_cast<int>(-w), on_fd("send", fd));
        done += static_cast<std::size_t>(w);
      }
    } catch (const cancelled_error&) {
      if (done == 0 && !committed) throw;  // nothing went: the message is simply not sent
      deferred = std::current_exception();
    }
  }
  if (deferred) std::rethrow_exception(deferred);
}

// -- receiving -----------------------------------------------------------------

bool connection::have_message(std::optional<std::size_t> maxlength) {
  const std::size_t avail = rlen_ - rpos_;
  if (avail < 4) return false;
  const char* p = rbuf_.get() + rpos_;
  std::uint64_t n = load_be32(p);
  std::size_t head = 4;
  if (n == 0xffffffffu) {
    if (avail < 12) return false;
    n = load_be64(p + 4);
    head = 12;
  } else if (n > 0x7fffffff) {
    bad_ = true;
    throw os_error(EPROTO, on_fd("recv_bytes", fd_) + ": bad message length");
  }
  if (maxlength && n > *maxlength) {
    bad_ = true;
    throw os_error(EMSGSIZE, on_fd("recv_bytes", fd_) + ": bad message length (" + std::to_string(n) +
                                 " bytes, maxlength " + std::to_string(*maxlength) + ")");
  }
  if (avail - head < n) return false;
  msg_begin_ = rpos_ + head;
  msg_end_ = msg_begin_ + static_cast<std::size_t>(n);
  return true;
}

std::string_view connection::buffered_message() const noexcept {
  return std::string_view(rbuf_.get() + msg_begin_, msg_end_ - msg_begin_);
}

void connection::consume_message() noexcept {
  if (msg_end_ == 0) return;
  rpos_ = msg_end_;
  msg_begin_ = msg_end_ = 0;
  if (rpos_ == rlen_) rpos_ = rlen_ = 0;
}

// Room for `want` more bytes after rlen_: what was consumed is dropped
// first when that frees enough, else the buffer grows (geometrically, and
// only as bytes arrive: a header claiming gigabytes allocates nothing).
char* connection::make_room(std::size_t want) {
  if (rcap_ - rlen_ >= want) return rbuf_.get() + rlen_;
  if (rpos_ > 0) {
    std::memmove(rbuf_.get(), rbuf_.get() + rpos_, rlen_ - rpos_);
    rlen_ -= rpos_;
    if (msg_end_ != 0) {
      msg_begin_ -= rpos_;
      msg_end_ -= rpos_;
    }
    rpos_ = 0;
    if (rcap_ - rlen_ >= want) return rbuf_.get() + rlen_;
  }
  const std::size_t cap = std::max(rcap_ * 2, rlen_ + want);
  auto nb = std::make_unique_for_overwrite<char[]>(cap);
  if (rlen_ > 0) std::memcpy(nb.get(), rbuf_.get(), rlen_);
  rbuf_ = std::move(nb);
  rcap_ = cap;
  return rbuf_.get() + rlen_;
}

bool connection::fill_blocking() {
  char* p = make_room(kChunk);
  if (tls_) {
    const long r = detail::connection_tls::read(*this, p, kChunk, true);
    rlen_ += static_cast<std::size_t>(r);
    if (r == 0) eof_ = true;
    return r > 0;
  }
  for (;;) {
    const ssize_t r = ::read(fd_, p, kChunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_os_error(errno, on_fd("recv", fd_));
    rlen_ += static_cast<std::size_t>(r);
    if (r == 0) eof_ = true;
    return r > 0;
  }
}

long connection::fill_nowait() {
  char* p = make_room(kChunk);
  if (tls_) {
    const long r = detail::connection_tls::read(*this, p, kChunk, false);
    if (r < 0) {
      tls_wants_write_ = r == detail::tls_want_write;
      return -EAGAIN;
    }
    rlen_ += static_cast<std::size_t>(r);
    if (r == 0) eof_ = true;
    return r;
  }
  for (;;) {
    const ssize_t r = socket_ ? ::recv(fd_, p, kChunk, MSG_DONTWAIT) : ::read(fd_, p, kChunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return -EAGAIN;
      throw_os_error(err, on_fd("recv", fd_));
    }
    rlen_ += static_cast<std::size_t>(r);
    if (r == 0) eof_ = true;
    return static_cast<long>(r);
  }
}

std::string_view connection::next_message(std::optional<std::size_t> maxlength) {
  check_readable("recv");
  while (!have_message(maxlength)) {
    if (eof_ || !fill_blocking()) {
      if (rpos_ < rlen_)
        throw eof_error("connection on fd " + std::to_string(fd_) + ": the other end closed in the middle of a message");
      throw eof_error("connection on fd " + std::to_string(fd_) + ": the other end is closed");
    }
  }
  return buffered_message();
}

task<void> connection::fill_message_async(std::optional<std::size_t> maxlength) {
  check_readable("recv");
  const int fd = fd_;
  while (!have_message(maxlength)) {
    if (eof_) {
      if (rpos_ < rlen_)
        throw eof_error("connection on fd " + std::to_string(fd) + ": the other end closed in the middle of a message");
      throw eof_error("connection on fd " + std::to_string(fd) + ": the other end is closed");
    }
    if (socket_ && fill_nowait() != -EAGAIN) continue;
    // What was read so far stays in the buffer if this wait is cancelled.
    if (tls_ && tls_wants_write_) {
      co_await corio::wait_writable(fd);
      continue;
    }
    co_await corio::wait_readable(fd);
    if (!socket_) fill_nowait();
  }
}

std::string connection::recv_bytes(std::optional<std::size_t> maxlength) {
  const std::string_view m = next_message(maxlength);
  message_guard g{this};
  return std::string(m);
}

task<std::string> connection::recv_bytes_async(std::optional<std::size_t> maxlength) {
  co_await fill_message_async(maxlength);
  message_guard g{this};
  co_return std::string(buffered_message());
}

std::size_t connection::recv_bytes_into(std::span<char> buf, std::size_t offset) {
  check_readable("recv_bytes_into");
  if (offset > buf.size()) throw std::invalid_argument("recv_bytes_into: offset out of bounds");
  const std::string_view m = next_message(std::nullopt);
  message_guard g{this};
  if (m.size() > buf.size() - offset) throw buffer_too_short(std::string(m));
  std::memcpy(buf.data() + offset, m.data(), m.size());
  return m.size();
}

bool connection::poll(std::optional<duration> timeout) {
  check_readable("poll");
  if (rpos_ < rlen_ || eof_ || detail::connection_tls::pending(*this)) return true;
  pollfd p{fd_, POLLIN, 0};
  const std::optional<std::chrono::steady_clock::time_point> deadline =
      timeout ? std::optional(std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::max(*timeout, duration::zero())))
              : std::nullopt;
  return corio::detail::poll_until(&p, 1, deadline) > 0;
}

bool connection::buffered() const noexcept {
  return rpos_ < rlen_ || eof_ || detail::connection_tls::pending(*this);
}

task<bool> connection::poll_async(std::optional<duration> timeout) {
  check_readable("poll");
  if (rpos_ < rlen_ || eof_ || detail::connection_tls::pending(*this)) co_return true;
  const int fd = fd_;
  if (!timeout) {
    co_await corio::wait_readable(fd);
    co_return true;
  }
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) > 0) co_return true;
  if (!(timeout->count() > 0)) co_return false;
  try {
    co_await corio::timeout(std::chrono::duration_cast<std::chrono::nanoseconds>(*timeout),
                            [fd]() -> task<> { co_await corio::wait_readable(fd); });
  } catch (const corio::timeout_error&) {
    co_return false;
  }
  co_return true;
}

// -- pipe, wait ----------------------------------------------------------------

std::pair<connection, connection> pipe(bool duplex) {
  if (duplex) {
    // Two pipes rather than Python's socketpair: a pipe round trip costs
    // about half of an AF_UNIX socket's (W12b in docs/benchmarks.md).
    int ab[2], ba[2];
    if (::pipe2(ab, O_CLOEXEC) != 0) throw_errno("Pipe: pipe2");
    if (::pipe2(ba, O_CLOEXEC) != 0) {
      const int err = errno;
      ::close(ab[0]);
      ::close(ab[1]);
      throw_os_error(err, "Pipe: pipe2");
    }
    return {connection(ba[0], ab[1], connection::detail_two_fds{}), connection(ab[0], ba[1], connection::detail_two_fds{})};
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("Pipe: pipe2");
  return {connection(fds[0], true, false), connection(fds[1], false, true)};
}

namespace {

int fd_of(const wait_object& o) {
  if (const auto* c = std::get_if<connection*>(&o)) {
    if (!*c) throw std::invalid_argument("wait: a null connection");
    return (*c)->fileno();
  }
  const int fd = std::get<int>(o);
  if (fd < 0) throw std::invalid_argument("wait: invalid fd " + std::to_string(fd));
  return fd;
}

}  // namespace

std::vector<wait_object> wait(const std::vector<wait_object>& objects, std::optional<connection::duration> timeout) {
  std::vector<pollfd> fds;
  std::vector<char> buffered(objects.size(), 0);  // a connection with bytes read already
  fds.reserve(objects.size());
  bool any = false;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    fds.push_back({fd_of(objects[i]), POLLIN, 0});
    if (const auto* c = std::get_if<connection*>(&objects[i]); c && (*c)->readable() &&
                                                                (*c)->poll(connection::duration::zero())) {
      buffered[i] = 1;
      any = true;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  const std::optional<std::chrono::steady_clock::time_point> deadline =
      any ? std::optional(now)
      : timeout ? std::optional(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                          std::max(*timeout, connection::duration::zero())))
                : std::nullopt;
  const int n = corio::detail::poll_until(fds.data(), fds.size(), deadline);
  std::vector<wait_object> ready;
  if (n <= 0 && !any) return ready;
  for (std::size_t i = 0; i < fds.size(); ++i)
    if (buffered[i] || fds[i].revents != 0) ready.push_back(objects[i]);
  return ready;
}

task<std::vector<wait_object>> wait_async(std::vector<wait_object> objects,
                                          std::optional<connection::duration> timeout) {
  std::vector<wait_object> ready = wait(objects, connection::duration::zero());
  if (!ready.empty() || (timeout && !(timeout->count() > 0))) co_return ready;
  // Any one readable fd ends the wait; then everything ready is collected.
  auto one = [](int fd) -> task<std::uint32_t> { co_return co_await corio::wait_readable(fd); };
  std::vector<task<std::uint32_t>> waits;
  waits.reserve(objects.size());
  for (const wait_object& o : objects) waits.push_back(create_task(one(fd_of(o))));
  auto stop_all = [&]() -> task<> {
    for (auto& w : waits) w.cancel();
    co_await corio::wait(waits);
  };
  try {
    if (timeout) {
      co_await corio::wait(waits, return_when::first_completed,
                           std::optional<duration>(std::chrono::duration_cast<duration>(*timeout)));
    } else {
      co_await corio::wait(waits, return_when::first_completed);
    }
  } catch (...) {
    // Cancelled: the helpers must not outlive this wait.
    for (auto& w : waits) w.cancel();
    throw;
  }
  co_await stop_all();
  ready = wait(objects, connection::duration::zero());
  co_return ready;
}

}  // namespace corio::multiprocessing

// Listener and Client (see multiprocessing/listener.hpp).
//
// The listening socket is non-blocking (the loop accepts on it); the
// blocking accept polls it first. Accepted and connected sockets are made
// blocking, as Python's are: the connection's blocking calls read and write
// them directly, its awaitable ones pass MSG_DONTWAIT.
#include <corio/multiprocessing/listener.hpp>

#include <corio/multiprocessing/detail/resolve.hpp>

#include <corio/getaddrinfo.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <utility>

namespace corio::multiprocessing {

namespace {

using detail::af_of;
using detail::from_sockaddr;
using detail::resolve_async;
using detail::resolve_blocking;

void set_blocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, "fcntl(~O_NONBLOCK) on fd " + std::to_string(fd));
  }
}

// A private directory for a listener's AF_UNIX path (Python:
// util.get_temp_dir()), under $TMPDIR when that leaves room for the path.
std::string make_temp_dir() {
  std::string base = "/tmp";
  if (const char* t = std::getenv("TMPDIR"); t && *t && std::string_view(t).size() < 60) base = t;
  std::string tmpl = base + "/corio-listener-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw_errno("Listener: mkdtemp " + tmpl);
  return tmpl;
}

}  // namespace

// -- listener ------------------------------------------------------------------

struct listener::state {
  corio::socket sock;
  multiprocessing::address address{std::string()};
  std::optional<std::string> authkey;
  std::optional<multiprocessing::address> last_accepted;
  std::string unlink_path;  // the AF_UNIX path to remove at close
  std::string temp_dir;     // the private directory to remove at close

  int fileno() const {
    if (!sock) throw os_error(EBADF, "Listener: listener is closed");
    return sock.fileno();
  }

  void close() noexcept {
    sock.close();
    if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
    if (!temp_dir.empty()) ::rmdir(temp_dir.c_str());
    unlink_path.clear();
    temp_dir.clear();
  }

  connection finish_accept(int fd, const socket_address& peer) {
    connection c(fd, true, true);
    last_accepted = from_sockaddr(peer);
    return c;
  }
};

listener::listener(std::optional<multiprocessing::address> addr, std::optional<multiprocessing::family> fam,
                   int backlog, std::optional<std::string> authkey)
    : st_(std::make_shared<state>()) {
  state& st = *st_;
  st.authkey = std::move(authkey);
  const multiprocessing::family f = fam ? *fam : addr ? addr->family() : family::af_unix;
  if (addr && addr->is_unix() != (f == family::af_unix))
    throw std::invalid_argument(std::string("Listener: family ") + to_string(f) + " does not fit the address " +
                                addr->to_string());
  if (!addr) {
    if (f == family::af_unix) {
      st.temp_dir = make_temp_dir();
      addr = multiprocessing::address(st.temp_dir + "/listener.sock");
    } else {
      addr = multiprocessing::address(f == family::af_inet ? "127.0.0.1" : "::1", 0);
    }
  }
  try {
    const socket_address sa = resolve_blocking(*addr, f, "Listener");
    if (sa.family() != af_of(f))
      throw std::invalid_argument(std::string("Listener: family ") + to_string(f) + " does not fit the address " +
                                  addr->to_string());
    st.sock = corio::socket(sa.family(), SOCK_STREAM);
    // As Python's SocketListener: a new listener can bind the port of one
    // that just closed.
    if (f != family::af_unix) st.sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (::bind(st.sock.fileno(), sa.data(), sa.size()) < 0) throw_errno("Listener: bind to " + addr->to_string());
    if (f == family::af_unix && !addr->is_abstract()) st.unlink_path = addr->path();
    if (::listen(st.sock.fileno(), backlog) < 0) throw_errno("Listener: listen on " + addr->to_string());
    st.address = f == family::af_unix ? *addr : from_sockaddr(st.sock.getsockname());
  } catch (...) {
    st.close();
    throw;
  }
}

listener& listener::operator=(listener&& o) noexcept {
  if (this != &o) {
    close();
    st_ = std::move(o.st_);
  }
  return *this;
}

listener::~listener() { close(); }

void listener::close() noexcept {
  if (st_) st_->close();
}

bool listener::closed() const noexcept { return !st_ || !st_->sock; }

const multiprocessing::address& listener::address() const noexcept {
  static const multiprocessing::address none{std::string()};
  return st_ ? st_->address : none;
}

const std::optional<multiprocessing::address>& listener::last_accepted() const noexcept {
  static const std::optional<multiprocessing::address> none;
  return st_ ? st_->last_accepted : none;
}

int listener::fileno() const {
  if (!st_) throw os_error(EBADF, "Listener: listener is closed");
  return st_->fileno();
}

connection listener::accept() {
  const int lfd = fileno();
  state& st = *st_;
  for (;;) {
    socket_address peer;
    ::socklen_t len = socket_address::capacity();
    // Without SOCK_NONBLOCK the new socket is blocking, whatever lfd is.
    const int fd = ::accept4(lfd, peer.data(), &len, SOCK_CLOEXEC);
    if (fd >= 0) {
      peer.set_size(len);
      connection c = st.finish_accept(fd, peer);
      if (st.authkey) {
        deliver_challenge(c, *st.authkey);
        answer_challenge(c, *st.authkey);
      }
      return c;
    }
    const int err = errno;
    if (err == EINTR || err == ECONNABORTED) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) throw_os_error(err, "Listener: accept on " + st.address.to_string());
    pollfd p{lfd, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) throw_errno("Listener: poll on " + st.address.to_string());
  }
}

task<connection> listener::accept_async() {
  fileno();
  const std::shared_ptr<state> st = st_;  // the listener may move while this waits
  std::optional<std::pair<corio::socket, socket_address>> got;
  try {
    got.emplace(co_await corio::sock_accept(st->sock));
  } catch (const os_error&) {
    if (!st->sock) throw os_error(EBADF, "Listener at " + st->address.to_string() + ": closed while accepting");
    throw;
  }
  const int fd = got->first.detach();
  set_blocking(fd);
  connection c = st->finish_accept(fd, got->second);
  if (st->authkey) {
    // A cancel here drops `c`, closing the half-authenticated connection.
    co_await deliver_challenge_async(c, *st->authkey);
    co_await answer_challenge_async(c, *st->authkey);
  }
  co_return c;
}

// -- client --------------------------------------------------------------------

connection client(const address& a, std::optional<std::string> authkey) {
  const socket_address sa = resolve_blocking(a, a.family(), "Client");
  const int fd = ::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("Client: socket for " + a.to_string());
  connection c(fd, true, true);
  if (::connect(fd, sa.data(), sa.size()) < 0) {
    int err = errno;
    if (err == EINTR) {
      // The connect goes on; its outcome comes as writability.
      pollfd p{fd, POLLOUT, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      ::socklen_t n = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) < 0) err = errno;
    }
    if (err != 0) throw_os_error(err, "Client: connect to " + a.to_string());
  }
  if (authkey) {
    answer_challenge(c, *authkey);
    deliver_challenge(c, *authkey);
  }
  return c;
}

task<connection> client_async(address a, std::optional<std::string> authkey) {
  const socket_address sa = co_await resolve_async(a, "Client");
  corio::socket s(sa.family(), SOCK_STREAM);
  co_await corio::sock_connect(s, sa);
  const int fd = s.detach();
  set_blocking(fd);
  connection c(fd, true, true);
  if (authkey) {
    co_await answer_challenge_async(c, *authkey);
    co_await deliver_challenge_async(c, *authkey);
  }
  co_return c;
}

}  // namespace corio::multiprocessing

#include <corio/datagram.hpp>
#include <corio/getaddrinfo.hpp>
#include <corio/os_errors.hpp>

#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace corio {

namespace detail {

namespace {

// The receive buffer: the datagram is copied out of it into a string of its
// own size at once, so one per thread serves every endpoint of the loop.
// Receive sizes above kScratchKeep get a buffer of their own for the call.
constexpr std::size_t kScratchKeep = 256 * 1024;

char* scratch(std::size_t n) {
  thread_local std::unique_ptr<char[]> buf;
  thread_local std::size_t size = 0;
  if (size < n) {
    buf = std::make_unique_for_overwrite<char[]>(n);
    size = n;
  }
  return buf.get();
}

bool would_block(int err) noexcept { return err == EAGAIN || err == EWOULDBLOCK; }

}  // namespace

// -- datagram_core ----------------------------------------------------------------

datagram_core::datagram_core(loop_core* loop, socket sock) : loop_(loop), sock_(std::move(sock)), fd_(sock_.fileno()) {
  sock_.note_loop(loop_->ref());
  try {
    local_ = sock_.getsockname();
  } catch (const os_error&) {
  }
  try {
    peer_ = sock_.getpeername();
  } catch (const os_error&) {  // ENOTCONN: not connected
  }
  loop_->add_resource(this);
}

datagram_core::~datagram_core() {
  if (!loop_closed_) loop_->remove_resource(this);
}

socket_address datagram_core::sockname() const {
  if (!sock_) return local_;
  return sock_.getsockname();  // live: an unbound socket gets its port on first send
}

std::string datagram_core::describe(const char* call) const {
  std::string s(call);
  s += " on fd ";
  s += std::to_string(fd_);
  if (!local_.empty() || !peer_.empty()) {
    s += " (";
    if (!local_.empty()) s += "local " + local_.to_string();
    if (!peer_.empty()) s += (local_.empty() ? "peer " : ", peer ") + peer_.to_string();
    s += ')';
  }
  return s;
}

void datagram_core::throw_closed(const char* call) const {
  throw os_error(EBADF, describe(call) + ": the datagram endpoint is closed");
}

void datagram_core::check_usable(const char* call) const {
  if (closing_) throw_closed(call);
  if (tls.running_loop != loop_)
    throw std::runtime_error(std::string("corio: datagram_endpoint::") + call +
                             ": the endpoint belongs to another event loop (or none is running)");
}

void datagram_core::add_waiter(dgram_waiter* w) noexcept {
  w->wprev = nullptr;
  w->wnext = waiters_;
  if (waiters_) waiters_->wprev = w;
  waiters_ = w;
  w->registered = true;
}

void datagram_core::remove_waiter(dgram_waiter* w) noexcept {
  if (!w->registered) return;
  w->registered = false;
  (w->wprev ? w->wprev->wnext : waiters_) = w->wnext;
  if (w->wnext) w->wnext->wprev = w->wprev;
  w->wprev = w->wnext = nullptr;
  maybe_finish_close();
}

void datagram_core::close() noexcept {
  if (closing_) return;
  closing_ = true;
  // The waiters wake with -ECANCELED (or with what already arrived) and
  // throw "closed"; the fd closes once the last has let go of its op.
  for (dgram_waiter* w = waiters_; w; w = w->wnext) {
    w->closed = true;
    if (w->op.in_flight()) loop_->backend().cancel(&w->op);
  }
  maybe_finish_close();
}

void datagram_core::maybe_finish_close() noexcept {
  if (closing_ && !waiters_ && sock_) sock_.close();
}

void datagram_core::on_loop_close() noexcept {
  // The loop will run no more. Tasks still suspended here belong to frames
  // someone else holds; their ops will never complete, so let go of them now.
  loop_closed_ = true;
  closing_ = true;
  for (dgram_waiter* w = waiters_; w; w = w->wnext) {
    w->closed = true;
    if (w->op.in_flight()) loop_->backend().abandon(&w->op);
  }
  sock_.close();
}

// -- the operations ------------------------------------------------------------------

dgram_waiter::~dgram_waiter() {
  // Destroyed while suspended (its loop closed under it): let go of the op
  // before the core may close the fd.
  if (op.in_flight())
    if (loop_core* l = loop_from_ref(loop_ref)) l->backend().abandon(&op);
  core->remove_waiter(this);
  core->release();
}

bool dgram_waiter::suspend_on_op(std::coroutine_handle<> h, const char* call) {
  if (!start(h, call)) return false;
  core->add_waiter(this);
  return true;
}

std::int32_t dgram_waiter::outcome(const char* call) {
  const std::int32_t r = result();  // throws cancelled_error if a cancel stopped it
  core->remove_waiter(this);
  if (r == -ECANCELED && closed) core->throw_closed(call);
  return r;
}

// One non-blocking receive. MSG_TRUNC: the result is the datagram's full
// length, so an oversize one is recognised and its size reported.
std::int32_t dgram_recv_awaiter::receive_now() noexcept {
  std::unique_ptr<char[]> big;  // beyond what a thread keeps around
  char* b;
  try {
    if (max <= kScratchKeep) {
      b = scratch(max);
    } else {
      big = std::make_unique_for_overwrite<char[]>(max);
      b = big.get();
    }
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  }
  iov = {b, max};
  msg = {};
  msg.msg_name = from.data();
  msg.msg_namelen = socket_address::capacity();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t r;
  do {
    r = ::recvmsg(core->fd(), &msg, MSG_DONTWAIT | MSG_TRUNC);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return would_block(errno) ? -EAGAIN : -errno;
  from.set_size(msg.msg_namelen);
  if (static_cast<std::size_t>(r) <= max) {
    try {
      data.assign(b, static_cast<std::size_t>(r));
    } catch (const std::bad_alloc&) {
      return -ENOMEM;
    }
  }
  return static_cast<std::int32_t>(r);
}

void dgram_recv_awaiter::prep_peek() noexcept {
  iov = {nullptr, 0};
  msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  op.kind = io_kind::recvmsg;
  op.fd = core->fd();
  op.u.msg = {&msg, MSG_PEEK | MSG_TRUNC};
  op.done = &on_peek;
}

bool dgram_recv_awaiter::await_ready() {
  core->check_usable("recvfrom");
  if (max == 0) throw std::invalid_argument("corio: datagram_endpoint::recvfrom: the receive size must be positive");
  const std::int32_t r = receive_now();
  if (r == -EAGAIN) return false;
  op.res = r;
  return true;
}

bool dgram_recv_awaiter::await_suspend(std::coroutine_handle<> h) {
  for (;;) {
    prep_peek();
    if (suspend_on_op(h, "recvfrom")) return true;
    // A datagram is there already (epoll tries at once): take it.
    const std::int32_t r = op.res < 0 ? op.res : receive_now();
    if (r == -EAGAIN) continue;
    op.res = r;
    return false;
  }
}

// Loop thread: the peek saw a datagram (or failed, or was cancelled).
void dgram_recv_awaiter::on_peek(io_op* o) noexcept {
  auto* self = static_cast<dgram_recv_awaiter*>(static_cast<op_t*>(o)->self);
  while (o->res >= 0) {
    if (self->cancel_requested || self->closed) {
      o->res = -ECANCELED;  // the datagram stays for another receiver
      break;
    }
    const std::int32_t r = self->receive_now();
    if (r != -EAGAIN) {
      o->res = r;
      break;
    }
    // Another receiver took it first: wait again.
    self->prep_peek();
    try {
      if (!self->loop->backend().start(o)) return;
    } catch (...) {
      o->res = -ENOMEM;
    }
  }
  self->loop->wake(self->task);
}

void dgram_recv_awaiter::finish() {
  const std::int32_t r = outcome("recvfrom");
  if (r < 0) throw_os_error(-r, core->describe("recvfrom"));
  if (static_cast<std::size_t>(r) > max)
    throw os_error(EMSGSIZE, core->describe("recvfrom") + ": a datagram of " + std::to_string(r) + " bytes from " +
                                 from.to_string() + " is larger than the receive size (" + std::to_string(max) +
                                 " bytes) and was discarded");
}

bool dgram_send_awaiter::await_ready() {
  core->check_usable(to.empty() ? "send" : "sendto");
  const socket_address& peer = core->peer();
  if (to.empty()) {
    if (peer.empty())
      throw std::invalid_argument("corio: datagram_endpoint::send: the endpoint is not connected (use sendto)");
  } else if (!peer.empty()) {
    // Python: ValueError('Invalid address: must be None or <peer>').
    if (!(to == peer))
      throw std::invalid_argument("corio: datagram_endpoint::sendto: invalid address " + to.to_string() +
                                  ": the endpoint is connected to " + peer.to_string());
    to = socket_address();
  }
  iov = {const_cast<char*>(data.data()), data.size()};
  msg.msg_name = to.empty() ? nullptr : to.data();
  msg.msg_namelen = to.empty() ? 0 : to.size();
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t r;
  do {
    r = ::sendmsg(core->fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && would_block(errno)) return false;  // the send buffer is full: wait for room
  op.res = r < 0 ? -errno : static_cast<std::int32_t>(r);
  return true;
}

bool dgram_send_awaiter::await_suspend(std::coroutine_handle<> h) {
  op.kind = io_kind::sendmsg;
  op.fd = core->fd();
  op.u.msg = {&msg, 0};
  return suspend_on_op(h, "sendto");
}

void dgram_send_awaiter::await_resume() {
  const char* call = msg.msg_name ? "sendto" : "send";
  const std::int32_t r = outcome(call);
  if (r >= 0) return;
  if (msg.msg_name) throw_os_error(-r, core->describe(call) + " to " + to.to_string());
  throw_os_error(-r, core->describe(call));
}

}  // namespace detail

// -- datagram_endpoint ------------------------------------------------------------------

detail::datagram_core& datagram_endpoint::core() const {
  if (!c_) throw std::invalid_argument("corio: datagram_endpoint: an empty handle (moved from)");
  return *c_;
}

detail::dgram_recv_call<true> datagram_endpoint::recvfrom(std::size_t max_size) const {
  return {detail::core_hold(&core()), max_size};
}
detail::dgram_recv_call<false> datagram_endpoint::recv(std::size_t max_size) const {
  return {detail::core_hold(&core()), max_size};
}

std::any datagram_endpoint::get_extra_info(std::string_view name, std::any fallback) const {
  if (!c_) return fallback;
  if (name == "sockname") return c_->sockname();
  if (name == "peername") return c_->peer().empty() ? fallback : std::any(c_->peer());
  if (name == "socket") return c_->fd();
  return fallback;
}

// -- create_datagram_endpoint ---------------------------------------------------------

namespace {

detail::loop_core* running_core() {
  detail::loop_core* l = detail::tls.running_loop;
  if (!l) throw std::runtime_error("corio: create_datagram_endpoint: no running event loop");
  return l;
}

struct resolved {
  int family;
  int proto;
  socket_address address;
};

int default_proto(int family, int proto) noexcept {
  if (proto != 0) return proto;
  return (family == AF_INET || family == AF_INET6) ? IPPROTO_UDP : 0;
}

task<std::vector<resolved>> resolve(const endpoint_address& a, const datagram_options& opts) {
  std::vector<resolved> out;
  if (!a.address.empty()) {
    if (opts.family != AF_UNSPEC && a.address.family() != opts.family)
      throw std::invalid_argument("corio: create_datagram_endpoint: address " + a.address.to_string() +
                                  " is not of the requested family");
    out.push_back({a.address.family(), default_proto(a.address.family(), opts.proto), a.address});
    co_return out;
  }
  std::vector<addrinfo_entry> infos = co_await getaddrinfo(a.host, a.port, opts.family, SOCK_DGRAM, opts.proto, opts.flags);
  if (infos.empty())
    throw os_error(EADDRNOTAVAIL, "getaddrinfo(" + a.host + ", " + std::to_string(a.port) + ") returned no address");
  for (addrinfo_entry& e : infos) out.push_back({e.family, default_proto(e.family, e.proto), std::move(e.address)});
  co_return out;
}

// Python: an AF_UNIX datagram endpoint replaces a stale socket file.
void remove_stale_unix_socket(const socket_address& a) {
  if (a.family() != AF_UNIX) return;
  const std::string path = a.path();
  if (path.empty() || path[0] == '\0') return;
  struct ::stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

datagram_endpoint make_endpoint(socket s) {
  auto* c = new detail::datagram_core(running_core(), std::move(s));
  datagram_endpoint ep(c);
  c->release();  // the handle holds it now
  return ep;
}

}  // namespace

task<datagram_endpoint> create_datagram_endpoint(datagram_options opts) {
  running_core();
  // Python's addr_infos: for each (family, proto), a local and a remote address.
  struct candidate {
    int family;
    int proto;
    std::optional<socket_address> local;
    std::optional<socket_address> remote;
  };
  std::vector<candidate> cands;
  if (!opts.local_addr && !opts.remote_addr) {
    if (opts.family == AF_UNSPEC) throw std::invalid_argument("corio: create_datagram_endpoint: unexpected address family");
    cands.push_back({opts.family, default_proto(opts.family, opts.proto), {}, {}});
  } else {
    for (int side = 0; side < 2; ++side) {
      const std::optional<endpoint_address>& a = side == 0 ? opts.local_addr : opts.remote_addr;
      if (!a) continue;
      std::vector<resolved> rs = co_await resolve(*a, opts);
      for (resolved& r : rs) {
        candidate* c = nullptr;
        for (candidate& k : cands)
          if (k.family == r.family && k.proto == r.proto) c = &k;
        if (!c) {
          cands.push_back({r.family, r.proto, {}, {}});
          c = &cands.back();
        }
        std::optional<socket_address>& slot = side == 0 ? c->local : c->remote;
        if (!slot) slot = std::move(r.address);
      }
    }
    // Each given address must have a counterpart of the same family.
    std::erase_if(cands, [&](const candidate& c) {
      return (opts.local_addr && !c.local) || (opts.remote_addr && !c.remote);
    });
    if (cands.empty()) throw std::invalid_argument("corio: create_datagram_endpoint: can not get address information");
  }
  std::exception_ptr first_error;
  for (const candidate& c : cands) {
    try {
      socket s(c.family, SOCK_DGRAM, c.proto);
      if (opts.reuse_port) s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      if (opts.allow_broadcast) s.setsockopt(SOL_SOCKET, SO_BROADCAST, 1);
      if (c.local) {
        remove_stale_unix_socket(*c.local);
        s.bind(*c.local);
      }
      // Connecting a datagram socket only records the peer: it never waits.
      if (c.remote && ::connect(s.fileno(), c.remote->data(), c.remote->size()) < 0)
        throw_errno("connect on fd " + std::to_string(s.fileno()) + " to " + c.remote->to_string());
      co_return make_endpoint(std::move(s));
    } catch (const std::exception&) {
      if (!first_error) first_error = std::current_exception();  // Python raises the first
    }
  }
  std::rethrow_exception(first_error);
}

task<datagram_endpoint> create_datagram_endpoint(socket sock) {
  running_core();
  if (!sock) throw std::invalid_argument("corio: create_datagram_endpoint: the socket is closed");
  if (sock.type() != SOCK_DGRAM)
    throw std::invalid_argument("corio: create_datagram_endpoint: a datagram socket was expected, got fd " +
                                std::to_string(sock.fileno()) + " of type " + std::to_string(sock.type()));
  co_return make_endpoint(std::move(sock));
}

}  // namespace corio

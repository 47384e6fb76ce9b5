#include <corio/events.hpp>
#include <corio/os_errors.hpp>
#include <corio/server.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

namespace corio {

namespace detail {

namespace {

// Python: constants.ACCEPT_RETRY_DELAY. After EMFILE and the like, accepting
// pauses this long instead of spinning on an error that will repeat.
constexpr std::chrono::seconds kAcceptRetryDelay{1};

// Runs the user's callback for one connection. The task holds the server,
// whose callback object the coroutine may refer to (a lambda's captures).
task<void> run_client(server_core* s, const client_connected_fn* cb, stream_reader r, stream_writer w) {
  struct holder {
    server_core* s;
    ~holder() { s->release(); }
  } hold{s};
  try {
    if (s->uses_tls()) {
      const bool ok = co_await detail::tls_server_handshake(w);  // reported if it failed
      if (!ok) co_return;
    }
    co_await (*cb)(std::move(r), w);
  } catch (const cancelled_error&) {
    w.close();
    throw;
  } catch (...) {
    // ST-18: reported, not lost.
    exception_context ctx;
    ctx.message = "Unhandled exception in client_connected_cb";
    ctx.exception = std::current_exception();
    if (w) ctx.handle = "connection from " + w.peername().to_string();
    s->loop()->call_exception_handler(ctx);
    w.close();
  }
}

}  // namespace

server_core::server_core(loop_core* loop, std::vector<socket> listeners, client_connected_fn cb, std::size_t limit,
                         std::string unix_path)
    : loop_(loop), socks_(std::move(listeners)), cb_(std::move(cb)), limit_(limit), unix_path_(std::move(unix_path)) {
  tcp_ = unix_path_.empty();
  for (std::size_t i = 0; i < socks_.size(); ++i) {
    socks_[i].note_loop(loop_->ref());
    auto op = std::make_unique<accept_op>();
    op->self = this;
    op->index = i;
    op->fd = socks_[i].fileno();
    op->kind = io_kind::accept_multi;
    op->done = &on_accept;
    ops_.push_back(std::move(op));
  }
  loop_->add_resource(this);
}

server_core::~server_core() {
  if (!loop_closed_) loop_->remove_resource(this);  // else the loop may be gone
}

void server_core::start_serving() {
  if (closed_) throw std::runtime_error("corio: start_serving: the server is closed");
  if (serving_) return;
  serving_ = true;
  for (std::size_t i = 0; i < ops_.size(); ++i) start_accepting(i);
}

void server_core::start_accepting(std::size_t i) {
  accept_op* op = ops_[i].get();
  if (op->in_flight() || closed_) return;
  retain();  // held by the op in flight
  loop_->backend().start(op);
}

void server_core::on_accept(io_op* o) noexcept {
  auto* op = static_cast<accept_op*>(o);
  server_core* s = op->self;
  if (op->more) {
    s->accepted(op->index, op->res);
    return;
  }
  if (op->res != -ECANCELED && !s->closed_) s->accept_failed(op->index, -op->res);
  s->maybe_release_listeners();
  s->release();  // the op's reference
}

void server_core::accepted(std::size_t, int fd) noexcept {
  socket sock = socket::adopt_nonblocking(fd);
  if (closed_) return;  // raced with close(): the fd closes here
  try {
    if (tcp_) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    stream_reader reader(limit_);
    auto* t = new stream_transport(loop_, std::move(sock), &reader.core());
    stream_writer writer(t);
    t->release();  // the writer holds it now
    t->set_owner(this);
    if (tls_) tls_layer::attach(t, *tls_);  // before a byte is read
    conns_.insert(t);
    retain();  // each connection holds the server until it is gone
    t->start_reading();
    retain();  // and so does its task
    ::corio::create_task(run_client(this, &cb_, std::move(reader), std::move(writer)));
  } catch (...) {
    exception_context ctx;
    ctx.message = "corio: could not set up an accepted connection";
    ctx.exception = std::current_exception();
    loop_->call_exception_handler(ctx);
  }
}

void server_core::accept_failed(std::size_t i, int err) noexcept {
  // Python: "socket.accept() out of system resource"; accepting resumes
  // after a delay, so the server keeps serving once descriptors free up.
  exception_context ctx;
  ctx.message = "socket.accept() out of system resource";
  ctx.exception = make_os_error(err, "accept on fd " + std::to_string(ops_[i]->fd));
  loop_->call_exception_handler(ctx);
  retain();
  ++retry_timers_;
  try {
    loop_->self().call_later(kAcceptRetryDelay, [this, i] {
      --retry_timers_;
      if (serving_ && !closed_) {
        try {
          start_accepting(i);
        } catch (...) {
        }
      }
      release();
    });
  } catch (...) {
    --retry_timers_;
    release();
  }
}

void server_core::close() noexcept {
  if (closed_) return;
  closed_ = true;
  serving_ = false;
  // Python closes the listening sockets here and then; an accept in flight
  // (io_uring) holds its socket open, so stop it listening first: new
  // connections are refused from now on (Linux stops a listening TCP socket
  // on shutdown).
  for (socket& s : socks_) ::shutdown(s.fileno(), SHUT_RDWR);
  for (auto& op : ops_)
    if (op->in_flight()) loop_->backend().cancel(op.get());
  // ST-20: sockets() is empty at once; the fds close once no accept is in
  // flight on them (the kernel may still hold them).
  for (socket& s : socks_) closing_.push_back(std::move(s));
  socks_.clear();
  if (!unix_path_.empty()) {
    ::unlink(unix_path_.c_str());
    unix_path_.clear();
  }
  maybe_release_listeners();
  update_idle();
}

// The listening sockets close once no accept is in flight on them.
void server_core::maybe_release_listeners() noexcept {
  if (!closed_) return;
  for (auto& op : ops_)
    if (op->in_flight()) return;
  socks_.clear();
  closing_.clear();
  if (!unix_path_.empty()) {
    ::unlink(unix_path_.c_str());
    unix_path_.clear();
  }
}

void server_core::close_clients() noexcept {
  std::vector<stream_transport*> all(conns_.begin(), conns_.end());
  for (stream_transport* t : all) t->close();
}

void server_core::abort_clients() noexcept {
  std::vector<stream_transport*> all(conns_.begin(), conns_.end());
  for (stream_transport* t : all) t->abort();
}

void server_core::transport_gone(stream_transport* t) noexcept {
  if (conns_.erase(t) != 0) {
    update_idle();
    release();
  }
}

void server_core::update_idle() noexcept {
  if (closed_ && conns_.empty()) idle_.set();
}

void server_core::on_loop_close() noexcept {
  loop_closed_ = true;
  retain();
  closed_ = true;
  serving_ = false;
  for (auto& op : ops_) {
    if (op->in_flight()) {
      loop_->backend().abandon(op.get());
      release();
    }
  }
  maybe_release_listeners();
  release();
}

}  // namespace detail

// -- server ------------------------------------------------------------------------

detail::server_core& server::core() const {
  if (!c_) throw std::invalid_argument("corio: server: an empty handle (moved from)");
  return *c_;
}

const std::vector<socket>& server::sockets() const { return core().sockets(); }

task<void> server::wait_closed() const { return wait_closed_with(*this); }

task<void> server::serve_forever() const { return serve_forever_with(*this); }

task<void> server::wait_closed_with(server keep) { co_await keep.core().idle().wait(); }

task<void> server::serve_forever_with(server keep) {
  detail::server_core& c = keep.core();
  if (c.serving_forever) throw std::runtime_error("corio: serve_forever: the server is already being served forever");
  if (c.is_closed()) throw std::runtime_error("corio: serve_forever: the server is closed");
  c.start_serving();
  c.serving_forever = true;
  event never;
  try {
    co_await never.wait();
  } catch (...) {
    c.serving_forever = false;
    c.close();  // ST-20: cancelling serve_forever closes the server
    throw;
  }
}

}  // namespace corio

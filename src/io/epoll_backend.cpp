// The epoll backend: completions emulated on readiness.
//
// Each fd is registered once, edge-triggered, for both directions; an op
// that cannot finish at once waits in its fd's read or write list, and each
// edge retries the ops of that direction in order until one would block.
// This is how Tokio and libuv use epoll: no epoll_ctl per operation.
//
// That registration outlives the operations only for fds corio owns (its
// sockets), which tell the backend before they close (forget_fd). A bare fd
// (wait_readable, add_reader) may be closed with ::close and its number
// reused without a word: its readiness waits (io_kind::poll) register it for
// as long as one of them waits and remove it when the last one ends, so no
// state survives the fd. A wait on a socket corio owns uses the socket's
// registration.
//
// Facts this relies on:
// - With EPOLLET every new arrival of data (or of buffer space) makes a new
//   edge, so an op that got EAGAIN after its fd was registered will be
//   retried. An op added to an fd whose edge already passed is therefore
//   tried once at start (single-shot ops try the call first; multishot ops
//   are queued for a retry in the next wait).
// - A short read from a stream socket means its buffer was drained at that
//   moment; anything arriving later makes a new edge.
// - epoll_pwait2 takes a timespec, so timers are honoured to the nanosecond
//   (epoll_wait rounds to milliseconds). It exists since Linux 5.11; on older
//   kernels (ENOSYS) the millisecond call is used, rounded up so that the loop
//   never wakes before a timer is due and spins.
// - An eventfd in the epoll set is the cross-thread wake-up: writing 1 makes
//   it readable; reading drains it.
#include <corio/detail/loop_core.hpp>
#include <corio/os_errors.hpp>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

namespace corio::detail {

std::unique_ptr<io_backend> make_epoll_backend();

namespace {

constexpr std::uint8_t kWaiting = 1;    // in its fd's list
constexpr std::uint8_t kDeferred = 2;   // finished, done not yet called
constexpr std::uint64_t kWakeTag = ~std::uint64_t{0};
constexpr std::size_t kScratch = 64 * 1024;
constexpr int kReadBudget = 8;  // full reads per edge before yielding to others

struct op_list {
  io_op* head = nullptr;
  io_op* tail = nullptr;
  void push(io_op* op) noexcept {
    op->next = nullptr;
    op->prev = tail;
    if (tail)
      tail->next = op;
    else
      head = op;
    tail = op;
  }
  void remove(io_op* op) noexcept {
    if (op->prev)
      op->prev->next = op->next;
    else
      head = op->next;
    if (op->next)
      op->next->prev = op->prev;
    else
      tail = op->prev;
    op->next = op->prev = nullptr;
  }
  bool contains(const io_op* op) const noexcept {
    for (io_op* o = head; o; o = o->next)
      if (o == op) return true;
    return false;
  }
};

struct fd_entry {
  op_list readers;
  op_list writers;
  bool registered = false;  // in the epoll set
  bool owned = false;       // kept there until forget_fd (a socket corio owns)
  bool retry = false;  // in the retry list
  bool hup = false;    // the peer's FIN (or an error) was seen: read to the end
};

bool is_read_side(const io_op* op) noexcept {
  switch (op->kind) {
    case io_kind::recv:
    case io_kind::recvmsg:
    case io_kind::accept:
    case io_kind::recv_multi:
    case io_kind::accept_multi:
      return true;
    case io_kind::poll:
      return (op->u.poll_mask & POLLIN) != 0;
    default:
      return false;
  }
}

// One attempt of a single-shot op's system call; -EAGAIN: not yet.
int attempt(io_op* op) noexcept {
  int r;
  switch (op->kind) {
    case io_kind::recv:
      r = static_cast<int>(::recv(op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.flags | MSG_DONTWAIT));
      break;
    case io_kind::send:
      r = static_cast<int>(::send(op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
      break;
    case io_kind::recvmsg:
      r = static_cast<int>(::recvmsg(op->fd, op->u.msg.msg, op->u.msg.flags | MSG_DONTWAIT));
      break;
    case io_kind::sendmsg:
      r = static_cast<int>(::sendmsg(op->fd, op->u.msg.msg, op->u.msg.flags | MSG_DONTWAIT | MSG_NOSIGNAL));
      break;
    case io_kind::accept:
      r = ::accept4(op->fd, op->u.acc.addr, op->u.acc.addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
      break;
    case io_kind::connect:
      if (op->state == 0) {  // first attempt: start the connection
        r = ::connect(op->fd, op->u.con.addr, op->u.con.addrlen);
        if (r < 0 && errno == EINPROGRESS) return -EAGAIN;
        break;
      }
      {  // writable again: the connection has settled
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
        return -err;
      }
    case io_kind::poll: {
      // Asked of poll(2) even when an edge brought it here: an op started
      // by a completion on the same fd, while that edge is being handled,
      // would otherwise take the edge as its own and complete again and
      // again (a pipe re-armed after it was read empty).
      pollfd p{op->fd, static_cast<short>(op->u.poll_mask), 0};
      r = ::poll(&p, 1, 0);
      if (r < 0) return -errno;
      return r == 0 ? -EAGAIN : p.revents;
    }
    default:
      return -EINVAL;
  }
  if (r < 0) {
    const int e = errno;
    return (e == EWOULDBLOCK) ? -EAGAIN : -e;
  }
  return r;
}

class epoll_backend final : public io_backend {
 public:
  epoll_backend() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw_errno("corio: epoll_create1");
    ev_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev_ < 0) {
      const int err = errno;
      ::close(ep_);
      throw_os_error(err, "corio: eventfd");
    }
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = kWakeTag;
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, ev_, &e) < 0) {
      const int err = errno;
      ::close(ev_);
      ::close(ep_);
      throw_os_error(err, "corio: epoll_ctl(eventfd)");
    }
  }
  ~epoll_backend() override {
    ::close(ev_);
    ::close(ep_);
  }

  const char* name() const noexcept override { return "epoll"; }

  bool start(io_op* op) override {
    origin_.check("this event loop");
    if (op->kind != io_kind::recv_multi && op->kind != io_kind::accept_multi) {
      op->state = 0;
      const int r = attempt(op);
      if (r != -EAGAIN) {
        op->res = r;
        op->more = false;
        return true;
      }
    }
    fd_entry& fe = entry(op->fd);
    if (CORIO_UNLIKELY(!fe.owned)) {
      if (op->kind == io_kind::poll) {  // a bare fd's wait: registered until the last one ends
        if (!fe.registered) register_fd(op->fd, fe);
      } else {
        // A socket's first op: registered for good. Even if a wait on the
        // number registered it (ADD then finds it and refreshes it), as that
        // may have been a closed fd's.
        register_fd(op->fd, fe);
        fe.owned = true;
      }
    }
    (is_read_side(op) ? fe.readers : fe.writers).push(op);
    op->state = kWaiting;
    ++pending_;
    if (op->kind == io_kind::recv_multi || op->kind == io_kind::accept_multi) mark_retry(op->fd, fe);
    return false;
  }

  void cancel(io_op* op) noexcept override {
    if (origin_.forked()) return;  // the kernel objects are the parent's
    if (op->state != kWaiting) return;  // already finished: its done is coming
    unlink(op);
    op->res = -ECANCELED;
    op->more = false;
    defer(op);
  }

  void abandon(io_op* op) noexcept override {
    if (origin_.forked()) return;
    if (op == dispatching_) abandoned_in_done_ = true;
    if (op->state == kWaiting) {
      unlink(op);
    } else if (op->state == kDeferred) {
      deferred_.remove(op);
      --pending_;
    }
    op->state = 0;
  }

  void forget_fd(int fd) noexcept override {
    if (origin_.forked()) return;
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    fd_entry& fe = fds_[static_cast<std::size_t>(fd)];
    for (op_list* l : {&fe.readers, &fe.writers})
      while (io_op* op = l->head) cancel(op);
    // Closing the fd drops it from the epoll set unless it was duplicated;
    // say so explicitly for that case.
    if (fe.registered) ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    fe.registered = false;
    fe.owned = false;
    fe.hup = false;
  }

  void wait(loop_core&, std::int64_t timeout_ns) override {
    origin_.check("this event loop");
    if (deferred_.head || !retry_.empty()) timeout_ns = 0;
    epoll_event events[128];
    int n;
    if (have_pwait2_) {
      timespec ts{};
      timespec* tp = nullptr;
      if (timeout_ns >= 0) {
        ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
        ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
        tp = &ts;
      }
      n = ::epoll_pwait2(ep_, events, 128, tp, nullptr);
      if (n < 0 && errno == ENOSYS) {
        have_pwait2_ = false;
        n = ::epoll_wait(ep_, events, 128, ms_of(timeout_ns));
      }
    } else {
      n = ::epoll_wait(ep_, events, 128, ms_of(timeout_ns));
    }
    if (n < 0) {
      if (errno != EINTR) throw_errno("corio: epoll_wait");
      n = 0;
    }
    run_deferred();
    run_retries();
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(ev_, &v, sizeof v);
        continue;
      }
      const int fd = static_cast<int>(tag);
      const std::uint32_t ev = events[i].events;
      if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) fds_[static_cast<std::size_t>(fd)].hup = true;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) run_list(fd, true);
      if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) run_list(fd, false);
    }
  }

  int wake_fd() const noexcept override { return ev_; }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    // EAGAIN means the counter is already non-zero: the loop will wake anyway.
    [[maybe_unused]] auto r = ::write(ev_, &one, sizeof one);
  }

 private:
  static int ms_of(std::int64_t ns) noexcept { return ns < 0 ? -1 : static_cast<int>((ns + 999'999) / 1'000'000); }

  fd_entry& entry(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= fds_.size()) fds_.resize(std::max(i + 1, fds_.size() * 2));
    return fds_[i];
  }

  void register_fd(int fd, fd_entry& fe) {
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    e.data.u64 = static_cast<std::uint64_t>(fd);
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e) < 0) {
      if (errno != EEXIST) throw_errno("corio: epoll_ctl(ADD) of fd " + std::to_string(fd));
      // Left over from an fd number closed without forget_fd: refresh it.
      if (::epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &e) < 0) throw_errno("corio: epoll_ctl(MOD) of fd " + std::to_string(fd));
    }
    fe.registered = true;
  }

  void unlink(io_op* op) noexcept {
    fd_entry& fe = fds_[static_cast<std::size_t>(op->fd)];
    (fe.readers.contains(op) ? fe.readers : fe.writers).remove(op);
    op->state = 0;
    --pending_;
    if (CORIO_UNLIKELY(!fe.owned) && !fe.readers.head && !fe.writers.head) unregister_bare(op->fd, fe);
  }

  // The last wait on a bare fd ended: its registration goes, so that nothing
  // is left if the fd is closed and its number reused. EBADF or ENOENT mean
  // it was closed already (which removed it from the set).
  void unregister_bare(int fd, fd_entry& fe) noexcept {
    if (fe.registered) ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    fe.registered = false;
    fe.hup = false;
  }

  void defer(io_op* op) noexcept {
    op->state = kDeferred;
    deferred_.push(op);
    ++pending_;
  }

  void run_deferred() noexcept {
    while (io_op* op = deferred_.head) {
      deferred_.remove(op);
      --pending_;
      op->state = 0;
      op->done(op);
    }
  }

  void mark_retry(int fd, fd_entry& fe) {
    if (fe.retry) return;
    fe.retry = true;
    retry_.push_back(fd);
  }

  void run_retries() {
    if (retry_.empty()) return;
    std::vector<int> fds;
    fds.swap(retry_);
    for (int fd : fds) {
      fd_entry& fe = fds_[static_cast<std::size_t>(fd)];
      if (!fe.retry) continue;
      fe.retry = false;
      run_list(fd, true);
    }
  }

  // Retries the waiting ops of one direction of `fd`, oldest first, until
  // one would block. `done` callbacks may start, cancel or abandon ops on
  // any fd, this one included, so the list is re-read after each call.
  void run_list(int fd, bool read_side) {
    for (;;) {
      fd_entry& fe = fds_[static_cast<std::size_t>(fd)];
      io_op* op = (read_side ? fe.readers : fe.writers).head;
      if (!op) return;
      if (op->kind == io_kind::recv_multi || op->kind == io_kind::accept_multi) {
        if (!run_multi(op)) return;
        continue;
      }
      const int r = attempt(op);
      if (r == -EAGAIN) return;
      unlink(op);
      op->res = r;
      op->more = false;
      op->done(op);
    }
  }

  // Runs a multishot op until its fd would block. True if the op ended (the
  // next op of the list may run), false if it waits for the next edge.
  bool run_multi(io_op* op) {
    const int fd = op->fd;
    for (int round = 0; round < kReadBudget; ++round) {
      int r;
      if (op->kind == io_kind::recv_multi) {
        if (!scratch_) scratch_ = std::make_unique<char[]>(kScratch);
        r = static_cast<int>(::recv(fd, scratch_.get(), kScratch, MSG_DONTWAIT));
      } else {
        r = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      }
      if (r < 0) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return false;
        if (e == EINTR) continue;
        if (op->kind == io_kind::accept_multi && (e == ECONNABORTED || e == EPROTO)) continue;  // that peer left
        finish(op, -e);
        return true;
      }
      if (op->kind == io_kind::recv_multi && r == 0) {
        finish(op, 0);
        return true;
      }
      op->res = r;
      op->more = true;
      op->u.data = scratch_.get();
      dispatching_ = op;
      op->done(op);
      dispatching_ = nullptr;
      if (abandoned_in_done_) {  // the op may be freed already
        abandoned_in_done_ = false;
        return true;
      }
      if (op->state != kWaiting) return true;  // cancelled from done
      // A short read drained the socket, and new data makes a new edge; but
      // the end of the stream may have made its edge while nobody read
      // (reading paused), so once it was seen, read on until recv says so.
      if (op->kind == io_kind::recv_multi && static_cast<std::size_t>(r) < kScratch &&
          !fds_[static_cast<std::size_t>(fd)].hup)
        return false;
    }
    mark_retry(fd, fds_[static_cast<std::size_t>(fd)]);  // more may be there: after the others
    return false;
  }

  void finish(io_op* op, int res) noexcept {
    unlink(op);
    op->res = res;
    op->more = false;
    op->done(op);
  }

  int ep_ = -1;
  int ev_ = -1;
  bool have_pwait2_ = true;
  std::vector<fd_entry> fds_;
  std::vector<int> retry_;
  op_list deferred_;
  std::unique_ptr<char[]> scratch_;
  io_op* dispatching_ = nullptr;  // the multishot op whose done is running
  bool abandoned_in_done_ = false;
};

}  // namespace

std::unique_ptr<io_backend> make_epoll_backend() { return std::make_unique<epoll_backend>(); }

}  // namespace corio::detail

// The io_uring backend (liburing).
//
// Submissions queue up in the SQ ring while tasks run and go to the kernel
// in one io_uring_enter per loop iteration, together with the wait for
// completions: that batching is where this backend saves the system calls a
// readiness loop makes per operation. Stream sockets are read with multishot
// recv into a ring of provided buffers, so an idle connection holds no
// buffer; listening sockets use multishot accept.
//
// Facts this relies on:
// - The ring is made lazily, on the first operation: a loop that never does
//   I/O costs no ring at all, and sleeps in ppoll on the wake-up eventfd.
// - With IORING_SETUP_COOP_TASKRUN completions are produced when the loop
//   enters the kernel; IORING_SETUP_TASKRUN_FLAG marks the SQ ring when
//   work is waiting, so a poll between batches (wait(0)) makes no system
//   call unless there are submissions or that flag is up.
// - A multishot recv ends (no IORING_CQE_F_MORE) when the buffer ring is
//   empty (-ENOBUFS) or the CQ ring overflowed; neither is an error for the
//   user, so the backend re-arms it.
// - A cancelled op still posts its final CQE (-ECANCELED, or its result if
//   it won the race); the op is only free once that CQE has been seen.
#include <corio/detail/loop_core.hpp>
#include <corio/os_errors.hpp>

#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace corio::detail {

std::unique_ptr<io_backend> make_uring_backend();
const char* uring_missing() noexcept;
extern const char* const kUringUses;

namespace {

constexpr std::uint8_t kInFlight = 1;
constexpr std::uint8_t kCancelling = 2;
constexpr std::uint64_t kIgnoreTag = 0;  // cancel requests
constexpr std::uint64_t kWakeTag = 1;    // the eventfd read
constexpr unsigned kSqEntries = 256;
constexpr unsigned kCqEntries = 4096;
constexpr unsigned kBufGroup = 0;
constexpr unsigned kBufCount = 1024;  // power of two
constexpr unsigned kBufSize = 4096;

struct cqe_copy {
  std::uint64_t user_data;
  std::int32_t res;
  std::uint32_t flags;
};

bool is_multi(const io_op* op) noexcept {
  return op->kind == io_kind::recv_multi || op->kind == io_kind::accept_multi;
}

// Ops whose result (res >= 0) is a new fd, which becomes the owner's only
// when `done` hands it over.
bool yields_fd(const io_op* op) noexcept { return op->kind == io_kind::accept || op->kind == io_kind::accept_multi; }

class uring_backend final : public io_backend {
 public:
  uring_backend() {
    ev_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev_ < 0) throw_errno("corio: eventfd");
  }
  ~uring_backend() override {
    if (ring_ready_) {
      if (bufs_) ::io_uring_unregister_buf_ring(&ring_, kBufGroup);
      ::io_uring_queue_exit(&ring_);  // cancels what is still in flight
    }
    if (br_) ::munmap(br_, kBufCount * sizeof(io_uring_buf));
    if (bufs_) ::munmap(bufs_, std::size_t{kBufCount} * kBufSize);
    ::close(ev_);
  }

  const char* name() const noexcept override { return "io_uring"; }

  bool start(io_op* op) override {
    origin_.check("this event loop");
    if (!ring_ready_) make_ring();
    if (op->kind == io_kind::recv_multi && !bufs_) make_buffers();
    prep(op);
    op->state = kInFlight;
    ++pending_;
    if (op->fd >= 0) {
      const auto fd = static_cast<std::size_t>(op->fd);
      if (fd >= in_flight_.size()) in_flight_.resize(fd + 1, 0);
      ++in_flight_[fd];
    }
    return false;
  }

  void cancel(io_op* op) noexcept override {
    if (origin_.forked()) return;  // the kernel objects are the parent's
    if (op->state != kInFlight) return;
    op->state = kCancelling;
    io_uring_sqe* sqe = sqe_or_flush();
    ::io_uring_prep_cancel64(sqe, reinterpret_cast<std::uintptr_t>(op), 0);
    ::io_uring_sqe_set_data64(sqe, kIgnoreTag);
  }

  void abandon(io_op* op) noexcept override {
    if (origin_.forked()) return;
    if (op == dispatching_) abandoned_in_done_ = true;
    if (op->state == 0) return;
    cancel(op);
    // Its final CQE may already be stashed by an earlier abandon.
    for (std::size_t i = 0; i < stash_.size();) {
      if (stash_[i].user_data != tag_of(op)) {
        ++i;
        continue;
      }
      const cqe_copy c = stash_[i];
      stash_.erase(stash_.begin() + static_cast<std::ptrdiff_t>(i));
      drop_result(op, c.res, c.flags);
      if (!(c.flags & IORING_CQE_F_MORE)) return forget(op);
    }
    // Wait for it; other completions are kept for the next wait().
    for (;;) {
      const int r = ::io_uring_submit_and_wait(&ring_, 1);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) return forget(op);
      io_uring_cqe* cqe;
      unsigned head, seen = 0;
      bool ended = false;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        if (cqe->user_data == tag_of(op)) {
          drop_result(op, cqe->res, cqe->flags);
          if (!(cqe->flags & IORING_CQE_F_MORE)) ended = true;
        } else {
          stash_.push_back({cqe->user_data, cqe->res, cqe->flags});
        }
      }
      ::io_uring_cq_advance(&ring_, seen);
      if (ended) return forget(op);
    }
  }

  // An op in flight holds its file: closing the fd alone does not end it
  // (an accept would wait on a closed listener for ever). Its ops are
  // cancelled by fd, submitted before the caller closes the number.
  void forget_fd(int fd) noexcept override {
    if (origin_.forked() || !ring_ready_) return;
    if (fd < 0 || static_cast<std::size_t>(fd) >= in_flight_.size() || in_flight_[static_cast<std::size_t>(fd)] == 0)
      return;
    io_uring_sqe* sqe = sqe_or_flush();
    ::io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    ::io_uring_sqe_set_data64(sqe, kIgnoreTag);
    (void)::io_uring_submit(&ring_);
  }

  void wait(loop_core&, std::int64_t timeout_ns) override {
    origin_.check("this event loop");
    if (!stash_.empty()) {
      std::vector<cqe_copy> s;
      s.swap(stash_);
      for (const cqe_copy& c : s) dispatch(c);
      timeout_ns = 0;
    }
    if (!ring_ready_) return sleep_without_ring(timeout_ns);
    if (!wake_armed_) arm_wake();
    int r;
    if (timeout_ns == 0) {
      // A poll between batches: enter the kernel only if there is
      // something to submit or the kernel asked for it (TASKRUN flag).
      if (::io_uring_sq_ready(&ring_) == 0 && !(IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN)) {
        reap();
        return;
      }
      r = ::io_uring_submit_and_get_events(&ring_);
    } else if (timeout_ns < 0) {
      r = ::io_uring_submit_and_wait(&ring_, 1);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      io_uring_cqe* cqe = nullptr;
      r = ::io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      if (r == -ETIME) r = 0;
    }
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) throw_os_error(-r, "corio: io_uring_enter");
    reap();
  }

  int wake_fd() const noexcept override { return ev_; }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(ev_, &one, sizeof one);
  }

  void make_ring() {
    if (ring_ready_) return;
    // COOP_TASKRUN + TASKRUN_FLAG measured best for echo (W5): completions
    // are run when the loop enters the kernel anyway, and the TASKRUN flag
    // tells a polling loop when it must. DEFER_TASKRUN measured slower, and
    // its SINGLE_ISSUER would tie the loop to one thread.
    // uring_missing() checked that the kernel takes these flags.
    io_uring_params p{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = kCqEntries;
    const int r = ::io_uring_queue_init_params(kSqEntries, &ring_, &p);
    if (r < 0) throw_os_error(-r, "corio: io_uring_queue_init");
    ring_ready_ = true;
    ::io_uring_register_ring_fd(&ring_);  // optional: saves an fd lookup per enter
  }

 private:
  static std::uint64_t tag_of(const io_op* op) noexcept { return reinterpret_cast<std::uintptr_t>(op); }

  io_uring_sqe* sqe_or_flush() noexcept {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
    while (!sqe) {  // SQ ring full: hand what is queued to the kernel
      ::io_uring_submit(&ring_);
      sqe = ::io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void prep(io_op* op) {
    io_uring_sqe* sqe = sqe_or_flush();
    switch (op->kind) {
      case io_kind::recv:
        ::io_uring_prep_recv(sqe, op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.flags);
        break;
      case io_kind::send:
        ::io_uring_prep_send(sqe, op->fd, op->u.rw.buf, op->u.rw.len, op->u.rw.flags | MSG_NOSIGNAL);
        break;
      case io_kind::recvmsg:
        ::io_uring_prep_recvmsg(sqe, op->fd, op->u.msg.msg, static_cast<unsigned>(op->u.msg.flags));
        break;
      case io_kind::sendmsg:
        ::io_uring_prep_sendmsg(sqe, op->fd, op->u.msg.msg, static_cast<unsigned>(op->u.msg.flags | MSG_NOSIGNAL));
        break;
      case io_kind::accept:
        ::io_uring_prep_accept(sqe, op->fd, op->u.acc.addr, op->u.acc.addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
        break;
      case io_kind::connect:
        ::io_uring_prep_connect(sqe, op->fd, op->u.con.addr, op->u.con.addrlen);
        break;
      case io_kind::poll:
        ::io_uring_prep_poll_add(sqe, op->fd, op->u.poll_mask);
        break;
      case io_kind::recv_multi:
        ::io_uring_prep_recv_multishot(sqe, op->fd, nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kBufGroup;
        break;
      case io_kind::accept_multi:
        ::io_uring_prep_multishot_accept(sqe, op->fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        break;
    }
    ::io_uring_sqe_set_data64(sqe, tag_of(op));
  }

  void make_buffers() {
    void* ring_mem = ::mmap(nullptr, kBufCount * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                            MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) throw_errno("corio: mmap of the io_uring buffer ring");
    void* slab = ::mmap(nullptr, std::size_t{kBufCount} * kBufSize, PROT_READ | PROT_WRITE,
                        MAP_ANONYMOUS | MAP_PRIVATE | MAP_NORESERVE, -1, 0);
    if (slab == MAP_FAILED) {
      const int err = errno;
      ::munmap(ring_mem, kBufCount * sizeof(io_uring_buf));
      throw_os_error(err, "corio: mmap of the io_uring receive buffers");
    }
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_mem);
    reg.ring_entries = kBufCount;
    reg.bgid = kBufGroup;
    const int r = ::io_uring_register_buf_ring(&ring_, &reg, 0);
    if (r < 0) {
      ::munmap(slab, std::size_t{kBufCount} * kBufSize);
      ::munmap(ring_mem, kBufCount * sizeof(io_uring_buf));
      throw_os_error(-r, "corio: io_uring_register_buf_ring");
    }
    br_ = static_cast<io_uring_buf_ring*>(ring_mem);
    bufs_ = static_cast<char*>(slab);
    ::io_uring_buf_ring_init(br_);
    const int mask = ::io_uring_buf_ring_mask(kBufCount);
    for (unsigned i = 0; i < kBufCount; ++i)
      ::io_uring_buf_ring_add(br_, bufs_ + std::size_t{i} * kBufSize, kBufSize, static_cast<unsigned short>(i), mask,
                              static_cast<int>(i));
    ::io_uring_buf_ring_advance(br_, kBufCount);
  }

  // A result of an abandoned op, which nobody will take: its buffer goes
  // back to the ring, and a connection it accepted is closed.
  void drop_result(const io_op* op, std::int32_t res, std::uint32_t flags) noexcept {
    recycle_if_buffer(flags);
    if (res >= 0 && yields_fd(op)) ::close(res);
  }

  void recycle_if_buffer(std::uint32_t flags) noexcept {
    if (!(flags & IORING_CQE_F_BUFFER)) return;
    const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    ::io_uring_buf_ring_add(br_, bufs_ + std::size_t{bid} * kBufSize, kBufSize, static_cast<unsigned short>(bid),
                            ::io_uring_buf_ring_mask(kBufCount), 0);
    ::io_uring_buf_ring_advance(br_, 1);
  }

  void arm_wake() {
    io_uring_sqe* sqe = sqe_or_flush();
    ::io_uring_prep_read(sqe, ev_, &wake_value_, sizeof wake_value_, 0);
    ::io_uring_sqe_set_data64(sqe, kWakeTag);
    wake_armed_ = true;
  }

  void sleep_without_ring(std::int64_t timeout_ns) {
    pollfd p{ev_, POLLIN, 0};
    timespec ts{};
    timespec* tp = nullptr;
    if (timeout_ns >= 0) {
      ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
      tp = &ts;
    }
    const int n = ::ppoll(&p, 1, tp, nullptr);
    if (n < 0 && errno != EINTR) throw_errno("corio: ppoll");
    if (n > 0) {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(ev_, &v, sizeof v);
    }
  }

  // Copies a batch of CQEs out before running any callback: a callback may
  // start or abandon ops, and abandon reads the CQ ring itself.
  void reap() {
    cqe_copy batch[256];
    for (;;) {
      unsigned n = 0, head;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        batch[n++] = {cqe->user_data, cqe->res, cqe->flags};
        if (n == 256) break;
      }
      if (n == 0) return;
      ::io_uring_cq_advance(&ring_, n);
      for (unsigned i = 0; i < n; ++i) dispatch(batch[i]);
      if (n < 256) return;
    }
  }

  void dispatch(const cqe_copy& c) {
    if (c.user_data == kIgnoreTag) return;
    if (c.user_data == kWakeTag) {
      wake_armed_ = false;
      return;
    }
    auto* op = reinterpret_cast<io_op*>(static_cast<std::uintptr_t>(c.user_data));
    const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
    if (!is_multi(op)) {
      op->res = c.res;
      op->more = false;
      forget(op);
      op->done(op);
      return;
    }
    const bool cancelling = op->state == kCancelling;
    if (c.res > 0 || (op->kind == io_kind::accept_multi && c.res == 0)) {
      // One more result.
      if (op->kind == io_kind::recv_multi) {
        const unsigned bid = c.flags >> IORING_CQE_BUFFER_SHIFT;
        op->u.data = bufs_ + std::size_t{bid} * kBufSize;
      }
      op->res = c.res;
      op->more = true;
      dispatching_ = op;
      op->done(op);
      dispatching_ = nullptr;
      recycle_if_buffer(c.flags);
      if (abandoned_in_done_) {  // the op may be freed already
        abandoned_in_done_ = false;
        return;
      }
      if (more) return;
      if (op->state == kInFlight) {  // it stopped on its own (CQ overflow): go on
        prep(op);
        return;
      }
      op->res = -ECANCELED;
    } else {
      recycle_if_buffer(c.flags);
      if (more) return;  // a transient error of one result
      const bool transient = c.res == -ENOBUFS || (op->kind == io_kind::accept_multi && c.res == -ECONNABORTED);
      if (transient && !cancelling) {
        prep(op);  // buffers ran out, or one peer left before accept: go on
        return;
      }
      op->res = transient ? -ECANCELED : c.res;  // stopped while being cancelled
    }
    op->more = false;
    forget(op);
    op->done(op);
  }

  void forget(io_op* op) noexcept {
    op->state = 0;
    --pending_;
    if (op->fd >= 0) --in_flight_[static_cast<std::size_t>(op->fd)];
  }

  io_uring ring_{};
  bool ring_ready_ = false;
  int ev_ = -1;
  std::uint64_t wake_value_ = 0;
  bool wake_armed_ = false;
  std::vector<cqe_copy> stash_;
  io_op* dispatching_ = nullptr;  // the multishot op whose done is running
  std::vector<std::uint32_t> in_flight_;  // ops in flight per fd number (forget_fd)
  bool abandoned_in_done_ = false;
  io_uring_buf_ring* br_ = nullptr;
  char* bufs_ = nullptr;
};

}  // namespace

std::unique_ptr<io_backend> make_uring_backend() { return std::make_unique<uring_backend>(); }

const char* const kUringUses =
    "multishot receive into provided-buffer rings, multishot accept, COOP_TASKRUN";

namespace {

// The opcodes the backend submits (prep(), the wake-up read, cancels).
struct needed_op {
  int op;
  const char* name;
};
constexpr needed_op kNeededOps[] = {
    {IORING_OP_RECV, "RECV"},         {IORING_OP_SEND, "SEND"},       {IORING_OP_RECVMSG, "RECVMSG"},
    {IORING_OP_SENDMSG, "SENDMSG"},   {IORING_OP_ACCEPT, "ACCEPT"},   {IORING_OP_CONNECT, "CONNECT"},
    {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_READ, "READ"},       {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
};

std::string errno_text(int err) { return std::strerror(err); }

// Tries, on a small ring of its own, everything the backend relies on. An
// io_uring that can make a ring may still lack the newer parts (older
// kernels, or a seccomp profile that refuses some io_uring_register
// opcodes), and streams would then fail on their first read; epoll serves
// them instead. Returns what is missing, empty if nothing.
std::string probe_uring() {
  // A provided-buffer ring of one entry, its buffer in the same page,
  // unmapped after the ring has gone.
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::size_t len = page > 0 ? static_cast<std::size_t>(page) : 4096;
  void* mem = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) return "mmap for the probe's buffer ring: " + errno_text(errno);
  struct map_guard {
    void* mem;
    std::size_t len;
    ~map_guard() { ::munmap(mem, len); }
  } unmap{mem, len};

  io_uring ring;
  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int r = ::io_uring_queue_init_params(4, &ring, &p);
  if (r == -EINVAL) {
    io_uring plain;
    const int r2 = ::io_uring_queue_init(4, &plain, 0);
    if (r2 < 0) return "io_uring_setup refuses: " + errno_text(-r2);
    ::io_uring_queue_exit(&plain);
    return "io_uring_setup refuses IORING_SETUP_COOP_TASKRUN (Linux 5.19)";
  }
  if (r < 0) return "io_uring_setup refuses: " + errno_text(-r);
  struct ring_guard {
    io_uring* ring;
    ~ring_guard() { ::io_uring_queue_exit(ring); }
  } ring_exit{&ring};

  io_uring_probe* pr = ::io_uring_get_probe_ring(&ring);
  if (!pr) return "IORING_REGISTER_PROBE is refused (Linux 5.6)";
  std::string missing_ops;
  for (const needed_op& n : kNeededOps)
    if (!::io_uring_opcode_supported(pr, n.op)) missing_ops += std::string(missing_ops.empty() ? "" : ", ") + n.name;
  ::io_uring_free_probe(pr);
  if (!missing_ops.empty()) return "the kernel lacks the opcodes " + missing_ops;

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(mem);
  reg.ring_entries = 1;
  reg.bgid = kBufGroup;
  r = ::io_uring_register_buf_ring(&ring, &reg, 0);
  if (r < 0) return "io_uring_register_buf_ring refuses provided-buffer rings: " + errno_text(-r) + " (Linux 5.19)";
  auto* br = static_cast<io_uring_buf_ring*>(mem);
  ::io_uring_buf_ring_init(br);
  ::io_uring_buf_ring_add(br, static_cast<char*>(mem) + len / 2, 64, 0, ::io_uring_buf_ring_mask(1), 0);
  ::io_uring_buf_ring_advance(br, 1);

  // Multishot receive is a flag of RECV, which no probe reports: a receive
  // of one waiting byte must come back with IORING_CQE_F_MORE. (Multishot
  // accept, 5.19, is older.)
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    return "socketpair for the multishot receive probe: " + errno_text(errno);
  struct fds_guard {
    int* sv;
    ~fds_guard() {
      ::close(sv[0]);
      ::close(sv[1]);
    }
  } close_fds{sv};
  if (::write(sv[1], "x", 1) != 1) return "write for the multishot receive probe: " + errno_text(errno);
  io_uring_sqe* sqe = ::io_uring_get_sqe(&ring);
  ::io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufGroup;
  ::io_uring_sqe_set_data64(sqe, 1);
  do {
    r = ::io_uring_submit_and_wait(&ring, 1);
  } while (r == -EINTR);
  io_uring_cqe* cqe = nullptr;
  if (r < 0 || ::io_uring_peek_cqe(&ring, &cqe) < 0 || !cqe)
    return "io_uring_enter for the multishot receive probe: " + errno_text(r < 0 ? -r : EAGAIN);
  const int res = cqe->res;
  const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
  ::io_uring_cqe_seen(&ring, cqe);
  if (res < 0) return "multishot receive is refused: " + errno_text(-res) + " (Linux 6.0)";
  if (res != 1 || !more) return "multishot receive ends after one result (Linux 6.0)";
  return {};
}

}  // namespace

const char* uring_missing() noexcept {
  static const std::string missing = [] {
    try {
      return probe_uring();
    } catch (...) {
      return std::string("probing io_uring failed");
    }
  }();
  return missing.empty() ? nullptr : missing.c_str();
}

}  // namespace corio::detail

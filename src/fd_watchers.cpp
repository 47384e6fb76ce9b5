// Python: loop.add_reader / add_writer / remove_reader / remove_writer
// (asyncio/selector_events.py): callbacks while a file descriptor corio
// does not own is readable or writable.
//
// Each watched direction of an fd keeps one poll io_op in flight (io_uring
// POLL_ADD, epoll's readiness lists), so both backends serve it alike. When
// the poll reports readiness the callback is queued as a handle in the ready
// queue, as Python's selector loop queues the reader's Handle, and the poll
// starts again only after the callback has run: an fd that is still
// readable then gets its callback again in the next iteration
// (level-triggered, as in Python), and a direction never has more than one
// callback queued.
#include <corio/detail/context.hpp>
#include <corio/events.hpp>
#include <corio/os_errors.hpp>

#include <poll.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace corio {
namespace detail {

namespace {

constexpr int kRead = 0;
constexpr int kWrite = 1;
const char* const kCall[2] = {"add_reader", "add_writer"};

}  // namespace

struct fd_watch {
  struct op_t : io_op {
    fd_watch* w;
    int dir;
  };
  struct direction {
    op_t op{};
    std::shared_ptr<std::function<void()>> fn;  // null: nothing registered
    std::uint32_t gen = 0;  // bumped by add and remove: a callback queued for an older one does not run
    bool queued = false;    // a callback (or the first start) waits in the ready queue
  };

  fd_watch(fd_watch_set* s, int f) noexcept : set(s), fd(f) {
    for (int d : {kRead, kWrite}) {
      dirs[d].op.w = this;
      dirs[d].op.dir = d;
    }
  }
  ~fd_watch();
  void retain() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) delete this;
  }
  bool active() const noexcept { return dirs[kRead].fn || dirs[kWrite].fn; }

  fd_watch_set* set;
  int fd;
  std::uint32_t refs = 1;  // the set's map entry, or whoever made it
  direction dirs[2];
  fd_watch* prev = nullptr;  // every live watch of the set, mapped or not
  fd_watch* next = nullptr;
};

class fd_watch_set final : public loop_resource {
 public:
  explicit fd_watch_set(loop_core* loop) noexcept : loop_(loop) { loop_->add_resource(this); }
  fd_watch_set(const fd_watch_set&) = delete;
  fd_watch_set& operator=(const fd_watch_set&) = delete;

  void set(int fd, int dir, std::function<void()> fn) {
    auto fn_ptr = std::make_shared<std::function<void()>>(bind_to_current_context(std::move(fn)));
    fd_watch* w;
    if (auto it = map_.find(fd); it != map_.end()) {
      w = it->second;
    } else {
      w = new fd_watch(this, fd);
      link(w);
      try {
        map_.emplace(fd, w);
      } catch (...) {
        w->release();
        throw;
      }
    }
    fd_watch::direction& d = w->dirs[dir];
    d.fn = std::move(fn_ptr);  // replaces the earlier callback (Python cancels its handle)
    ++d.gen;
    if (d.op.in_flight() || d.queued) return;  // already watching
    try {
      arm(w, dir);
    } catch (...) {
      clear(fd, dir);
      throw;
    }
  }

  bool clear(int fd, int dir) noexcept {
    auto it = map_.find(fd);
    if (it == map_.end()) return false;
    fd_watch* w = it->second;
    fd_watch::direction& d = w->dirs[dir];
    if (!d.fn) return false;
    d.fn.reset();
    ++d.gen;
    if (d.op.in_flight()) loop_->backend().cancel(&d.op);
    if (!w->active()) {
      // Python's selector unregisters an fd nobody watches. The backend
      // keeps nothing for it once its poll has ended (see epoll_backend.cpp),
      // and forget_fd would also stop the operations of a socket corio owns
      // that shares the fd.
      map_.erase(it);
      w->release();
    }
    return true;
  }

  void unlink(fd_watch* w) noexcept {
    (w->prev ? w->prev->next : all_) = w->next;
    if (w->next) w->next->prev = w->prev;
  }

  // The loop will run no more: ops in flight are abandoned, callbacks dropped.
  void on_loop_close() noexcept override {
    for (fd_watch* w = all_; w; w = w->next) w->retain();  // nothing is freed mid-walk
    for (fd_watch* w = all_; w; w = w->next) {
      for (int dir : {kRead, kWrite}) {
        fd_watch::direction& d = w->dirs[dir];
        d.fn.reset();
        if (d.op.in_flight()) {
          loop_->backend().abandon(&d.op);
          d.op.state = 0;
          --w->refs;  // the op's reference (the walk's keeps it alive)
        }
      }
    }
    for (auto& [fd, w] : map_) --w->refs;  // the map's
    map_.clear();
    for (fd_watch* w = all_; w;) {  // the walk's: the last reference of each
      fd_watch* next = w->next;
      w->release();
      w = next;
    }
    loop_->watchers_ = nullptr;
    delete this;
  }

 private:
  ~fd_watch_set() = default;

  void link(fd_watch* w) noexcept {
    w->next = all_;
    if (all_) all_->prev = w;
    all_ = w;
  }

  // Starts the poll of one direction. Not on the loop's thread (the loop
  // is not running yet): queued, so the loop starts it from its own thread
  // (the io_uring ring belongs to the thread that runs the loop).
  void arm(fd_watch* w, int dir) {
    fd_watch::direction& d = w->dirs[dir];
    if (tls.running_loop != loop_) {
      queue(w, dir, false);
      return;
    }
    d.op.fd = w->fd;
    d.op.kind = io_kind::poll;
    d.op.u.poll_mask = dir == kRead ? POLLIN : POLLOUT;
    d.op.done = &on_poll;
    w->retain();  // held by the op in flight
    if (loop_->backend().start(&d.op)) {  // ready at once (epoll)
      const std::int32_t res = d.op.res;
      fired(w, dir, res);
      w->release();
    }
  }

  void arm_or_report(fd_watch* w, int dir) noexcept {
    try {
      arm(w, dir);
    } catch (...) {
      report(w, dir, std::current_exception());
    }
  }

  void report(fd_watch* w, int dir, std::exception_ptr e) noexcept {
    const int fd = w->fd;
    clear(fd, dir);  // Python's selector would fail every iteration; stop instead
    exception_context ctx;
    try {
      ctx.message = std::string("corio: ") + kCall[dir] + ": watching fd " + std::to_string(fd) +
                    " failed; the callback was removed";
    } catch (...) {
    }
    ctx.exception = std::move(e);
    loop_->call_exception_handler(ctx);
  }

  static void on_poll(io_op* op) noexcept {
    auto* o = static_cast<fd_watch::op_t*>(op);
    fd_watch* w = o->w;
    w->set->fired(w, o->dir, op->res);
    w->release();  // the op's
  }

  // The poll of one direction finished with `res` (revents or -errno).
  void fired(fd_watch* w, int dir, std::int32_t res) noexcept {
    fd_watch::direction& d = w->dirs[dir];
    if (!d.fn) return;  // removed meanwhile
    if (res == -ECANCELED) {
      arm_or_report(w, dir);  // removed, then added again before the cancel landed
      return;
    }
    if (res < 0 || (res & POLLNVAL)) {
      const int err = res < 0 ? -res : EBADF;  // POLLNVAL: the fd was closed under the watch
      report(w, dir, make_os_error(err, std::string(kCall[dir]) + ": poll of fd " + std::to_string(w->fd)));
      return;
    }
    try {
      queue(w, dir, true);
    } catch (...) {
      report(w, dir, std::current_exception());
    }
  }

  // The handle that runs a callback (or, with call false, only starts the
  // poll) on the loop's thread.
  struct queued {
    fd_watch* w;
    int dir;
    std::uint32_t gen;
    bool call;
    queued(fd_watch* wp, int d, std::uint32_t g, bool c) noexcept : w(wp), dir(d), gen(g), call(c) { w->retain(); }
    queued(queued&& o) noexcept : w(std::exchange(o.w, nullptr)), dir(o.dir), gen(o.gen), call(o.call) {}
    queued(const queued&) = delete;
    ~queued() {
      if (w) w->release();
    }
    void operator()() {
      fd_watch::direction& d = w->dirs[dir];
      d.queued = false;
      // Watch again after the callback, even if it throws; not if it
      // removed itself, nor if it was removed and added again (then the
      // new registration already started its poll).
      struct rearm {
        fd_watch* w;
        int dir;
        ~rearm() {
          fd_watch::direction& dd = w->dirs[dir];
          if (dd.fn && !dd.queued && !dd.op.in_flight()) w->set->arm_or_report(w, dir);
        }
      } again{w, dir};
      if (call && d.fn && d.gen == gen) {
        const std::shared_ptr<std::function<void()>> fn = d.fn;  // the callback may replace itself
        (*fn)();
      }
    }
  };

  void queue(fd_watch* w, int dir, bool call) {
    fd_watch::direction& d = w->dirs[dir];
    handle_node* h = make_handle_node<handle_node>(queued(w, dir, d.gen, call));
    loop_->schedule_handle(h);
    h->release();  // the queue holds it
    d.queued = true;
  }

  loop_core* loop_;
  std::unordered_map<int, fd_watch*> map_;
  fd_watch* all_ = nullptr;
};

fd_watch::~fd_watch() { set->unlink(this); }

}  // namespace detail

namespace {

void check_fd(int fd, const char* call) {
  if (fd < 0) throw std::invalid_argument(std::string("corio: ") + call + ": invalid file descriptor " + std::to_string(fd));
}

}  // namespace

void event_loop::set_fd_watcher(int fd, bool write, std::function<void()> fn) {
  const int dir = write ? detail::kWrite : detail::kRead;
  check_fd(fd, detail::kCall[dir]);
  check_open();
  check_thread(detail::kCall[dir]);
  if (!watchers_) watchers_ = new detail::fd_watch_set(this);
  watchers_->set(fd, dir, std::move(fn));
}

bool event_loop::clear_fd_watcher(int fd, bool write) {
  check_thread(write ? "remove_writer" : "remove_reader");
  if (fd < 0 || !watchers_) return false;
  return watchers_->clear(fd, write ? detail::kWrite : detail::kRead);
}

}  // namespace corio

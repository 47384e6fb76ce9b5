// Unix signals on event loops (Python: loop.add_signal_handler and
// remove_signal_handler, asyncio/unix_events.py).
//
// The mechanism, and why:
// - signalfd would be the completion-style source, but it only receives a
//   signal that is blocked in every thread of the process, and a library
//   cannot block signals in threads it did not create (nor should it leave
//   them blocked for the programs those threads exec). So corio installs an
//   ordinary sigaction handler, as CPython does (a C handler plus
//   signal.set_wakeup_fd).
// - The handler does only async-signal-safe things: it bumps the signal's
//   pending count and a process-wide epoch (lock-free atomics) and writes to
//   the owning loop's wake-up eventfd with write(2). Each loop iteration of a
//   loop that owns signals compares the epoch (one load) and, when it moved,
//   turns its signals' counts into callbacks in the ready queue (Python:
//   _handle_signal through _add_callback_signalsafe).
// - Why the backend's wake-up eventfd rather than a pipe of our own read by
//   an io_op kept in flight: both backends already sleep on that eventfd, so
//   a signal wakes a sleeping loop with nothing in flight. An op in flight
//   would count as pending I/O: every corio::run (which holds a SIGINT
//   handler on the main thread, EL-28) would pay a poll system call per busy
//   loop iteration, and virtual clocks would stop jumping.
// - The handler finds the fd through a per-signal slot, so a loop in any
//   thread may own signals; one signal belongs to one loop at a time.
// - Letting a signal go (remove, loop close) restores the disposition,
//   clears the slot and then waits until no handler runs anywhere: after
//   that no handler can still write to an eventfd the loop may close.
#include <corio/detail/context.hpp>
#include <corio/detail/fork.hpp>
#include <corio/detail/signals.hpp>
#include <corio/events.hpp>
#include <corio/os_errors.hpp>

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace corio {
namespace detail {

std::atomic<std::uint32_t> g_signal_epoch{0};

namespace {

struct signal_slot {
  std::atomic<int> fd{-1};               // the owner's wake-up eventfd
  std::atomic<std::uint32_t> count{0};  // caught, not yet taken by the loop
};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the signal handler relies on lock-free atomics");

signal_slot g_slots[NSIG];
std::atomic<std::uint32_t> g_in_handler{0};

// Who owns each signal and what to restore; add/remove only (never the handler).
struct signal_owner {
  loop_core* loop = nullptr;
  struct ::sigaction previous {};
};
std::mutex g_mu;
signal_owner g_owners[NSIG];

void on_signal(int sig) {
  const int saved_errno = errno;
  g_in_handler.fetch_add(1);
  if (sig > 0 && sig < NSIG) {
    signal_slot& s = g_slots[sig];
    const int fd = s.fd.load();
    if (fd >= 0) {
      s.count.fetch_add(1);
      g_signal_epoch.fetch_add(1);
      const std::uint64_t one = 1;
      [[maybe_unused]] const ssize_t r = ::write(fd, &one, sizeof one);
    }
  }
  g_in_handler.fetch_sub(1);
  errno = saved_errno;
}

// After a slot's fd was cleared: no handler still holds the old value.
void wait_for_handlers() noexcept {
  while (g_in_handler.load() != 0) std::this_thread::yield();
}

// Python: _check_signal (ValueError for a number that names no signal).
void check_signal_number(int sig) {
  if (sig <= 0 || sig >= NSIG) throw std::invalid_argument("invalid signal number " + std::to_string(sig));
}

void check_signal(int sig) {
  check_signal_number(sig);
  if (sig == SIGKILL || sig == SIGSTOP) throw std::invalid_argument(signal_name(sig) + " cannot be caught");
}

}  // namespace

std::string signal_name(int sig) {
  std::string s;
  if (const char* abbrev = (sig > 0 && sig < NSIG) ? ::sigabbrev_np(sig) : nullptr) {
    s = "SIG";
    s += abbrev;
    s += " (";
    s += std::to_string(sig);
    s += ')';
  } else {
    s = "signal " + std::to_string(sig);
  }
  return s;
}

bool signal_is_default(int sig) noexcept {
  struct ::sigaction cur {};
  if (::sigaction(sig, nullptr, &cur) < 0) return false;
  return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL;
}

// A loop's signals: few, so a vector.
class signal_set final : public loop_resource {
 public:
  struct entry {
    int sig;
    std::shared_ptr<std::function<void()>> fn;  // shared with callbacks in the ready queue
    const void* owner;                          // null: the user's
  };

  explicit signal_set(loop_core* loop) noexcept : loop_(loop) { loop_->add_resource(this); }
  signal_set(const signal_set&) = delete;
  signal_set& operator=(const signal_set&) = delete;

  entry* find(int sig) noexcept {
    for (entry& e : entries_)
      if (e.sig == sig) return &e;
    return nullptr;
  }

  // With g_mu held.
  void add(int sig, std::function<void()> fn, const void* owner) {
    signal_owner& o = g_owners[sig];
    if (o.loop && o.loop != loop_)
      throw std::runtime_error("corio: add_signal_handler: " + signal_name(sig) + " is handled by another event loop");
    auto shared = std::make_shared<std::function<void()>>(std::move(fn));
    if (entry* e = find(sig)) {  // replacing: the disposition is ours already
      e->fn = std::move(shared);
      e->owner = owner;
      return;
    }
    entries_.reserve(entries_.size() + 1);  // nothing below may fail after sigaction
    signal_slot& slot = g_slots[sig];
    slot.count.store(0);
    slot.fd.store(loop_->backend().wake_fd());
    struct ::sigaction sa {};
    sa.sa_handler = &on_signal;
    ::sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // Python: signal.siginterrupt(sig, False)
    struct ::sigaction previous {};
    if (::sigaction(sig, &sa, &previous) < 0) {
      const int err = errno;
      slot.fd.store(-1);
      wait_for_handlers();
      if (err == EINVAL) throw std::invalid_argument(signal_name(sig) + " cannot be caught");
      throw_os_error(err, "sigaction(" + signal_name(sig) + ")");
    }
    o.loop = loop_;
    o.previous = previous;
    entries_.push_back({sig, std::move(shared), owner});
  }

  // With g_mu held: gives `sig` back to its earlier disposition.
  void release(int sig) noexcept {
    signal_owner& o = g_owners[sig];
    ::sigaction(sig, &o.previous, nullptr);
    g_slots[sig].fd.store(-1);
    o = signal_owner{};
    wait_for_handlers();
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (entries_[i].sig != sig) continue;
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }

  bool empty() const noexcept { return entries_.empty(); }

  // Loop thread: one callback per caught signal, through the ready queue.
  void dispatch() {
    for (const entry& e : entries_) {
      for (std::uint32_t n = g_slots[e.sig].count.exchange(0); n > 0; --n) {
        handle_node* h = make_handle_node<handle_node>([fn = e.fn] { (*fn)(); });
        loop_->schedule_handle(h);
        h->release();  // the queue holds it
      }
    }
  }

  // Loop close (Python's close() removes every signal handler).
  void on_loop_close() noexcept override {
    {
      std::lock_guard lk(g_mu);
      while (!entries_.empty()) release(entries_.back().sig);
    }
    loop_->signals_ = nullptr;
    delete this;
  }

  // With g_mu held, once empty.
  void destroy() noexcept {
    loop_->remove_resource(this);
    loop_->signals_ = nullptr;
    delete this;
  }

 private:
  ~signal_set() = default;
  loop_core* loop_;
  std::vector<entry> entries_;
};

void loop_core::take_signals() {
  signal_epoch_seen_ = g_signal_epoch.load(std::memory_order_acquire);
  signals_->dispatch();
}

namespace {

void add_handler(loop_core& loop, int sig, std::function<void()> fn, const void* owner) {
  check_signal(sig);
  loop.check_open();
  loop.check_thread("add_signal_handler");
  std::lock_guard lk(g_mu);
  const bool made = loop.signals_ == nullptr;
  if (made) loop.signals_ = new signal_set(&loop);
  try {
    loop.signals_->add(sig, bind_to_current_context(std::move(fn)), owner);
  } catch (...) {
    if (made && loop.signals_->empty()) loop.signals_->destroy();
    throw;
  }
}

// Removes the handler of `sig` if `owner` installed it (null: the user).
bool remove_handler(loop_core& loop, int sig, const void* owner) noexcept {
  std::lock_guard lk(g_mu);
  signal_set* set = loop.signals_;
  if (!set) return false;
  signal_set::entry* e = set->find(sig);
  if (!e || e->owner != owner) return false;
  set->release(sig);
  if (set->empty()) set->destroy();
  return true;
}

}  // namespace

void signals_fork_prepare() noexcept { g_mu.lock(); }
void signals_fork_parent() noexcept { g_mu.unlock(); }

// The child's loops are the parent's and will not run there: each signal a
// loop caught gets back the disposition it had before, so that (say)
// terminate() still ends a child forked from a program that handles SIGTERM.
void signals_fork_child() noexcept {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (!g_owners[sig].loop) continue;
    g_slots[sig].fd.store(-1);
    g_slots[sig].count.store(0);
    ::sigaction(sig, &g_owners[sig].previous, nullptr);
    g_owners[sig] = signal_owner{};
  }
  g_mu.unlock();
}

void add_owned_signal_handler(loop_core& loop, int sig, std::function<void()> fn, const void* owner) {
  add_handler(loop, sig, std::move(fn), owner);
}

bool remove_owned_signal_handler(loop_core& loop, int sig, const void* owner) noexcept {
  return remove_handler(loop, sig, owner);
}

}  // namespace detail

void event_loop::set_signal_handler(int sig, std::function<void()> fn) {
  detail::add_handler(*this, sig, std::move(fn), nullptr);
}

bool event_loop::remove_signal_handler(int sig) {
  detail::check_signal_number(sig);
  check_thread("remove_signal_handler");
  return detail::remove_handler(*this, sig, nullptr);
}

}  // namespace corio

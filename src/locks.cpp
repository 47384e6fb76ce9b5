#include <corio/locks.hpp>

#include <corio/detail/repr.hpp>

#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>

namespace corio {

namespace detail {

void bind_primitive(std::uint32_t& bound, std::uint32_t loop_ref, const char* what) {
  if (bound == 0 || loop_from_ref(bound) == nullptr) {
    bound = loop_ref;
    return;
  }
  if (bound != loop_ref) throw std::runtime_error(std::string(what) + " is bound to a different event loop");
}

namespace {
using cancel_hook = bool (*)(suspend_point*, task_base*, const std::string&);
cancel_hook hook_of(wait_kind k) noexcept {
  switch (k) {
    case wait_kind::lock: return &sync_waiter::on_cancel_in<wait_kind::lock>;
    case wait_kind::event: return &sync_waiter::on_cancel_in<wait_kind::event>;
    case wait_kind::condition: return &sync_waiter::on_cancel_in<wait_kind::condition>;
    case wait_kind::semaphore: return &sync_waiter::on_cancel_in<wait_kind::semaphore>;
    case wait_kind::queue_get: return &sync_waiter::on_cancel_in<wait_kind::queue_get>;
    case wait_kind::queue_put: return &sync_waiter::on_cancel_in<wait_kind::queue_put>;
    case wait_kind::stream_reader: return &sync_waiter::on_cancel_in<wait_kind::stream_reader>;
  }
  return nullptr;
}
}  // namespace

bool sync_waiter::on_cancel(suspend_point* sp, task_base* t, const std::string&) {
  auto* w = static_cast<sync_waiter*>(sp);
  // Already woken: the wake-up stands (Python: cancelling a done future
  // fails), and the cancel is delivered when the task resumes.
  if (w->woken) return false;
  if (w->list) w->list->remove(w);
  w->cancelled = true;
  t->loop()->wake(t);
  return true;
}

bool sync_wait_kind(bool (*cancel)(suspend_point*, task_base*, const std::string&), wait_kind& out) noexcept {
  for (wait_kind k : {wait_kind::lock, wait_kind::event, wait_kind::condition, wait_kind::semaphore,
                      wait_kind::queue_get, wait_kind::queue_put, wait_kind::stream_reader}) {
    if (cancel == hook_of(k)) {
      out = k;
      return true;
    }
  }
  return false;
}

void sync_waiter::throw_cancel() const {
  if (cancelled) throw_pending_cancel(task);
  deliver_cancel(task);
}

}  // namespace detail

// -- lock ----------------------------------------------------------------------

void lock::release() {
  detail::check_confined(loop_ref_, "Lock.release");
  if (!locked_) throw std::runtime_error("Lock is not acquired.");
  locked_ = false;
  waiters_.wake_head();
}

void lock::after_wait(awaiter* w) {
  waiters_.remove(w);
  if (CORIO_UNLIKELY(w->cancel_due())) {
    // SY-06: a woken waiter that is cancelled passes the wake-up on, so the
    // lock is never left unclaimed while others wait.
    if (!locked_) waiters_.wake_head();
    w->throw_cancel();
  }
  locked_ = true;
}

void lock::abandon(awaiter* w) noexcept {
  // The waiting frame is being destroyed (its loop closed).
  const bool woken = w->woken;
  waiters_.remove(w);
  if (woken && !locked_) waiters_.wake_head();
}

// -- condition -------------------------------------------------------------------

struct condition::notified : detail::sync_waiter {
  condition* owner;
  explicit notified(condition* c) noexcept : owner(c) {}
  ~notified() { owner->waiters_.remove(this); }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    detail::wait_on<detail::wait_kind::condition>(owner->waiters_, this, h, owner->loop_ref_, "Condition");
  }
  void await_resume() {
    owner->waiters_.remove(this);
    if (cancel_due()) throw_cancel();
  }
};

struct condition::notified_op {
  condition* c;
  using corio_awaitable = void;
  notified operator co_await() const noexcept { return notified(c); }
};

task<bool> condition::wait() {
  if (!locked()) throw std::runtime_error("cannot wait on un-acquired lock");  // SY-10
  release();
  std::exception_ptr err;
  try {
    co_await notified_op{this};
  } catch (...) {
    err = std::current_exception();
  }
  // SY-11, SY-12: the lock is reacquired before returning, even when the wait
  // or the reacquiring itself is cancelled.
  for (;;) {
    try {
      co_await lock_->acquire();
      break;
    } catch (const cancelled_error&) {
      err = std::current_exception();
    }
  }
  if (err) {
    // A notification this task may already have consumed goes to another
    // waiter instead (a spurious wake-up is allowed; a lost one is not).
    wake(1);
    std::rethrow_exception(err);
  }
  co_return true;
}

void condition::notify(std::size_t n) {
  detail::check_confined(loop_ref_, "Condition.notify");
  if (!locked()) throw std::runtime_error("cannot notify on un-acquired lock");  // SY-10
  wake(n);
}

void condition::notify_all() {
  detail::check_confined(loop_ref_, "Condition.notify_all");
  if (!locked()) throw std::runtime_error("cannot notify on un-acquired lock");
  waiters_.wake_all();
}

void condition::wake(std::size_t n) noexcept {
  for (std::size_t i = 0; i < n && waiters_.wake_first(); ++i) {
  }
}

// -- semaphores ------------------------------------------------------------------

semaphore::semaphore(std::int64_t value) : semaphore(value, std::numeric_limits<std::int64_t>::max()) {}

semaphore::semaphore(std::int64_t value, std::int64_t bound) : value_(value), bound_(bound) {
  if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
}

void semaphore::release() {
  detail::check_confined(loop_ref_, "Semaphore.release");
  // The bound lives here, not in bounded_semaphore, so that code written for
  // any semaphore keeps it: one compare, no virtual call.
  if (CORIO_UNLIKELY(value_ >= bound_)) throw_over_release();
  ++value_;
  wake_next();
}

void semaphore::throw_over_release() const {
  if (bound_ == std::numeric_limits<std::int64_t>::max())
    throw std::overflow_error("Semaphore release: the value would overflow");
  throw std::invalid_argument("BoundedSemaphore released too many times");  // SY-18
}

bool semaphore::wake_next() noexcept {
  // The permit goes to the woken waiter now (Python: _wake_up_next).
  for (detail::sync_waiter* w = waiters_.head; w; w = w->next) {
    if (!w->woken) {
      --value_;
      detail::waiter_list::wake(w);
      return true;
    }
  }
  return false;
}

void semaphore::wake_allowed() noexcept {
  while (value_ > 0 && wake_next()) {
  }
}

void semaphore::after_wait(awaiter* w) {
  waiters_.remove(w);
  if (CORIO_UNLIKELY(w->cancel_due())) {
    if (w->woken) ++value_;  // SY-17: a cancelled waiter gives its permit back
    wake_allowed();
    w->throw_cancel();
  }
  wake_allowed();  // newcomers that queued behind us while permits were free
}

void semaphore::abandon(awaiter* w) noexcept {
  const bool woken = w->woken;
  waiters_.remove(w);
  if (woken) {
    ++value_;
    wake_allowed();
  }
}

// -- barrier ----------------------------------------------------------------------

barrier::barrier(std::size_t parties) : parties_(parties) {
  if (parties < 1) throw std::invalid_argument("parties must be > 0");
}

task<> barrier::block() {
  // Wait while the barrier drains or resets (SY-20).
  co_await cond_.wait_for([this] { return state_ != state::draining && state_ != state::resetting; });
  if (state_ == state::broken) throw broken_barrier_error("Barrier aborted");
}

task<> barrier::wait_released() {
  co_await cond_.wait_for([this] { return state_ != state::filling; });
  if (state_ == state::broken || state_ == state::resetting) throw broken_barrier_error("Abort or reset of barrier");
}

void barrier::exit() noexcept {
  // The last task out lets the next cycle in.
  if (count_ == 0) {
    if (state_ == state::resetting || state_ == state::draining) state_ = state::filling;
    cond_.notify_all();  // still under the lock: exit() runs inside wait()
  }
}

task<std::size_t> barrier::wait() {
  auto guard = co_await cond_.scoped();
  co_await block();
  const std::size_t index = count_++;
  std::exception_ptr err;
  try {
    if (index + 1 == parties_) {
      state_ = state::draining;  // the last arrival releases everyone
      cond_.notify_all();
    } else {
      co_await wait_released();
    }
  } catch (...) {
    err = std::current_exception();
  }
  // SY-21: a waiter that leaves (cancelled, say) only lowers the count.
  --count_;
  exit();
  if (err) std::rethrow_exception(err);
  co_return index;
}

task<> barrier::reset() {
  auto guard = co_await cond_.scoped();
  if (count_ > 0) {
    state_ = state::resetting;  // current waiters raise BrokenBarrierError
  } else {
    state_ = state::filling;
  }
  cond_.notify_all();
}

task<> barrier::abort() {
  auto guard = co_await cond_.scoped();
  state_ = state::broken;
  cond_.notify_all();
}

// -- text forms (Python: the __repr__ of asyncio/locks.py) -------------------

namespace {

std::size_t count_waiters(const detail::waiter_list& l) noexcept {
  std::size_t n = 0;
  for (const detail::sync_waiter* w = l.head; w; w = w->next) ++n;
  return n;
}

// `<name object at 0x... [state, waiters:n]>`; waiters only if there are some.
std::ostream& write_primitive(std::ostream& os, const char* name, const void* self, const char* state,
                              std::int64_t value, std::size_t waiters) {
  os << '<' << name << " object at ";
  detail::write_address(os, self);
  os << " [" << state;
  if (value >= 0) os << ", value:" << value;
  if (waiters != 0) os << ", waiters:" << waiters;
  return os << "]>";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const lock& l) {
  return write_primitive(os, "corio::lock", &l, l.locked_ ? "locked" : "unlocked", -1, count_waiters(l.waiters_));
}

std::ostream& operator<<(std::ostream& os, const event& e) {
  return write_primitive(os, "corio::event", &e, e.value_ ? "set" : "unset", -1, count_waiters(e.waiters_));
}

std::ostream& operator<<(std::ostream& os, const condition& c) {
  return write_primitive(os, "corio::condition", &c, c.locked() ? "locked" : "unlocked", -1,
                         count_waiters(c.waiters_));
}

std::ostream& operator<<(std::ostream& os, const semaphore& s) {
  const char* name =
      s.bound_ == std::numeric_limits<std::int64_t>::max() ? "corio::semaphore" : "corio::bounded_semaphore";
  const bool locked = s.locked();
  return write_primitive(os, name, &s, locked ? "locked" : "unlocked", locked ? -1 : s.value_,
                         count_waiters(s.waiters_));
}

std::ostream& operator<<(std::ostream& os, const barrier& b) {
  static constexpr const char* kStates[] = {"filling", "draining", "resetting", "broken"};
  os << "<corio::barrier object at ";
  detail::write_address(os, &b);
  os << " [" << kStates[static_cast<int>(b.state_)];
  if (!b.broken()) os << ", waiters:" << b.n_waiting() << '/' << b.parties_;
  return os << "]>";
}

}  // namespace corio

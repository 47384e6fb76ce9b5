#include <corio/threading/condition.hpp>

#include <corio/detail/repr.hpp>
#include <corio/threading/detail/futex.hpp>

#include <cstdint>
#include <limits>
#include <ostream>
#include <stdexcept>

namespace corio::threading {

// One waiting thread: lives on its stack for the duration of the wait.
struct condition::waiter {
  detail::futex_word state{0};  // 0 waiting, 1 notified
  waiter* prev = nullptr;
  waiter* next = nullptr;
  bool queued = false;  // in the list (under mu_)
};

condition::condition() : own_(std::make_unique<rlock>()), rec_(own_.get()) {}

condition::~condition() = default;

void condition::link(waiter* w) noexcept {
  w->queued = true;
  w->prev = tail_;
  w->next = nullptr;
  if (tail_) {
    tail_->next = w;
  } else {
    head_ = w;
  }
  tail_ = w;
}

void condition::unlink(waiter* w) noexcept {
  (w->prev ? w->prev->next : head_) = w->next;
  (w->next ? w->next->prev : tail_) = w->prev;
  w->queued = false;
}

bool condition::wait_deadline(detail::clock::time_point deadline) {
  if (!owned()) throw std::runtime_error("cannot wait on un-acquired lock");
  waiter w;
  // In the list before the lock goes: a notify made as soon as the lock is
  // free must find this waiter.
  {
    std::lock_guard g(mu_);
    link(&w);
  }
  rlock::saved_state saved{};
  try {
    if (rec_) {
      saved = rec_->release_save();
    } else {
      plain_->release();
    }
  } catch (...) {
    std::lock_guard g(mu_);  // another thread released the lock under us
    unlink(&w);
    throw;
  }

  bool notified = true;
  while (w.state.load(std::memory_order_acquire) == 0) {
    if (detail::futex_wait_until(w.state, 0, deadline)) continue;
    std::lock_guard g(mu_);
    if (w.queued) {
      unlink(&w);
      notified = false;
      break;
    }
    // A notify has taken this waiter off the list and is about to set its
    // slot: the notification counts (it is never lost to a timeout), so wait
    // for it without a deadline; it is moments away.
    deadline = detail::clock::time_point::max();
  }

  if (rec_) {
    rec_->acquire_restore(saved);
  } else {
    plain_->acquire();
  }
  return notified;
}

void condition::notify(std::size_t n) {
  if (!owned()) throw std::runtime_error("cannot notify on un-acquired lock");
  waiter* first;
  std::size_t taken = 0;
  {
    std::lock_guard g(mu_);
    first = head_;
    while (taken < n && head_) {
      head_->queued = false;
      head_ = head_->next;
      ++taken;
    }
    if (head_) {
      head_->prev = nullptr;
    } else {
      tail_ = nullptr;
    }
  }
  // Wake outside mu_, so the woken threads do not run into it. A slot may
  // vanish the moment its state is set (its waiter returns), so the next
  // pointer is read first and the slot is not touched after.
  for (waiter* w = first; taken > 0; --taken) {
    waiter* next = w->next;
    detail::futex_word* slot = &w->state;
    slot->store(1, std::memory_order_release);
    detail::futex_wake(slot, 1);
    w = next;
  }
}

void condition::notify_all() { notify(std::numeric_limits<std::size_t>::max()); }

std::ostream& operator<<(std::ostream& os, const condition& c) {
  // Python: threading.Condition.__repr__, `<Condition(lock, waiters)>`.
  std::size_t n = 0;
  {
    std::lock_guard g(c.mu_);
    for (const condition::waiter* w = c.head_; w; w = w->next) ++n;
  }
  os << "<Condition(";
  if (c.rec_)
    os << *c.rec_;
  else
    os << *c.plain_;
  return os << ", " << n << ")>";
}

}  // namespace corio::threading

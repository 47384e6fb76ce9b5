// The slow paths of corio::futures::future's shared state: sleeping on the
// state word, completing a future that has callbacks or waiters, cancelling,
// and the lists of callbacks and wait registrations.
#include <corio/futures/future.hpp>

#include <corio/detail/repr.hpp>

#include <cxxabi.h>

#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>

namespace corio::futures::detail {

// -- errors --------------------------------------------------------------------------

void throw_invalid_state(const char* what) { throw invalid_state_error(what); }

void throw_timeout(const char* what) { throw timeout_error(std::string(what) + ": the future is not done within the timeout"); }

void throw_empty_handle(const char* what) {
  throw std::invalid_argument(std::string(what) + ": a future handle is empty (moved from)");
}

void log_callback_exception(const void* future_id, std::exception_ptr e) noexcept {
  try {
    std::fprintf(stderr, "corio::futures: exception calling callback for future %p: %s\n", future_id,
                 describe_exception(e).c_str());
  } catch (...) {
    std::fputs("corio::futures: exception calling a done callback (could not be described)\n", stderr);
  }
}

// -- waiting -------------------------------------------------------------------------

bool state_base::wait_slow(const clock::time_point* deadline) const noexcept {
  auto* w_atomic = const_cast<std::atomic<std::uint32_t>*>(&word);
  const clock::time_point until = deadline ? *deadline : clock::time_point::max();
  std::uint32_t w = word.load(std::memory_order_acquire);
  for (;;) {
    if (is_done(w)) return true;
    if (deadline && clock::now() >= *deadline) return false;
    if (!(w & f_sleepers)) {
      // Tell completers to wake us; they skip the system call otherwise.
      if (!w_atomic->compare_exchange_weak(w, w | f_sleepers, std::memory_order_acquire, std::memory_order_acquire))
        continue;
      w |= f_sleepers;
    }
    futex_wait_until(word, w, until);
    w = word.load(std::memory_order_acquire);
  }
}

// -- completing ----------------------------------------------------------------------

void state_base::lock_any() noexcept {
  std::uint32_t w = word.load(std::memory_order_relaxed);
  backoff b;
  for (;;) {
    if (w & f_locked) {
      b.pause();
      w = word.load(std::memory_order_relaxed);
    } else if (word.compare_exchange_weak(w, w | f_locked, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
  }
}

void state_base::publish_slow(std::uint32_t final_bits) noexcept {
  callback_node* cbs = std::exchange(callbacks, nullptr);
  wait_node* ns = std::exchange(nodes, nullptr);
  // Publish the final state but keep the lock while the wait nodes fire: a
  // waiter woken by its node sees the future done, and cannot free the node
  // before we are through with it (unregistering takes the lock).
  std::uint32_t w = word.load(std::memory_order_relaxed);
  while (!word.compare_exchange_weak(w, (w & ~(st_mask | f_sleepers | f_lists)) | final_bits, std::memory_order_release,
                                     std::memory_order_relaxed)) {
  }
  const outcome how = (final_bits & st_mask) != st_finished ? outcome::cancelled
                      : (final_bits & f_exception)          ? outcome::exception
                                                            : outcome::value;
  for (wait_node* n = ns; n;) {
    wait_node* nx = n->next;
    n->linked = false;
    n->prev = n->next = nullptr;
    n->fire(n, how);
    n = nx;
  }
  unlock();
  if (w & f_sleepers) futex_wake_all(&word);
  // Callbacks were pushed newest first; run them in registration order (CF-05).
  callback_node* ordered = nullptr;
  while (cbs) {
    callback_node* nx = cbs->next;
    cbs->next = ordered;
    ordered = cbs;
    cbs = nx;
  }
  while (ordered) {
    callback_node* nx = ordered->next;
    ordered->fire(ordered, this);
    ordered = nx;
  }
}

bool state_base::finish_plain_slow() noexcept {
  if (!lock_if_settable()) return false;
  publish(st_finished);
  return true;
}

bool state_base::cancel() noexcept {
  std::uint32_t w = word.load(std::memory_order_relaxed);
  backoff b;
  for (;;) {
    const std::uint32_t st = w & st_mask;
    if (st == st_running || st == st_finished) return false;
    if (st == st_cancelled || st == st_cancelled_notified) return true;
    if (w & f_locked) {
      b.pause();
      w = word.load(std::memory_order_relaxed);
      continue;
    }
    if (w & f_lists) {
      if (!word.compare_exchange_weak(w, w | f_locked, std::memory_order_acquire, std::memory_order_relaxed)) continue;
      publish_slow(st_cancelled);
      return true;
    }
    if (word.compare_exchange_weak(w, (w & ~(st_mask | f_sleepers)) | st_cancelled, std::memory_order_release,
                                   std::memory_order_relaxed)) {
      if (w & f_sleepers) futex_wake_all(&word);
      return true;
    }
  }
}

bool state_base::set_running_or_notify_cancel() {
  std::uint32_t w = word.load(std::memory_order_relaxed);
  backoff b;
  for (;;) {
    const std::uint32_t st = w & st_mask;
    if (w & f_locked) {
      // A completion or a list change is in progress: let it finish first.
      b.pause();
      w = word.load(std::memory_order_relaxed);
      continue;
    }
    if (st == st_pending) {
      if (word.compare_exchange_weak(w, (w & ~st_mask) | st_running, std::memory_order_acquire,
                                     std::memory_order_relaxed))
        return true;
    } else if (st == st_cancelled) {
      // Waiters were told at cancel() already (a cancelled future counts as
      // done at once); this only records that the executor saw it.
      if (word.compare_exchange_weak(w, (w & ~st_mask) | st_cancelled_notified, std::memory_order_acquire,
                                     std::memory_order_relaxed))
        return false;
    } else {
      throw_invalid_state(st == st_running                ? "set_running_or_notify_cancel: the future is already running"
                          : st == st_cancelled_notified ? "set_running_or_notify_cancel: the cancellation was already notified"
                                                        : "set_running_or_notify_cancel: the future is already finished");
    }
  }
}

void state_base::set_exception(std::exception_ptr e) {
  if (!e) throw std::invalid_argument("set_exception: the exception_ptr is null");
  if (!lock_if_settable()) throw_invalid_state("set_exception: the future is already done");
  exc = std::move(e);
  publish(st_finished | f_exception);
}

bool state_base::try_set_exception(std::exception_ptr e) noexcept {
  if (!lock_if_settable()) return false;
  exc = std::move(e);
  publish(st_finished | f_exception);
  return true;
}

// -- lists ---------------------------------------------------------------------------

bool state_base::add_callback(callback_node* n) noexcept {
  lock_any();
  if (done()) {
    unlock();
    return false;
  }
  n->next = callbacks;
  callbacks = n;
  word.fetch_or(f_lists, std::memory_order_relaxed);
  unlock();
  return true;
}

bool state_base::add_node(wait_node* n) noexcept {
  lock_any();
  if (done()) {
    unlock();
    return false;
  }
  n->prev = nullptr;
  n->next = nodes;
  if (nodes) nodes->prev = n;
  nodes = n;
  n->linked = true;
  word.fetch_or(f_lists, std::memory_order_relaxed);
  unlock();
  return true;
}

void state_base::remove_node(wait_node* n) noexcept {
  lock_any();
  if (n->linked) {
    if (n->prev)
      n->prev->next = n->next;
    else
      nodes = n->next;
    if (n->next) n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    n->linked = false;
    if (!nodes && !callbacks) word.fetch_and(~f_lists, std::memory_order_relaxed);
  }
  unlock();
}

void state_base::destroy_callbacks() noexcept {
  // The future was never completed: its callbacks never run (as in Python).
  while (callbacks) {
    callback_node* nx = callbacks->next;
    callbacks->fire(callbacks, nullptr);
    callbacks = nx;
  }
}

// -- reading -------------------------------------------------------------------------

void state_base::throw_outcome(std::uint32_t w) const {
  const std::uint32_t st = w & st_mask;
  if (st == st_cancelled || st == st_cancelled_notified) throw cancelled_error("the future was cancelled");
  if (st != st_finished) throw_invalid_state("the future is not done yet");
  if (w & f_exception) std::rethrow_exception(exc);
  throw_invalid_state("the future's result was already taken");
}

void state_base::mark_taken() {
  if (word.fetch_or(f_taken, std::memory_order_acq_rel) & f_taken)
    throw_invalid_state("the future's result was already taken");
}

std::exception_ptr state_base::exception_of() const {
  const std::uint32_t w = word.load(std::memory_order_acquire);
  const std::uint32_t st = w & st_mask;
  if (st == st_cancelled || st == st_cancelled_notified) throw cancelled_error("the future was cancelled");
  if (st != st_finished) throw_invalid_state("the future is not done yet");
  return (w & f_exception) ? exc : nullptr;
}

void write_future(std::ostream& os, const state_base* s, const std::type_info& value_type) {
  if (s == nullptr) {
    os << "<Future (empty)>";
    return;
  }
  static constexpr const char* kStates[] = {"pending", "running", "cancelled", "cancelled", "finished"};
  const std::uint32_t w = s->word.load(std::memory_order_acquire);
  os << "<Future at ";
  corio::detail::write_address(os, s);
  os << " state=" << kStates[w & state_base::st_mask];
  if ((w & state_base::st_mask) == state_base::st_finished) {
    if (w & state_base::f_exception) {
      const std::type_info* t = nullptr;
      try {
        std::rethrow_exception(s->exc);
      } catch (...) {
        t = abi::__cxa_current_exception_type();
      }
      os << " raised " << (t ? corio::detail::type_name(*t) : std::string("exception"));
    } else {
      os << " returned " << (value_type == typeid(void) ? std::string("None") : corio::detail::type_name(value_type));
    }
  }
  os << '>';
}

}  // namespace corio::futures::detail

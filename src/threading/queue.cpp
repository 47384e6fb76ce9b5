// The untyped halves of the thread-safe queues: queue_core (Queue,
// LifoQueue, PriorityQueue) and simple_queue_core (SimpleQueue).
#include <corio/threading/queue.hpp>
#include <corio/threading/simple_queue.hpp>

#include <algorithm>
#include <ostream>
#include <stdexcept>
#include <string>

namespace corio::threading::detail {

// -- parking -------------------------------------------------------------------
//
// Facts relied on:
// - FUTEX_WAIT sleeps only while the word still holds `expected`, checked by
//   the kernel, so a wake-up between the caller's last look at the word and
//   its sleep is not lost.
// - FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline: the clock
//   of std::chrono::steady_clock on Linux, so the sleep ends on time however
//   often it is interrupted and resumed.
// - FUTEX_WAKE on a private futex hashes the address and reads nothing, so
//   waking a word whose owner has returned is harmless.
// - Ordering comes from the atomic operations on the word, never from the
//   system call, so ThreadSanitizer sees every happens-before edge.
// (futex_wait_until and futex_wake: threading/detail/futex.hpp.)

// -- queue_core ------------------------------------------------------------------

struct queue_waiter {
  queue_waiter* prev = nullptr;
  queue_waiter* next = nullptr;
  // Set, under the mutex, when a waker takes the waiter off its list; the
  // waiter parks on it with the mutex released.
  std::atomic<std::uint32_t> woken{0};
  bool reserved = false;  // holds an item (getter) or a slot (putter)
};

namespace {

void push_back(queue_waiter_list& l, queue_waiter* w) noexcept {
  w->prev = l.tail;
  w->next = nullptr;
  if (l.tail != nullptr)
    l.tail->next = w;
  else
    l.head = w;
  l.tail = w;
}

void remove(queue_waiter_list& l, queue_waiter* w) noexcept {
  if (w->prev != nullptr)
    w->prev->next = w->next;
  else
    l.head = w->next;
  if (w->next != nullptr)
    w->next->prev = w->prev;
  else
    l.tail = w->prev;
}

// Takes the oldest waiter off `l` and marks it woken. Returns the word to
// unpark: after unlocking on the hot paths (the waiter cannot leave before
// it has the mutex back, but may right after), or at once on cold ones.
const std::atomic<std::uint32_t>* release_front(queue_waiter_list& l, bool reserve) noexcept {
  queue_waiter* w = l.head;
  remove(l, w);
  w->reserved = reserve;
  w->woken.store(1, std::memory_order_release);
  return &w->woken;
}

// Queues `w` on `l` and waits, mutex released, until a waker takes it off
// or the deadline passes. Returns with the mutex held: true if woken (then
// it is off the list), false if it timed out (then it has left the list).
bool wait_in(std::unique_lock<std::mutex>& lk, queue_waiter_list& l, queue_waiter& w,
             clock::time_point deadline) noexcept {
  push_back(l, &w);
  lk.unlock();
  while (w.woken.load(std::memory_order_acquire) == 0) {
    if (!futex_wait_until(w.woken, 0, deadline)) break;
  }
  lk.lock();
  // Woken just as the deadline passed: the wake-up (and its reservation) wins.
  if (w.woken.load(std::memory_order_relaxed) != 0) return true;
  remove(l, &w);
  return false;
}

}  // namespace

void queue_core::write_repr(std::ostream& os, int order, void (*items)(std::ostream&, const void* store),
                            const void* store) const {
  static constexpr const char* kNames[] = {"corio::threading::queue", "corio::threading::lifo_queue",
                                           "corio::threading::priority_queue"};
  const auto count = [](const queue_waiter_list& l) {
    std::size_t n = 0;
    for (const queue_waiter* w = l.head; w; w = w->next) ++n;
    return n;
  };
  std::lock_guard lk(mu_);
  os << '<' << kNames[order] << " maxsize=" << maxsize_ << " qsize=" << size_;
  items(os, store);
  if (const std::size_t n = count(getters_)) os << " getters=" << n;
  if (const std::size_t n = count(putters_)) os << " putters=" << n;
  if (unfinished_ != 0) os << " tasks=" << unfinished_;
  if (shutdown_) os << " shutdown";
  os << '>';
}

std::size_t queue_core::qsize() const {
  std::lock_guard lk(mu_);
  return size_;
}

bool queue_core::empty() const {
  std::lock_guard lk(mu_);
  return available() == 0;
}

bool queue_core::full() const {
  std::lock_guard lk(mu_);
  return !has_room();
}

std::size_t queue_core::unfinished_tasks() const {
  std::lock_guard lk(mu_);
  return unfinished_;
}

bool queue_core::is_shut_down() const {
  std::lock_guard lk(mu_);
  return shutdown_;
}

void queue_core::wait_for_room(lock_type& lk, bool block, clock::time_point deadline) {
  if (shutdown_) throw queue_shut_down();
  if (has_room()) return;
  if (!block) throw queue_full();
  queue_waiter w;
  if (!wait_in(lk, putters_, w, deadline)) throw queue_full();
  if (w.reserved) --reserved_slots_;
  // A putter woken by shutdown, or woken by a get just before it: every
  // putter is off the list by now, so the slot goes to nobody (TQ-07).
  if (shutdown_) throw queue_shut_down();
}

void queue_core::wait_for_item(lock_type& lk, bool block, clock::time_point deadline) {
  if (available() != 0) return;
  if (shutdown_) throw queue_shut_down();
  if (!block) throw queue_empty();
  queue_waiter w;
  if (!wait_in(lk, getters_, w, deadline)) throw queue_empty();
  if (w.reserved && !drained_) --reserved_items_;
  // Woken by shutdown with nothing left, or its item drained by
  // shutdown(immediate) (TQ-07).
  if (available() == 0) throw queue_shut_down();
}

const std::atomic<std::uint32_t>* queue_core::item_added() noexcept {
  ++size_;
  ++unfinished_;
  if (getters_.head == nullptr) return nullptr;
  ++reserved_items_;
  return release_front(getters_, true);
}

const std::atomic<std::uint32_t>* queue_core::item_removed() noexcept {
  --size_;
  if (putters_.head == nullptr || !has_room()) return nullptr;
  ++reserved_slots_;
  return release_front(putters_, true);
}

void queue_core::pass_on() noexcept {
  while (getters_.head != nullptr && available() != 0) {
    ++reserved_items_;
    futex_wake(release_front(getters_, true), 1);
  }
  while (putters_.head != nullptr && has_room()) {
    ++reserved_slots_;
    futex_wake(release_front(putters_, true), 1);
  }
}

void queue_core::wake_joiners() noexcept {
  while (joiners_.head != nullptr) futex_wake(release_front(joiners_, false), 1);
}

void queue_core::shut_down_locked(bool immediate) noexcept {
  shutdown_ = true;
  if (immediate) {
    // The drained items count as done (TQ-07, as QU-12); the items reserved
    // for woken getters are gone too, which those getters find out.
    unfinished_ -= std::min(size_, unfinished_);
    size_ = 0;
    reserved_items_ = 0;
    drained_ = true;
    if (unfinished_ == 0) wake_joiners();
  }
  // Every waiting thread re-checks and meets the shutdown.
  while (getters_.head != nullptr) futex_wake(release_front(getters_, false), 1);
  while (putters_.head != nullptr) futex_wake(release_front(putters_, false), 1);
}

void queue_core::task_done() {
  std::lock_guard lk(mu_);
  if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");  // TQ-03
  if (--unfinished_ == 0) wake_joiners();
}

void queue_core::join() { join_until(clock::time_point::max()); }

bool queue_core::join_until(clock::time_point deadline) {
  lock_type lk(mu_);
  if (unfinished_ == 0) return true;
  queue_waiter w;
  return wait_in(lk, joiners_, w, deadline);
}

// -- simple_queue_core -----------------------------------------------------------
//
// Why no wake-up is lost: put() does push, count_ += 1, then reads
// sleepers_; a getter does sleepers_ += 1, then reads count_, and parks on
// epoch_ with the value it read before registering. All are seq_cst, so
// either the getter sees the count (and does not park) or put() sees the
// sleeper and bumps epoch_ after the getter read it (so the park returns at
// once or is woken). A getter that sees count_ <= 0 while an item is there
// (its put has pushed but not counted yet) is covered by that put's own
// look at sleepers_, which follows its count.

std::size_t simple_queue_core::qsize() const noexcept {
  const std::ptrdiff_t n = count_.load(std::memory_order_relaxed);
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

void simple_queue_core::wake_sleeper() noexcept {
  if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake(&epoch_, 1);
}

void simple_queue_core::push(simple_node* n) noexcept {
  simple_node* top = stack_.load(std::memory_order_relaxed);
  do {
    n->next = top;
  } while (!stack_.compare_exchange_weak(top, n, std::memory_order_seq_cst, std::memory_order_relaxed));
  count_.fetch_add(1, std::memory_order_seq_cst);
  wake_sleeper();
}

void simple_queue_core::push_front(simple_node* n) noexcept {
  {
    std::lock_guard lk(mu_);
    n->next = fifo_;
    fifo_ = n;
  }
  count_.fetch_add(1, std::memory_order_seq_cst);
  wake_sleeper();
}

simple_node* simple_queue_core::try_pop() noexcept {
  std::lock_guard lk(mu_);
  if (fifo_ == nullptr && stack_.load(std::memory_order_relaxed) != nullptr) {
    simple_node* s = stack_.exchange(nullptr, std::memory_order_acquire);
    while (s != nullptr) {  // newest first -> oldest first
      simple_node* next = s->next;
      s->next = fifo_;
      fifo_ = s;
      s = next;
    }
  }
  simple_node* n = fifo_;
  if (n != nullptr) {
    fifo_ = n->next;
    count_.fetch_sub(1, std::memory_order_relaxed);
  }
  return n;
}

simple_node* simple_queue_core::pop(bool block, clock::time_point deadline) {
  for (;;) {
    if (simple_node* n = try_pop()) return n;
    if (!block) throw queue_empty();
    const std::uint32_t seen = epoch_.load(std::memory_order_seq_cst);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    bool timed_out = false;
    if (count_.load(std::memory_order_seq_cst) <= 0) timed_out = !futex_wait_until(epoch_, seen, deadline);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    if (timed_out) {
      // Python looks once more after the wait ends; so does this.
      if (simple_node* n = try_pop()) return n;
      throw queue_empty();
    }
  }
}

simple_node* simple_queue_core::release_all() noexcept {
  simple_node* s = stack_.exchange(nullptr, std::memory_order_acquire);
  simple_node* rest = nullptr;  // the stack, oldest first
  while (s != nullptr) {
    simple_node* next = s->next;
    s->next = rest;
    rest = s;
    s = next;
  }
  simple_node** tail = &fifo_;
  while (*tail != nullptr) tail = &(*tail)->next;
  *tail = rest;
  simple_node* all = fifo_;
  fifo_ = nullptr;
  count_.store(0, std::memory_order_relaxed);
  return all;
}

}  // namespace corio::threading::detail

// The work queue of an executor: an intrusive multi-producer queue (D.
// Vyukov's MPSC node queue) whose consumers take turns under a small lock.
// Not for users.
//
// A push is one atomic exchange and one store: submitting never takes a lock
// and never makes a system call. Items are the futures' own blocks
// (work_link), so queueing allocates nothing. Each pop takes one item, so a
// call that waits for another queued call can never hold it hostage.
#pragma once

#include <corio/futures/detail/future_state.hpp>

#include <atomic>

namespace corio::futures::detail {

class work_queue {
 public:
  work_queue() noexcept : tail_(&stub_), head_(&stub_) {}
  work_queue(const work_queue&) = delete;
  work_queue& operator=(const work_queue&) = delete;

  /// Any thread. Sequentially consistent, so that a consumer about to sleep
  /// either sees the item or is seen sleeping by the producer.
  void push(work_link* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    work_link* prev = tail_.exchange(n, std::memory_order_seq_cst);
    prev->next.store(n, std::memory_order_release);
  }

  /// Any thread, no lock: a hint that something is queued or being queued.
  bool hint_nonempty() const noexcept {
    return tail_.load(std::memory_order_relaxed) != &stub_ || head_.load(std::memory_order_relaxed) != &stub_;
  }

  /// Consumers, one at a time (lock_consumer): true if nothing is queued
  /// and no push is under way.
  bool empty() const noexcept {
    return head_.load(std::memory_order_relaxed) == &stub_ && tail_.load(std::memory_order_seq_cst) == &stub_;
  }

  /// Consumers, one at a time: the oldest item, or nullptr if the queue is
  /// empty or its first push is half done (then empty() is false: retry).
  work_link* try_pop() noexcept {
    work_link* head = head_.load(std::memory_order_relaxed);
    work_link* next = head->next.load(std::memory_order_acquire);
    if (head == &stub_) {
      if (!next) return nullptr;
      head_.store(next, std::memory_order_relaxed);
      head = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next) {
      head_.store(next, std::memory_order_relaxed);
      return head;
    }
    if (tail_.load(std::memory_order_acquire) != head) return nullptr;  // a push is under way
    push(&stub_);
    next = head->next.load(std::memory_order_acquire);
    if (next) {
      head_.store(next, std::memory_order_relaxed);
      return head;
    }
    return nullptr;
  }

  void lock_consumer() noexcept {
    backoff b;
    while (consumer_lock_.exchange(true, std::memory_order_acquire)) {
      while (consumer_lock_.load(std::memory_order_relaxed)) b.pause();
    }
  }
  void unlock_consumer() noexcept { consumer_lock_.store(false, std::memory_order_release); }

  /// Takes one item under the consumer lock; nullptr as try_pop().
  state_base* pop() noexcept {
    lock_consumer();
    work_link* n = try_pop();
    unlock_consumer();
    return static_cast<state_base*>(n);
  }

  /// Under the consumer lock: empty().
  bool empty_now() noexcept {
    lock_consumer();
    const bool e = empty();
    unlock_consumer();
    return e;
  }

 private:
  alignas(64) std::atomic<work_link*> tail_;  // producers
  alignas(64) std::atomic<work_link*> head_;  // consumers (atomic only so hint_nonempty may peek)
  std::atomic<bool> consumer_lock_{false};
  work_link stub_;
};

}  // namespace corio::futures::detail

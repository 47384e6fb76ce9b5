// Python: queue.SimpleQueue (Lib/queue.py, Modules/_queuemodule.c): an
// unbounded thread-safe FIFO without task tracking, whose put() never
// blocks and may be called from anywhere, even from code that runs inside
// another call on the same queue (TQ-05).
//
// Producers push onto a lock-free stack (newest first). Consumers, under a
// mutex of their own, take the whole stack at once when their FIFO list runs
// dry and reverse it, so items leave in the order their pushes took effect;
// taking the whole stack with one exchange leaves no ABA problem. A getter
// that finds nothing registers as a sleeper, then looks again before it
// parks, and put() looks for sleepers after its push: one of the two always
// sees the other, so no wake-up is lost, and put() makes a system call only
// when a getter sleeps.
#pragma once

#include <corio/threading/queue.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <utility>

namespace corio::threading {

namespace detail {

struct simple_node {
  simple_node* next = nullptr;
};

// The untyped half of simple_queue (src/threading/queue.cpp).
class simple_queue_core {
 public:
  simple_queue_core(const simple_queue_core&) = delete;
  simple_queue_core& operator=(const simple_queue_core&) = delete;

  std::size_t qsize() const noexcept;
  bool empty() const noexcept { return qsize() == 0; }

 protected:
  simple_queue_core() noexcept = default;
  ~simple_queue_core() = default;

  // Lock-free: one compare-and-swap loop, then a wake-up if a getter sleeps.
  void push(simple_node* n) noexcept;
  // The oldest node; waits for one if `block`, until `deadline`; else
  // throws queue_empty.
  simple_node* pop(bool block, clock::time_point deadline);
  // Gives back a node whose item could not be moved out, as the oldest.
  void push_front(simple_node* n) noexcept;
  // Every node, oldest first, for the destructor (no other thread may run).
  simple_node* release_all() noexcept;

 private:
  simple_node* try_pop() noexcept;
  void wake_sleeper() noexcept;

  static_assert(std::atomic<simple_node*>::is_always_lock_free);
  std::atomic<simple_node*> stack_{nullptr};  // pushed, not yet seen by a getter; newest first
  // Items pushed minus items taken. Counted after the push, so it may lag
  // behind (even dip below zero); a getter that sees <= 0 parks only because
  // the put it missed looks for sleepers after counting.
  std::atomic<std::ptrdiff_t> count_{0};
  std::atomic<std::uint32_t> sleepers_{0};
  std::atomic<std::uint32_t> epoch_{0};  // bumped to wake sleepers; they park on it
  std::mutex mu_;                        // getters only
  simple_node* fifo_ = nullptr;          // guarded by mu_; oldest first
};

}  // namespace detail

/// Python: queue.SimpleQueue. Unbounded FIFO, thread-safe, with no
/// maxsize, task_done() or join() (TQ-05). Move-only T works.
///
/// put() never blocks, takes no lock and is lock-free: it may be called
/// from T's constructor or destructor, or from any code that runs while the
/// same thread is inside get() or put() of this queue (say a destructor).
/// It allocates one node per item, so it is not async-signal-safe.
/// get() runs no user code while it holds its lock: T's move and
/// destructor run after the item has left the queue, so they too may call
/// get() or put().
///
/// A returned item is moved out and its node freed at once: the queue
/// keeps no reference to it (TQ-06). As with any object, the queue must
/// outlive the calls on it: receiving an item does not mean that its put()
/// has returned.
template <class T>
class simple_queue : private detail::simple_queue_core {
  static_assert(std::is_object_v<T> && !std::is_const_v<T>, "corio::threading::simple_queue holds non-const objects");
  static_assert(std::is_move_constructible_v<T>, "corio::threading::simple_queue needs a move-constructible T");

  struct node : detail::simple_node {
    template <class U>
    explicit node(U&& x) : value(std::forward<U>(x)) {}
    T value;
  };

 public:
  using value_type = T;

  /// Python: queue.SimpleQueue().
  simple_queue() noexcept = default;
  /// Destroys the items still in the queue; no other thread may be using it.
  ~simple_queue() {
    for (detail::simple_node* n = release_all(); n != nullptr;) {
      detail::simple_node* next = n->next;
      delete static_cast<node*>(n);
      n = next;
    }
  }

  /// Python: SimpleQueue.put(item). Never blocks; Python's block and
  /// timeout arguments, which it ignores, are left out. The item is
  /// constructed in place from the argument; if that or the allocation
  /// throws, nothing was added.
  template <class U = T>
    requires std::constructible_from<T, U&&>
  void put(U&& item) {
    push(new node(std::forward<U>(item)));
  }
  /// Python: SimpleQueue.put_nowait(item), the same as put(item).
  template <class U = T>
    requires std::constructible_from<T, U&&>
  void put_nowait(U&& item) {
    push(new node(std::forward<U>(item)));
  }

  /// Python: SimpleQueue.get(block=True, timeout=None). With block, waits
  /// for an item; without, throws queue_empty at once. If T's move throws,
  /// the item stays first in the queue.
  T get(bool block = true) { return take(pop(block, detail::clock::time_point::max())); }
  /// Python: SimpleQueue.get(timeout=t): waits at most `timeout` (measured
  /// on steady_clock), then throws queue_empty. Negative:
  /// std::invalid_argument (TQ-05).
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return take(pop(true, detail::deadline_after(timeout, "simple_queue.get()")));
  }
  // A plain number is not a timeout: say std::chrono::seconds(n), or pass a bool.
  template <class N>
    requires(std::is_arithmetic_v<N> && !std::same_as<N, bool>)
  T get(N) = delete;
  /// Python: SimpleQueue.get_nowait() = get(block=False).
  T get_nowait() { return take(pop(false, detail::clock::time_point::max())); }

  /// Python: SimpleQueue.qsize(): approximate while other threads use the
  /// queue (an item being put may not be counted yet).
  using simple_queue_core::qsize;
  /// Python: SimpleQueue.empty(): qsize() == 0, approximate in the same way.
  using simple_queue_core::empty;
  /// Text form (Python's SimpleQueue has only the default one):
  /// `<corio::threading::simple_queue qsize=2>`, qsize approximate as above;
  /// items are not listed (they are not reachable without taking them).
  /// Any thread.
  friend std::ostream& operator<<(std::ostream& os, const simple_queue& q) {
    return os << "<corio::threading::simple_queue qsize=" << q.qsize() << '>';
  }

 private:
  T take(detail::simple_node* n) {
    node* p = static_cast<node*>(n);
    T item = move_out(p);
    delete p;
    return item;
  }
  T move_out(node* p) {
    try {
      return std::move(p->value);
    } catch (...) {
      push_front(p);
      throw;
    }
  }
};

}  // namespace corio::threading

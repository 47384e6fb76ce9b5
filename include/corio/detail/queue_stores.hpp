// The storage orders of the queues: FIFO, LIFO and priority. Not for users.
// One set serves the asyncio queues (<corio/queues.hpp>) and the thread-safe
// ones (<corio/threading/queue.hpp>), which pick them by Store parameter.
//
// Each gives the strong guarantee: if emplace() or pop() throws, the store
// is as it was (TQ-04). pop() moves the item out, then destroys its slot.
// swap() exchanges the items (a thread-safe queue's shutdown(immediate)
// swaps them out, to destroy them after its mutex is released). at(i) reads
// the i-th item in storage order, as Python's reprs list a queue's deque or
// heap: a LIFO's newest item last, a priority store's in heap order.
#pragma once

#include <bit>
#include <cstddef>
#include <deque>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::detail {

// FIFO ring buffer that doubles when full, for T whose move cannot throw
// (growing relocates without a failure path).
template <class T>
class ring_store {
 public:
  ring_store() noexcept = default;
  ring_store(const ring_store&) = delete;
  ring_store& operator=(const ring_store&) = delete;
  ~ring_store() {
    while (size_ != 0) static_cast<void>(pop());
    if (buf_) std::allocator<T>().deallocate(buf_, cap_);
  }
  void swap(ring_store& o) noexcept {
    std::swap(buf_, o.buf_);
    std::swap(cap_, o.cap_);
    std::swap(head_, o.head_);
    std::swap(size_, o.size_);
  }
  std::size_t size() const noexcept { return size_; }
  // The i-th item in storage order (for reprs), i < size().
  const T& at(std::size_t i) const noexcept { return buf_[(head_ + i) & (cap_ - 1)]; }
  template <class U>
  void emplace(U&& x) {
    if (size_ == cap_) grow();
    std::construct_at(buf_ + ((head_ + size_) & (cap_ - 1)), std::forward<U>(x));
    ++size_;
  }
  T pop() noexcept {
    T* slot = buf_ + head_;
    T x(std::move(*slot));
    std::destroy_at(slot);
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return x;
  }

 private:
  void grow() {
    const std::size_t cap = cap_ != 0 ? cap_ * 2 : 16;
    T* nb = std::allocator<T>().allocate(cap);
    for (std::size_t i = 0; i < size_; ++i) {
      T* src = buf_ + ((head_ + i) & (cap_ - 1));
      std::construct_at(nb + i, std::move(*src));
      std::destroy_at(src);
    }
    if (buf_) std::allocator<T>().deallocate(buf_, cap_);
    buf_ = nb;
    cap_ = cap;
    head_ = 0;
  }
  T* buf_ = nullptr;
  std::size_t cap_ = 0;  // a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

// FIFO or LIFO over a standard sequence: std::deque never relocates items,
// so it stays strong for T whose move may throw.
template <class T, class Seq, bool Lifo>
class seq_store {
 public:
  void swap(seq_store& o) noexcept { c_.swap(o.c_); }
  std::size_t size() const noexcept { return c_.size(); }
  const T& at(std::size_t i) const noexcept { return c_[i]; }
  template <class U>
  void emplace(U&& x) {
    c_.emplace_back(std::forward<U>(x));
  }
  T pop() {
    if constexpr (Lifo) {
      T x(std::move(c_.back()));
      c_.pop_back();
      return x;
    } else {
      T x(std::move(c_.front()));
      c_.pop_front();
      return x;
    }
  }

 private:
  Seq c_;
};

// Classes, not aliases, so that the choice is made only when a queue is
// instantiated: T may still be incomplete where queue<T> is named.
template <class T>
class fifo_store
    : public std::conditional_t<std::is_nothrow_move_constructible_v<T>, ring_store<T>,
                                seq_store<T, std::deque<T>, false>> {};
template <class T>
class lifo_store : public std::conditional_t<std::is_nothrow_move_constructible_v<T>,
                                             seq_store<T, std::vector<T>, true>, seq_store<T, std::deque<T>, true>> {};

// Binary heap, smallest first by Compare. Where an item settles is found by
// comparisons alone before anything moves, so a throwing Compare leaves the
// heap as it was; the moves after that are safe when T's cannot throw.
template <class T, class Compare>
class priority_store {
 public:
  void swap(priority_store& o) noexcept { v_.swap(o.v_); }  // the items; each keeps its Compare
  std::size_t size() const noexcept { return v_.size(); }
  const T& at(std::size_t i) const noexcept { return v_[i]; }  // heap order
  template <class U>
  void emplace(U&& x) {
    v_.emplace_back(std::forward<U>(x));
    const std::size_t last = v_.size() - 1;
    std::size_t hole = last;
    try {
      while (hole > 0 && comp_(v_[last], v_[(hole - 1) / 2])) hole = (hole - 1) / 2;
    } catch (...) {
      v_.pop_back();
      throw;
    }
    if (hole == last) return;
    T item(std::move(v_[last]));
    for (std::size_t j = last; j != hole; j = (j - 1) / 2) v_[j] = std::move(v_[(j - 1) / 2]);
    v_[hole] = std::move(item);
  }
  T pop() {
    // The last item sinks from the root along the smaller children.
    const std::size_t last = v_.size() - 1;
    std::size_t hole = 0;
    for (std::size_t c = 1; c < last; c = 2 * hole + 1) {
      if (c + 1 < last && comp_(v_[c + 1], v_[c])) ++c;
      if (!comp_(v_[c], v_[last])) break;
      hole = c;
    }
    T top(std::move(v_[0]));
    if (last != 0) {
      // The path from the root to `hole`: in 1-based numbering, the
      // ancestors of k are the binary prefixes of k.
      const std::size_t k = hole + 1;
      for (int s = static_cast<int>(std::bit_width(k)) - 2; s >= 0; --s) {
        v_[(k >> (s + 1)) - 1] = std::move(v_[(k >> s) - 1]);
      }
      v_[hole] = std::move(v_[last]);
    }
    v_.pop_back();
    return top;
  }

 private:
  std::vector<T> v_;
  [[no_unique_address]] Compare comp_;
};

// Which order a store keeps (0 FIFO, 1 LIFO, 2 priority): what a queue's
// text form calls it.
template <class Store>
inline constexpr int store_order = 0;
template <class T>
inline constexpr int store_order<lifo_store<T>> = 1;
template <class T, class Compare>
inline constexpr int store_order<priority_store<T, Compare>> = 2;

}  // namespace corio::detail

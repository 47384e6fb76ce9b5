// Scheduled callbacks: what call_soon / call_later put in the ready queue and
// the timer wheel (Python: asyncio.Handle, asyncio.TimerHandle). Not for users.
#pragma once

#include <corio/detail/frame_pool.hpp>
#include <corio/detail/future_core.hpp>
#include <corio/detail/timer_wheel.hpp>

#include <new>
#include <type_traits>
#include <utility>

namespace corio::detail {

struct handle_node : runnable {
  enum : std::uint16_t { f_cancelled = 1, f_threadsafe = 2, f_done = 4 };

  void (*invoke)(handle_node*) = nullptr;       // runs the callable
  void (*drop)(handle_node*) noexcept = nullptr;  // destroys the callable
  void (*free_fn)(handle_node*) noexcept = nullptr;  // returns the memory
  context_impl* ctx = nullptr;                   // context captured at scheduling (CV-08)
  loop_core* loop = nullptr;

  explicit handle_node(node_kind k = node_kind::handle) noexcept : runnable(k) {}

  bool cancelled() const noexcept { return bits & f_cancelled; }
  void retain() noexcept { ++refs; }
  void release() noexcept {
    if (--refs == 0) {
      if (!(bits & f_done)) drop(this);
      free_fn(this);
    }
  }
  // Destroys the callable early (after it ran, or when cancelled), so what it
  // captured is freed even while user handles keep the node alive.
  void finish() noexcept {
    if (!(bits & f_done)) {
      bits |= f_done;
      drop(this);
    }
  }
};

struct timer_handle_node : handle_node, timer_node {
  timer_handle_node() noexcept : handle_node(node_kind::timer_handle) {}
};

template <class Base, class F>
struct callable_node final : Base {
  union {
    F fn;
  };
  explicit callable_node(F&& f) : Base() {
    ::new (static_cast<void*>(&fn)) F(std::move(f));
    this->invoke = [](handle_node* h) { static_cast<callable_node*>(h)->fn(); };
    this->drop = [](handle_node* h) noexcept { static_cast<callable_node*>(h)->fn.~F(); };
    this->free_fn = [](handle_node* h) noexcept {
      auto* self = static_cast<callable_node*>(h);
      self->~callable_node();
      pool_deallocate(self, sizeof(callable_node));
    };
  }
  ~callable_node() {}
};

// Allocates a handle node holding `f` (which must be invocable with no
// arguments). refs start at 1.
template <class Base, class F>
Base* make_handle_node(F&& f) {
  using D = std::decay_t<F>;
  void* mem = pool_allocate(sizeof(callable_node<Base, D>));
  try {
    return ::new (mem) callable_node<Base, D>(D(std::forward<F>(f)));
  } catch (...) {
    pool_deallocate(mem, sizeof(callable_node<Base, D>));
    throw;
  }
}

}  // namespace corio::detail

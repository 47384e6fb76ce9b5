// Scheduled callbacks: what call_soon / call_later put in the ready queue and
// the timer wheel (Python: asyncio.Handle, asyncio.TimerHandle). Not for users.
#pragma once

#include <corio/detail/frame_pool.hpp>
#include <corio/detail/future_core.hpp>
#include <corio/detail/timer_wheel.hpp>

#include <atomic>
#include <new>
#include <type_traits>
#include <utility>

namespace corio::detail {

void release_ctx_word(std::uintptr_t w) noexcept;  // context.hpp's release_word

struct handle_node : runnable {
  enum : std::uint16_t { f_cancelled = 1, f_done = 4, f_running = 8 };

  void (*invoke)(handle_node*) = nullptr;       // runs the callable
  void (*drop)(handle_node*) noexcept = nullptr;  // destroys the callable
  void (*free_fn)(handle_node*) noexcept = nullptr;  // returns the memory
  std::uintptr_t ctx = 0;                        // context captured at scheduling (CV-08)
  loop_core* loop = nullptr;

  explicit handle_node(node_kind k = node_kind::handle) noexcept : runnable(k) {}

  // A call_soon_threadsafe handle is shared with another thread (the user's
  // handle object there may cancel or drop it), so its count and flags are
  // touched atomically; every other handle stays on its loop's thread.
  bool threadsafe() const noexcept { return kind == node_kind::threadsafe_handle; }

  bool has(std::uint16_t f) const noexcept {
    if (threadsafe()) return std::atomic_ref<const std::uint16_t>(bits).load(std::memory_order_acquire) & f;
    return bits & f;
  }
  void set(std::uint16_t f) noexcept {
    if (threadsafe())
      std::atomic_ref<std::uint16_t>(bits).fetch_or(f, std::memory_order_acq_rel);
    else
      bits |= f;
  }
  void clear(std::uint16_t f) noexcept {
    if (threadsafe())
      std::atomic_ref<std::uint16_t>(bits).fetch_and(static_cast<std::uint16_t>(~f), std::memory_order_acq_rel);
    else
      bits = static_cast<std::uint16_t>(bits & ~f);
  }
  bool cancelled() const noexcept { return has(f_cancelled); }

  void retain() noexcept {
    if (threadsafe())
      std::atomic_ref<std::uint32_t>(refs).fetch_add(1, std::memory_order_relaxed);
    else
      ++refs;
  }
  void release() noexcept {
    const bool last = threadsafe() ? std::atomic_ref<std::uint32_t>(refs).fetch_sub(1, std::memory_order_acq_rel) == 1
                                   : --refs == 0;
    if (last) {
      if (!has(f_done)) drop(this);
      if (ctx) release_ctx_word(ctx);
      free_fn(this);
    }
  }
  // Destroys the callable early (after it ran, or when cancelled), so what it
  // captured is freed even while user handles keep the node alive. Loop
  // thread only.
  void finish() noexcept {
    if (!has(f_done)) {
      set(f_done);
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

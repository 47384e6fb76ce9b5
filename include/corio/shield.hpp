// Python: asyncio.shield (asyncio/tasks.py).
#pragma once

#include <corio/futures.hpp>
#include <corio/tasks.hpp>

#include <type_traits>
#include <utility>

namespace corio {

namespace detail {

// The outer future of a shield: mirrors the inner one unless it was
// cancelled itself.
template <class H>
struct shield_state final : future_state<typename H::value_type> {
  using T = typename H::value_type;
  struct lone_listener : listener {
    shield_state* owner;
  } lone;
  H inner;

  explicit shield_state(H h, std::uint32_t loop_ref) : future_state<T>(loop_ref), inner(std::move(h)) {
    this->destroy_fn = [](future_state_base* b) noexcept {
      auto* self = static_cast<shield_state*>(b);
      self->~shield_state();
      pool_deallocate(self, sizeof(shield_state));
    };
    lone.owner = this;
    lone.on_done = [](listener* l, future_core* in) noexcept {
      shield_state* s = static_cast<lone_listener*>(l)->owner;
      if (s->done()) {  // the outer was cancelled: nobody will look (CB-30)
        in->set(future_core::f_retrieved);
        return;
      }
      s->copy_from_inner();
    };
  }
  ~shield_state() {
    if (inner.core()->remove_lone_listener(&lone) && this->cancelled()) inner.core()->set(future_core::f_retrieved);
  }

  void copy_from_inner() noexcept {
    future_core* in = inner.core();
    in->set(future_core::f_retrieved);
    if (in->state() != future_core::st_result) {  // CB-31: exception or cancel forwarded
      ::new (&this->slot.exc) std::exception_ptr(in->exc_slot());
      this->finish(in->state());
      return;
    }
    try {
      if constexpr (!std::is_void_v<T>) {
        if constexpr (std::is_copy_constructible_v<T> || std::is_reference_v<T>)
          this->slot.emplace(inner.result());
        else
          this->slot.emplace(std::move(inner.result()));
      }
      this->finish(future_core::st_result);
    } catch (...) {
      ::new (&this->slot.exc) std::exception_ptr(std::current_exception());
      this->finish(future_core::st_exception);
    }
  }
};

template <class H>
future<typename H::value_type> make_shield(H inner) {
  using S = shield_state<H>;
  const std::uint32_t ref = inner.core()->loop_ref_;
  S* s = ::new (pool_allocate(sizeof(S))) S(std::move(inner), ref);
  future<typename H::value_type> outer(s);
  if (s->inner.done())
    s->copy_from_inner();
  else
    s->inner.core()->add_lone_listener(&s->lone);
  return outer;
}

}  // namespace detail

/// Python: asyncio.shield(aw). Returns a future that follows aw, except that
/// cancelling it (or the task awaiting it) does not cancel aw: the awaiter
/// gets cancelled_error while aw runs on to completion (CB-30). If aw is
/// cancelled, so is the returned future; its result or exception is
/// forwarded otherwise (CB-31). A coroutine is scheduled as a task first, and
/// the loop keeps that task alive.
template <class T>
future<T> shield(task<T> aw) {
  if (!aw.scheduled()) aw = create_task(std::move(aw));
  return detail::make_shield(std::move(aw));
}
template <class T>
future<T> shield(future<T> aw) {
  return detail::make_shield(std::move(aw));
}

}  // namespace corio

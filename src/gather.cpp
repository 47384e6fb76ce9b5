#include <corio/gather.hpp>

namespace corio::detail {

void gather_ctl::arm(future_state_base* s, loop_core& loop, std::size_t n) {
  self = s;
  s->loop_ref_ = loop.ref();
  s->reserved_[0] = this;
  s->cancel_fn = &gather_ctl::cancel;
  lone.on_done = &gather_ctl::child_done;
  lone.ctl = this;
  remaining = n;
}

void gather_ctl::fail(const std::exception_ptr& e) noexcept {
  ::new (&self->exc_slot()) std::exception_ptr(e);
  self->finish(future_core::st_exception);
}

void gather_ctl::complete_now(future_core* last) noexcept {
  if (cancel_requested) {
    // Python: a cancel that reached children fails the gather with
    // CancelledError even if they ended otherwise (issue 32684); their
    // outcomes were still gathered, so none is reported as unretrieved.
    for_each_child(this, [](future_core* c) { c->set(future_core::f_retrieved); });
    fail(last && last->cancelled() ? last->exc_slot() : make_cancelled({}));
    return;
  }
  try {
    complete(this);
  } catch (...) {
    fail(std::current_exception());
    return;
  }
  self->finish(future_core::st_result);
}

void gather_ctl::child_done(listener* l, future_core* child) noexcept {
  gather_ctl* g = static_cast<lone_listener*>(l)->ctl;
  --g->remaining;
  if (g->self->done()) {
    if (!child->cancelled()) child->set(future_core::f_retrieved);  // CB-06
    return;
  }
  if (!g->settled) {
    if (child->cancelled()) {  // CB-08: as if the child raised CancelledError
      g->fail(child->exc_slot());
      return;
    }
    if (child->state() == future_core::st_exception) {  // CB-05
      child->set(future_core::f_retrieved);
      g->fail(child->exc_slot());
      return;
    }
  }
  if (g->remaining == 0) g->complete_now(child);
}

bool gather_ctl::cancel(future_state_base* s, const std::string& msg) {
  auto* g = static_cast<gather_ctl*>(s->reserved_[0]);
  if (s->done()) return false;
  // CB-09: cancel every child that is not done. Set first: a child may
  // finish synchronously while being cancelled.
  g->cancel_requested = true;
  const bool ret = g->cancel_children(g, msg);
  if (!ret && !s->done()) g->cancel_requested = false;
  return ret;
}

}  // namespace corio::detail

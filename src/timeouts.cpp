#include <corio/timeouts.hpp>

namespace corio {

void timeout_scope::enter() {
  if (st_ != state::created) throw std::runtime_error("Timeout has already been entered");
  if (!detail::tls.running_loop) throw std::runtime_error("no running event loop");
  task_ = detail::tls.current_task;
  if (!task_) throw std::runtime_error("Timeout should be used inside a task");
  st_ = state::entered;
  cancelling_ = detail::task_cancelling(task_);
  reschedule(when_);
}

void timeout_scope::reschedule(std::optional<time_point> when) {
  if (st_ != state::entered) {
    throw std::runtime_error(st_ == state::created ? "Timeout has not been entered"
                                                    : "Cannot change state of a Timeout that is expiring, expired or finished");
  }
  when_ = when;
  h_.cancel();
  h_ = handle();
  if (!when) return;
  event_loop& loop = detail_loop(*task_->loop());
  // A deadline already passed fires through call_soon: at the first
  // suspension inside the body, even a sleep(0) (CB-24).
  if (*when <= loop.time())
    h_ = loop.call_soon([this] { on_timeout(); });
  else
    h_ = loop.call_at(*when, [this] { on_timeout(); });
}

void timeout_scope::on_timeout() {
  detail::task_cancel(task_, {});
  st_ = state::expiring;
}

void timeout_scope::exit_ok() noexcept {
  h_.cancel();
  h_ = handle();
  if (st_ == state::expiring) {
    st_ = state::expired;
    detail::task_uncancel(task_);
  } else if (st_ == state::entered) {
    st_ = state::exited;
  }
}

void timeout_scope::exit_with_current_exception() {
  h_.cancel();
  h_ = handle();
  if (st_ == state::expiring) {
    st_ = state::expired;
    // CX-13: only when no other cancel request is outstanding is the
    // cancellation ours to turn into TimeoutError.
    if (detail::task_uncancel(task_) <= cancelling_) {
      try {
        throw;
      } catch (const cancelled_error&) {
        std::throw_with_nested(timeout_error());
      } catch (...) {
      }
    }
  } else if (st_ == state::entered) {
    st_ = state::exited;
  }
  throw;
}

namespace detail {

task<> cancel_and_wait(core_ref f) {
  future_cancel(f.get(), {});
  std::vector<future_core*> fs(1, f.get());
  co_await wait_set(std::move(fs), wake_when::all_completed);
}

void raise_if_cancel_outstanding(std::uint32_t cancelling_at_entry) {
  task_base* t = tls.current_task;
  if (t && task_cancelling(t) > cancelling_at_entry) throw_pending_cancel(t);
}

}  // namespace detail
}  // namespace corio

#include <corio/queues.hpp>

namespace corio::detail {

void queue_core::reserve_for(waiter_list& list, std::size_t& reserved_count) noexcept {
  for (sync_waiter* w = list.head; w; w = w->next) {
    if (!w->woken) {
      static_cast<waiter*>(w)->reserved = true;
      ++reserved_count;
      waiter_list::wake(w);
      return;
    }
  }
}

void queue_core::leave(waiter_list& list, waiter* w, std::size_t& reserved_count) {
  list.remove(w);
  const bool had = w->reserved;
  if (had) {
    w->reserved = false;
    --reserved_count;
  }
  if (CORIO_UNLIKELY(w->cancel_due())) {
    // QU-06, QU-07: the item (or slot) stays; the next waiter gets it.
    if (had) reserve_for(list, reserved_count);
    w->throw_cancel();
  }
}

void queue_core::task_done() {
  if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");  // QU-09
  if (--unfinished_ == 0) finished_.set();
}

void queue_core::shutdown_waiters(bool immediate_drained, std::size_t drained) noexcept {
  if (immediate_drained) {
    // QU-12: drained items count as done; reserved items are gone too.
    unfinished_ -= drained < unfinished_ ? drained : unfinished_;
    if (unfinished_ == 0) finished_.set();
    for (sync_waiter* w = getters_.head; w; w = w->next) static_cast<waiter*>(w)->reserved = false;
    reserved_items_ = 0;
  }
  // Everyone waiting re-checks and meets the shutdown (QU-11).
  getters_.wake_all();
  putters_.wake_all();
}

}  // namespace corio::detail

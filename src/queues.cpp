#include <corio/queues.hpp>

#include <ostream>

namespace corio::detail {

void queue_core::reserve_for(waiter_list& list, std::size_t& reserved_count) noexcept {
  if (sync_waiter* w = list.head) {
    static_cast<waiter*>(w)->reserved = true;
    ++reserved_count;
    list.pop_and_wake();
  }
}

void queue_core::leave(waiter_list& list, waiter* w, std::size_t& reserved_count) {
  list.remove(w);
  const bool had = drop_reservation(list, w, reserved_count);
  if (CORIO_UNLIKELY(w->cancel_due())) {
    // QU-06, QU-07: the item (or slot) stays; the next waiter gets it.
    if (had) reserve_for(list, reserved_count);
    w->throw_cancel();
  }
}

bool queue_core::drop_reservation(const waiter_list& list, waiter* w, std::size_t& reserved_count) noexcept {
  if (!w->reserved) return false;
  w->reserved = false;
  if (&list == &getters_ && drained_reservations_) return false;  // voided by shutdown(immediate)
  --reserved_count;
  return true;
}

void queue_core::task_done() {
  check_confined(bound_loop(), "Queue.task_done");
  if (unfinished_ == 0) throw std::invalid_argument("task_done() called too many times");  // QU-09
  if (--unfinished_ == 0) finished_.set_unchecked();
}

void queue_core::shutdown_waiters(bool immediate_drained, std::size_t drained) noexcept {
  if (immediate_drained) {
    // QU-12: drained items count as done; the items reserved for woken
    // getters are gone too (those getters meet the shutdown when they run).
    unfinished_ -= drained < unfinished_ ? drained : unfinished_;
    if (unfinished_ == 0) finished_.set_unchecked();
    reserved_items_ = 0;
    drained_reservations_ = true;  // for good: no put can follow a shutdown
  }
  // Everyone waiting re-checks and meets the shutdown (QU-11).
  while (getters_.pop_and_wake()) {
  }
  while (putters_.pop_and_wake()) {
  }
}

namespace {
std::size_t count_waiters(const waiter_list& l) noexcept {
  std::size_t n = 0;
  for (const sync_waiter* w = l.head; w; w = w->next) ++n;
  return n;
}
}  // namespace

void queue_core::write_head(std::ostream& os, int order, std::size_t qsize) const {
  static constexpr const char* kNames[] = {"Queue", "LifoQueue", "PriorityQueue"};
  os << '<' << kNames[order] << " maxsize=" << maxsize_ << " qsize=" << qsize;
}

void queue_core::write_tail(std::ostream& os) const {
  // Woken waiters have left the lists (their reservations keep their
  // places), so these are the tasks still waiting.
  if (const std::size_t n = count_waiters(getters_)) os << " getters=" << n;
  if (const std::size_t n = count_waiters(putters_)) os << " putters=" << n;
  if (unfinished_ != 0) os << " tasks=" << unfinished_;
  if (shutdown_) os << " shutdown";
  os << '>';
}

}  // namespace corio::detail

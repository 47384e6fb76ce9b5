#include <corio/taskgroups.hpp>

namespace corio {

using detail::future_core;
using detail::task_base;

task_group::~task_group() {
  // Only reached with children left if the frame holding the group is
  // destroyed while suspended (its loop closed); let go of them quietly.
  for (task_base* t : children_) {
    t->remove_lone_listener(&lone_);
    t->release();
  }
}

void task_group::enter() {
  if (entered_) throw std::runtime_error("TaskGroup has already been entered");
  if (!detail::tls.running_loop) throw std::runtime_error("no running event loop");
  parent_ = detail::tls.current_task;
  if (!parent_) throw std::runtime_error("TaskGroup cannot determine the parent task");
  entered_ = true;
  lone_.owner = this;
  lone_.on_done = [](detail::listener* l, future_core* f) noexcept { static_cast<lone_listener*>(l)->owner->on_child_done(f); };
}

void task_group::check_can_create() const {
  if (!entered_) throw std::runtime_error("TaskGroup has not been entered");
  if (exiting_ && children_.empty()) throw std::runtime_error("TaskGroup is finished");
  if (aborting_) throw std::runtime_error("TaskGroup is shutting down");
}

void task_group::adopt(const any_task& t) {
  task_base* b = t.base();
  if (b->done()) {  // finished during an eager first step
    b->retain();
    children_.insert(b);
    on_child_done(b);
    return;
  }
  b->retain();
  children_.insert(b);
  b->add_lone_listener(&lone_);
}

void task_group::abort() noexcept {
  aborting_ = true;
  for (task_base* t : children_) {
    if (!t->done()) detail::task_cancel(t, {});
  }
}

void task_group::on_child_done(future_core* f) noexcept {
  auto* t = static_cast<task_base*>(f);
  struct drop {
    task_base* t;
    ~drop() { t->release(); }
  } guard{t};
  children_.erase(t);
  if (on_completed_ && children_.empty() && !on_completed_->done()) on_completed_->set_result();
  if (t->state() != future_core::st_exception) return;  // results and cancellations are the children's own
  t->set(future_core::f_retrieved);
  std::exception_ptr e = t->exc_slot();
  try {
    errors_.push_back(e);
  } catch (...) {
  }
  if (!base_error_ && is_exit_request(e)) base_error_ = e;
  if (!aborting_ && !parent_cancel_requested_) {
    // CB-38: the first failure cancels the siblings and the body; exit()
    // takes that cancel back.
    abort();
    parent_cancel_requested_ = true;
    detail::task_cancel(parent_, {});
  }
}

task<> task_group::exit(std::exception_ptr et) {
  exiting_ = true;
  const bool et_cancelled = et && is_cancelled_error(et);
  if (et && !base_error_ && is_exit_request(et)) base_error_ = et;
  std::exception_ptr propagate_cancel = et_cancelled ? et : nullptr;
  if (et && !aborting_) abort();  // CB-39, CB-40: the body failed or was cancelled

  // The wait repeats: the parent may be cancelled again while it waits.
  while (!children_.empty()) {
    if (!on_completed_) on_completed_ = detail_loop(*parent_->loop()).create_future<void>();
    try {
      co_await *on_completed_;
    } catch (const cancelled_error&) {
      if (!aborting_) {
        propagate_cancel = std::current_exception();
        abort();
      }
    }
    on_completed_.reset();
  }

  if (base_error_) std::rethrow_exception(base_error_);  // CB-43
  if (parent_cancel_requested_ && detail::task_uncancel(parent_) == 0) propagate_cancel = nullptr;  // CB-45
  if (propagate_cancel && errors_.empty()) std::rethrow_exception(propagate_cancel);
  if (et && !et_cancelled) errors_.push_back(et);
  if (!errors_.empty()) {
    // An outside cancel still stands: keep the parent's count stable.
    if (detail::task_cancelling(parent_) > 0) {
      detail::task_uncancel(parent_);
      detail::task_cancel(parent_, {});
    }
    std::vector<std::exception_ptr> errs = std::move(errors_);
    errors_.clear();
    throw_exception_group("unhandled errors in a TaskGroup", std::move(errs));
  }
}

}  // namespace corio

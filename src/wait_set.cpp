#include <corio/detail/wait_set.hpp>


namespace corio::detail {

wait_set::wait_set(std::vector<future_core*> futures, wake_when w) noexcept : fs(std::move(futures)), when(w) {
  cancel = &on_cancel;
  lone.on_done = &on_child;
  lone.owner = this;
  timer.fire = &on_timeout;
  timer.owner = this;
}

wait_set::~wait_set() { detach(); }

bool wait_set::satisfied_by(future_core* f) noexcept {
  if (when == wake_when::first_completed) return true;
  if (when == wake_when::first_exception && f->state() == future_core::st_exception) return true;
  return pending == 0;
}

bool wait_set::await_ready() {
  // Futures already done count at once (CB-13).
  pending = 0;
  bool ready = false;
  for (future_core* f : fs) {
    if (!f->done()) ++pending;
  }
  for (future_core* f : fs) {
    if (f->done() && satisfied_by(f)) ready = true;
  }
  if (pending == 0) ready = true;
  if (!ready && has_deadline_ && tls.running_loop && timer.when <= tls.running_loop->now_ns()) {
    timed_out = true;
    ready = true;
  }
  return ready;
}

void wait_set::await_suspend(std::coroutine_handle<> h) {
  task_base* t = current_task_or_throw("wait");
  task = t;
  for (future_core* f : fs) {
    if (!f->done()) f->add_lone_listener(&lone);
  }
  registered_ = true;
  if (has_deadline_) t->loop()->add_timer(&timer);
  suspend_current(t, h, this);
}

bool wait_set::await_resume() {
  detach();
  if (task) resume_check(task);
  if (cancelled) throw_pending_cancel(task);
  return !timed_out;
}

void wait_set::detach() noexcept {
  if (registered_) {
    registered_ = false;
    for (future_core* f : fs) f->remove_lone_listener(&lone);
  }
  if (timer.armed() && task) task->loop()->remove_timer(&timer);
}

void wait_set::wake() noexcept {
  if (woken) return;
  woken = true;
  detach();
  task->loop()->wake(task);
}

void wait_set::on_child(listener* l, future_core* f) noexcept {
  wait_set* self = static_cast<lone_listener*>(l)->owner;
  if (self->woken) return;
  --self->pending;
  if (self->satisfied_by(f)) self->wake();
}

void wait_set::on_timeout(timer_node* t) noexcept {
  wait_set* self = static_cast<deadline_timer*>(t)->owner;
  if (self->woken) return;
  self->timed_out = true;
  self->wake();
}

bool wait_set::on_cancel(suspend_point* sp, task_base*, const std::string&) {
  auto* self = static_cast<wait_set*>(sp);
  if (self->woken) return false;
  self->cancelled = true;  // the futures are left alone (CX-20)
  self->wake();
  return true;
}

}  // namespace corio::detail

// concurrent.futures.wait (FIRST_COMPLETED / FIRST_EXCEPTION) and the core of
// as_completed: registrations on each pending future that report to one
// waiting thread.
#include <corio/futures/wait.hpp>

#include <string>

namespace corio::futures::detail {

std::mutex& mark_mutex() noexcept {
  static std::mutex mu;
  return mu;
}

namespace {

// The distinct states of `states`, in first-seen order.
std::vector<state_base*> distinct(const std::vector<state_base*>& states) {
  std::vector<state_base*> out;
  out.reserve(states.size());
  std::lock_guard lk(mark_mutex());
  try {
    for (state_base* s : states) {
      if (s->mark) continue;
      s->mark = true;
      out.push_back(s);
    }
  } catch (...) {
    for (state_base* s : out) s->mark = false;
    throw;
  }
  for (state_base* s : out) s->mark = false;
  return out;
}

// The waiter of wait(FIRST_COMPLETED / FIRST_EXCEPTION) (Python:
// _FirstCompletedWaiter and _AllCompletedWaiter(stop_on_exception=True)).
struct first_waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  bool first_exc = false;
  std::size_t pending = 0;

  void on_done(outcome how) {  // with mu held
    if (!first_exc || how == outcome::exception || --pending == 0) fired = true;
  }
};

struct first_node : wait_node {
  first_waiter* w = nullptr;
  state_base* s = nullptr;
};

}  // namespace

void wait_first(const std::vector<state_base*>& states, return_when when, const clock::time_point* deadline) {
  const std::vector<state_base*> fs = distinct(states);
  std::vector<bool> was_done(fs.size());
  std::size_t n_done = 0;
  bool any_exc = false;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    if (fs[i]->done()) {
      was_done[i] = true;
      ++n_done;
      any_exc = any_exc || fs[i]->outcome_of() == outcome::exception;
    }
  }
  if (n_done == fs.size()) return;
  if (when == return_when::first_completed && n_done > 0) return;
  if (when == return_when::first_exception && any_exc) return;

  first_waiter w;
  w.first_exc = when == return_when::first_exception;
  w.pending = fs.size() - n_done;
  std::vector<first_node> nodes(w.pending);
  std::size_t k = 0;
  for (std::size_t i = 0; i < fs.size(); ++i) {
    if (was_done[i]) continue;
    first_node& n = nodes[k++];
    n.w = &w;
    n.s = fs[i];
    n.fire = [](wait_node* self, outcome how) noexcept {
      first_waiter* fw = static_cast<first_node*>(self)->w;
      std::lock_guard lk(fw->mu);
      fw->on_done(how);
      if (fw->fired) fw->cv.notify_all();
    };
    if (!fs[i]->add_node(&n)) {
      // Done between the check and the registration.
      std::lock_guard lk(w.mu);
      w.on_done(fs[i]->outcome_of());
    }
  }
  {
    std::unique_lock lk(w.mu);
    while (!w.fired) {
      if (!deadline) {
        w.cv.wait(lk);
      } else if (w.cv.wait_until(lk, *deadline) == std::cv_status::timeout) {
        break;
      }
    }
  }
  // After this no completing thread touches the nodes: they fire under their
  // future's word lock, which remove_node takes.
  for (first_node& n : nodes) n.s->remove_node(&n);
}

// -- as_completed ----------------------------------------------------------------------

completion_queue::completion_queue(state_refs refs) : states_(std::move(refs)) {
  {
    std::lock_guard lk(mark_mutex());
    std::vector<state_base*>& v = states_.v;
    std::size_t out = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      state_base* s = std::exchange(v[i], nullptr);
      if (s->mark) {
        s->release();  // a duplicate: an earlier entry holds the same state
        continue;
      }
      s->mark = true;
      v[out++] = s;
    }
    v.resize(out);
    for (state_base* s : v) s->mark = false;
  }
  const std::size_t n = states_.v.size();
  ready_.reserve(n);  // so that fire() never allocates
  nodes_ = std::make_unique<node[]>(n);
  // Those already done come first, in input order (CF-09)...
  std::vector<bool> was_done(n);
  for (std::size_t i = 0; i < n; ++i) {
    nodes_[i].owner = this;
    nodes_[i].index = static_cast<std::uint32_t>(i);
    nodes_[i].fire = &fire;
    if (states_.v[i]->done()) {
      was_done[i] = true;
      push_ready(static_cast<std::uint32_t>(i));
    }
  }
  // ...then the others as they finish.
  for (std::size_t i = 0; i < n; ++i)
    if (!was_done[i] && !states_.v[i]->add_node(&nodes_[i])) push_ready(static_cast<std::uint32_t>(i));
}

completion_queue::~completion_queue() {
  for (std::size_t i = 0; i < states_.v.size(); ++i)
    if (state_base* s = states_.v[i]) s->remove_node(&nodes_[i]);
  // states_ releases the references not handed out.
}

void completion_queue::push_ready(std::uint32_t i) noexcept {
  std::lock_guard lk(mu_);
  ready_.push_back(i);
  cv_.notify_one();
}

void completion_queue::fire(wait_node* n, outcome) noexcept {
  auto* self = static_cast<node*>(n);
  self->owner->push_ready(self->index);
}

state_base* completion_queue::next(const clock::time_point* deadline) {
  const std::size_t total = states_.v.size();
  std::unique_lock lk(mu_);
  while (ready_head_ == ready_.size()) {
    if (handed_ == total) return nullptr;
    if (!deadline) {
      cv_.wait(lk);
    } else if (cv_.wait_until(lk, *deadline) == std::cv_status::timeout && ready_head_ == ready_.size()) {
      throw timeout_error(std::to_string(total - handed_) + " (of " + std::to_string(total) + ") futures unfinished");
    }
  }
  const std::uint32_t i = ready_[ready_head_++];
  ++handed_;
  return std::exchange(states_.v[i], nullptr);
}

}  // namespace corio::futures::detail

// Python: asyncio.wait and asyncio.as_completed (asyncio/tasks.py).
#pragma once

#include <corio/any_future.hpp>
#include <corio/detail/return_when.hpp>
#include <corio/detail/wait_set.hpp>
#include <corio/tasks.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace corio {

/// What wait() returns: the (done, pending) sets, in the order given.
template <class H>
struct wait_result {
  std::vector<H> done;
  std::vector<H> pending;
};

namespace detail {
void check_wait_args(bool empty, bool has_unscheduled);
template <class H>
bool unscheduled(const H& h) {
  if constexpr (requires { h.scheduled(); })
    return !h.scheduled();
  else
    return false;
}
}  // namespace detail

/// Python: asyncio.wait(fs, timeout=None, return_when=ALL_COMPLETED).
/// Waits for scheduled tasks or futures and returns them split into done and
/// pending. Never raises their exceptions and never cancels them, not on
/// timeout and not when the waiting task is cancelled (CB-12, CX-20).
/// Duplicates count once (CB-14); an empty list, or a coroutine not yet
/// scheduled, throws std::invalid_argument. `fs` holds one handle type:
/// task<T>, future<T>, any_task, or any_future for a mix of tasks and
/// futures of different types. The timeout may come before or after
/// `when`: wait(fs, 1s), wait(fs, 1s, first_completed) (Python's keyword
/// order) and wait(fs, first_completed, 1s) are the same call.
template <class H>
task<wait_result<H>> wait(std::vector<H> fs, return_when when = all_completed,
                          std::optional<duration> timeout = std::nullopt) {
  std::vector<H> unique;
  std::vector<detail::future_core*> cores;
  std::unordered_set<detail::future_core*> seen;
  bool unsched = false;
  for (H& h : fs) {
    unsched = unsched || detail::unscheduled(h);
    detail::future_core* c = h.core();
    if (seen.insert(c).second) {
      cores.push_back(c);
      unique.push_back(std::move(h));
    }
  }
  detail::check_wait_args(unique.empty(), unsched);
  const auto w = static_cast<detail::wake_when>(when);
  if (timeout) {
    detail::wait_set ws(std::move(cores), w);
    ws.set_deadline(detail::deadline_after(*timeout).time_since_epoch().count());
    co_await std::move(ws);
  } else {
    co_await detail::wait_set(std::move(cores), w);
  }
  wait_result<H> r;
  for (H& h : unique) (h.done() ? r.done : r.pending).push_back(std::move(h));
  co_return r;
}
template <class H, class Rep, class Period>
task<wait_result<H>> wait(std::vector<H> fs, return_when when, std::chrono::duration<Rep, Period> timeout) {
  return wait(std::move(fs), when, std::optional<duration>(detail::to_duration_saturated(timeout)));
}
/// Python: asyncio.wait(fs, timeout=t) and wait(fs, timeout=t, return_when=w).
template <class H, class Rep, class Period>
task<wait_result<H>> wait(std::vector<H> fs, std::chrono::duration<Rep, Period> timeout,
                          return_when when = all_completed) {
  return wait(std::move(fs), when, std::optional<duration>(detail::to_duration_saturated(timeout)));
}

// -- as_completed ------------------------------------------------------------------

namespace detail {

template <class H>
struct as_completed_state {
  struct lone_listener : listener {
    as_completed_state* owner;
  } lone;
  std::unordered_map<future_core*, H> todo;  // not finished yet
  std::deque<H> done;                        // finished, not yet handed out
  std::size_t timed_out = 0;
  handle timer;
  struct waiter : suspend_point {
    task_base* task = nullptr;
    waiter* next = nullptr;
    bool cancelled = false;
  };
  waiter* waiters = nullptr;  // tasks blocked in next(), FIFO

  ~as_completed_state() {
    timer.cancel();
    for (auto& [c, h] : todo) c->remove_lone_listener(&lone);
  }
  // `aws` are distinct, scheduled futures or tasks.
  void arm(std::vector<H> aws, std::optional<duration> t) {
    lone.owner = this;
    lone.on_done = [](listener* l, future_core* f) noexcept {
      auto* s = static_cast<lone_listener*>(l)->owner;
      if (auto it = s->todo.find(f); it != s->todo.end()) {
        s->done.push_back(std::move(it->second));
        s->todo.erase(it);
      }
      if (s->todo.empty()) s->timer.cancel();
      s->wake_one();
    };
    for (H& h : aws) {
      if (h.done()) {
        done.push_back(std::move(h));  // done ones come first (CB-33)
      } else {
        h.core()->add_lone_listener(&lone);
        todo.emplace(h.core(), std::move(h));
      }
    }
    if (!todo.empty() && t) {
      timer = get_running_loop().call_later(*t, [this] {
        // CB-34: the remaining awaits raise TimeoutError; nothing is cancelled.
        for (auto& [c, h] : todo) c->remove_lone_listener(&lone);
        timed_out += todo.size();
        todo.clear();
        while (waiters) wake_one();
      });
    }
  }
  void wake_one() noexcept {
    if (waiter* w = waiters) {
      waiters = w->next;
      w->next = nullptr;
      w->task->loop()->wake(w->task);
    }
  }
};

}  // namespace detail

/// Python: asyncio.as_completed(aws, timeout=None). A range of n awaitables
/// (n = number of distinct aws); awaiting the k-th gives the result of the
/// k-th to finish, or throws its exception, or timeout_error once the
/// timeout has passed (CB-33, CB-34). Coroutines become tasks; nothing is
/// cancelled on timeout. Over any_future (a mix of tasks and futures whose
/// results differ in type), awaiting gives the any_future that finished, or
/// throws its exception: compare it with the typed handles to read the
/// value (Python 3.13's `async for` over as_completed gives the finished
/// future itself, too).
///
///   for (auto next : corio::as_completed(std::move(tasks))) {
///     auto r = co_await next;
///   }
template <class H>
class as_completed {
  using T = typename H::value_type;
  using state = detail::as_completed_state<H>;

 public:
  explicit as_completed(std::vector<H> aws, std::optional<duration> timeout = std::nullopt)
      : s_(std::make_shared<state>()) {
    std::vector<H> unique;
    std::unordered_set<detail::future_core*> seen;
    for (H& h : aws) {
      if constexpr (requires { h.scheduled(); })
        if (!h.scheduled()) h = create_task(std::move(h));
      if (seen.insert(h.core()).second) unique.push_back(std::move(h));  // duplicates count once
    }
    n_ = unique.size();
    s_->arm(std::move(unique), timeout);
  }
  template <class Rep, class Period>
  as_completed(std::vector<H> aws, std::chrono::duration<Rep, Period> timeout)
      : as_completed(std::move(aws), std::optional<duration>(detail::to_duration_saturated(timeout))) {}

  /// One await of the next completion.
  class next_result {
   public:
    explicit next_result(std::shared_ptr<state> s) : s_(std::move(s)) {}
    struct awaiter : state::waiter {
      std::shared_ptr<state> s;
      bool suspended = false;
      explicit awaiter(std::shared_ptr<state> st) : s(std::move(st)) { this->cancel = &on_cancel; }
      awaiter(awaiter&& o) noexcept : awaiter(std::move(o.s)) {}
      ~awaiter() { unlink(); }
      bool await_ready() const noexcept { return !s->done.empty() || s->timed_out > 0; }
      void await_suspend(std::coroutine_handle<> h) {
        this->task = detail::current_task_or_throw("as_completed");
        typename state::waiter** pp = &s->waiters;
        while (*pp) pp = &(*pp)->next;
        *pp = this;
        suspended = true;
        detail::suspend_current(this->task, h, this);
      }
      decltype(auto) await_resume() {
        if (suspended) {
          detail::resume_check(this->task);
          if (this->cancelled) detail::throw_pending_cancel(this->task);
        }
        if (!s->done.empty()) {
          H h = std::move(s->done.front());
          s->done.pop_front();
          if (!s->done.empty() || s->timed_out) s->wake_one();
          if constexpr (std::is_same_v<H, any_future>) {
            h.result();
            return h;
          } else if constexpr (std::is_void_v<T>) {
            h.result();
          } else {
            return T(h.result());
          }
        } else {
          --s->timed_out;
          throw timeout_error();
        }
      }

     private:
      void unlink() noexcept {
        for (typename state::waiter** pp = &s->waiters; *pp; pp = &(*pp)->next) {
          if (*pp == this) {
            *pp = this->next;
            return;
          }
        }
      }
      static bool on_cancel(detail::suspend_point* sp, detail::task_base* t, const std::string&) {
        auto* self = static_cast<awaiter*>(sp);
        self->unlink();
        self->cancelled = true;
        t->loop()->wake(t);
        return true;
      }
    };
    using corio_awaitable = void;
    awaiter operator co_await() const { return awaiter(s_); }

   private:
    std::shared_ptr<state> s_;
  };

  class iterator {
   public:
    using value_type = next_result;
    using difference_type = std::ptrdiff_t;
    iterator(std::shared_ptr<state> s, std::size_t i) : s_(std::move(s)), i_(i) {}
    next_result operator*() const { return next_result(s_); }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

   private:
    std::shared_ptr<state> s_;
    std::size_t i_;
  };

  iterator begin() const { return iterator(s_, 0); }
  iterator end() const { return iterator(s_, n_); }
  std::size_t size() const noexcept { return n_; }

 private:
  std::shared_ptr<state> s_;
  std::size_t n_ = 0;
};

}  // namespace corio

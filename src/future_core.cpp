#include <corio/detail/context.hpp>
#include <corio/detail/future_core.hpp>
#include <corio/detail/task_base.hpp>
#include <corio/futures.hpp>
#include <corio/tasks.hpp>

#include <corio/detail/repr.hpp>

#include <cstdio>
#include <ostream>

namespace corio::detail {

namespace {

// Stands in for a lone listener once a second listener arrives.
struct lone_adapter : listener_node {
  listener* target;
  explicit lone_adapter(listener* t) noexcept : target(t) { on_done = &fire; }
  static void fire(listener* self, future_core* f) noexcept {
    auto* a = static_cast<lone_adapter*>(static_cast<listener_node*>(self));
    listener* t = a->target;
    free(a);
    t->on_done(t, f);
  }
  static lone_adapter* make(listener* t) { return ::new (pool_allocate(sizeof(lone_adapter))) lone_adapter(t); }
  static void free(lone_adapter* a) noexcept {
    a->~lone_adapter();
    pool_deallocate(a, sizeof(lone_adapter));
  }
  static bool is(const listener_node* n) noexcept;
};
bool lone_adapter::is(const listener_node* n) noexcept { return n->on_done == &lone_adapter::fire; }

// A list of nodes is circular and held by its tail (tail->next is the
// head): appending in order is O(1) however many listeners one future has.
listener_node* as_list(std::uintptr_t w) noexcept { return reinterpret_cast<listener_node*>(w); }

void append(std::uintptr_t& waiters, listener_node* n) noexcept {
  if (waiters == 0) {
    n->next = n;
  } else {
    listener_node* t = as_list(waiters);
    n->next = t->next;
    t->next = n;
  }
  waiters = reinterpret_cast<std::uintptr_t>(n);
}

// The list as a null-terminated chain from its head, leaving `waiters` empty.
listener_node* take_all(std::uintptr_t& waiters) noexcept {
  listener_node* t = as_list(waiters);
  waiters = 0;
  listener_node* h = t->next;
  t->next = nullptr;
  return h;
}

// Unlinks and returns the first node that `match` accepts (nullptr if none).
template <class Match>
listener_node* unlink_first(std::uintptr_t& waiters, Match match) noexcept {
  if (waiters == 0 || (waiters & 1u)) return nullptr;
  listener_node* const tail = as_list(waiters);
  listener_node* prev = tail;
  do {
    listener_node* c = prev->next;
    if (match(c)) {
      if (c == prev) {
        waiters = 0;  // it was the only one
      } else {
        prev->next = c->next;
        if (c == tail) waiters = reinterpret_cast<std::uintptr_t>(prev);
      }
      c->next = nullptr;
      return c;
    }
    prev = c;
  } while (prev != tail);
  return nullptr;
}

}  // namespace

core_extra& future_core::extra() {
  if (!has(f_has_extra)) {
    auto* e = new core_extra;
    e->ctx = ctx_or_extra_;
    ctx_or_extra_ = reinterpret_cast<std::uintptr_t>(e);
    set(f_has_extra);
  }
  return *reinterpret_cast<core_extra*>(ctx_or_extra_);
}

std::exception_ptr& future_core::exc_slot() noexcept {
  char* base = reinterpret_cast<char*>(this);
  return *reinterpret_cast<std::exception_ptr*>(base + (is_task() ? sizeof(task_base) : sizeof(future_state_base)));
}

void future_core::add_listener(listener_node* n) {
  if (waiters_ & 1u) {
    // Turn the lone listener into a node so that both fit in one list.
    lone_adapter* a = lone_adapter::make(reinterpret_cast<listener*>(waiters_ & ~std::uintptr_t{1}));
    waiters_ = 0;
    append(waiters_, a);
  }
  append(waiters_, n);
}

void future_core::add_lone_listener(listener* l) {
  if (waiters_ == 0) {
    waiters_ = reinterpret_cast<std::uintptr_t>(l) | 1u;
    return;
  }
  add_listener(lone_adapter::make(l));
}

bool future_core::remove_listener(listener_node* n) noexcept {
  return unlink_first(waiters_, [n](listener_node* x) { return x == n; }) != nullptr;
}

bool future_core::remove_lone_listener(listener* l) noexcept {
  if (waiters_ & 1u) {
    if ((waiters_ & ~std::uintptr_t{1}) != reinterpret_cast<std::uintptr_t>(l)) return false;
    waiters_ = 0;
    return true;
  }
  listener_node* c = unlink_first(waiters_, [l](listener_node* x) {
    return lone_adapter::is(x) && static_cast<lone_adapter*>(x)->target == l;
  });
  if (!c) return false;
  lone_adapter::free(static_cast<lone_adapter*>(c));
  return true;
}

void future_core::finish(std::uint16_t st) noexcept {
  bits = static_cast<std::uint16_t>((bits & ~st_mask) | st);
  if (waiters_ == 0) return;
  retain();  // a listener may drop the last other reference
  if (waiters_ & 1u) {
    auto* l = reinterpret_cast<listener*>(waiters_ & ~std::uintptr_t{1});
    waiters_ = 0;
    l->on_done(l, this);
  } else {
    // Taken as a whole first, so removals during notification are harmless (FU-11).
    for (listener_node* n = take_all(waiters_); n;) {
      listener_node* nx = n->next;
      n->on_done(n, this);
      n = nx;
    }
  }
  release();
}

bool future_core::cancel_now(const std::string& msg) noexcept {
  if (done()) return false;
  ::new (&exc_slot()) std::exception_ptr(make_cancelled(msg));
  finish(st_cancelled);
  return true;
}

void future_core::report_unretrieved() noexcept {
  if (state() != st_exception || has(f_retrieved)) return;
  exception_context ctx;
  ctx.exception = exc_slot();
  if (is_task()) {
    ctx.message = "Task exception was never retrieved";
    try {
      ctx.task = task_name(static_cast<task_base*>(this));
    } catch (...) {
    }
  } else {
    ctx.message = "Future exception was never retrieved";
    ctx.future = "future";
  }
  if (loop_core* l = loop()) {
    l->call_exception_handler(ctx);
  } else {
    std::fprintf(stderr, "corio: %s (%s)\n", ctx.message.c_str(), describe_exception(ctx.exception).c_str());
  }
}

void future_core::destroy() noexcept {
  // The common cases first: nothing to report, no side block, no context.
  if (CORIO_LIKELY(waiters_ == 0 && ctx_or_extra_ == 0 && (state() == st_result || has(f_retrieved)))) {
    if (is_task()) {
      if (CORIO_LIKELY(done())) {
        static_cast<task_base*>(this)->frame().destroy();
        return;
      }
    } else {
      auto* s = static_cast<future_state_base*>(this);
      s->destroy_fn(s);
      return;
    }
  }
  report_unretrieved();
  if (is_task() && !done()) forget_stack_refs(static_cast<task_base*>(this));
  if (is_task() && !has(f_root) && !has(f_started)) {
    // Python warns "coroutine ... was never awaited"; corio does in debug
    // mode (a loop's, or CORIO_DEBUG=1 when no loop runs).
    const loop_core* l = tls.running_loop;
    if (l ? l->debug() : (g_debug_loops.load(std::memory_order_relaxed) != 0 || debug_env())) {
      try {
        const std::string what = coroutine_name(static_cast<task_base*>(this)->frame());
        std::fprintf(stderr, "corio: %s was never awaited or scheduled\n", what.c_str());
      } catch (...) {
      }
    }
  }
  if (is_task() && has(f_root) && !done()) {
    // TK-13: the loop let go of a task that never finished.
    exception_context ctx;
    ctx.message = "Task was destroyed but it is pending!";
    try {
      ctx.task = task_name(static_cast<task_base*>(this));
    } catch (...) {
    }
    if (loop_core* l = loop()) l->call_exception_handler(ctx);
  }
  // Adapters of lone listeners and pending done callbacks belong to this
  // list; other listeners belong to their owners, who outlive it.
  if (waiters_ != 0 && !(waiters_ & 1u)) {
    for (listener_node* n = take_all(waiters_); n;) {
      listener_node* nx = n->next;
      if (lone_adapter::is(n))
        lone_adapter::free(static_cast<lone_adapter*>(n));
      else if (n->on_done == &done_callback_node::fire)
        static_cast<done_callback_node*>(n)->release();
      n = nx;
    }
  }
  waiters_ = 0;
  if (has(f_has_extra)) {
    auto* e = reinterpret_cast<core_extra*>(ctx_or_extra_);
    ctx_or_extra_ = e->ctx;
    clear(f_has_extra);
    delete e;
  }
  if (is_task() && ctx_or_extra_) {
    release_word(ctx_or_extra_);
    ctx_or_extra_ = 0;
  }
  if (is_task()) {
    static_cast<task_base*>(this)->frame().destroy();
  } else {
    auto* s = static_cast<future_state_base*>(this);
    s->destroy_fn(s);
  }
}

// -- done callbacks --------------------------------------------------------------

std::uintptr_t add_done_callback_node(future_core* core, done_callback_node* n) {
  const auto id = reinterpret_cast<std::uintptr_t>(static_cast<handle_node*>(n));
  try {
    check_confined(core->loop_ref_, "add_done_callback");
  } catch (...) {
    n->release();
    throw;
  }
  n->ctx = capture_context();  // FU-10: runs in the context current now
  if (core->done()) {
    loop_core* loop = core->loop();
    if (!loop || loop->is_closed()) {
      n->release();
      throw std::runtime_error("corio: add_done_callback: the future's event loop is closed");
    }
    n->schedule();  // FU-09: through call_soon, never inline
  } else {
    core->add_listener(n);
  }
  return id;
}

std::size_t remove_done_callback_node(future_core* core, std::uintptr_t id) noexcept {
  listener_node* c = unlink_first(core->waiters_, [id](listener_node* x) {
    return x->on_done == &done_callback_node::fire &&
           reinterpret_cast<std::uintptr_t>(static_cast<handle_node*>(static_cast<done_callback_node*>(x))) == id;
  });
  if (!c) return 0;
  static_cast<done_callback_node*>(c)->release();
  return 1;
}

// -- futures -------------------------------------------------------------------

void throw_invalid_state(const char* what) { throw invalid_state_error(what); }

void throw_already_done(const char* what) {
  throw invalid_state_error(std::string("corio: ") + what + ": future is already done");
}

void check_exception_arg(const std::exception_ptr& e) {
  if (!e) throw std::invalid_argument("corio: set_exception: the exception_ptr is null");
}

std::exception_ptr core_exception(future_core* f) {
  if (!f->done()) throw invalid_state_error("Exception is not set.");
  f->set(future_core::f_retrieved);
  if (f->cancelled()) std::rethrow_exception(f->exc_slot());
  if (f->state() == future_core::st_exception) return f->exc_slot();
  return nullptr;
}

bool future_cancel(future_core* f, const std::string& msg) {
  if (f->is_task()) return task_cancel(static_cast<task_base*>(f), msg);
  if (f->done()) return false;
  check_completable(f, "future.cancel");
  auto* s = static_cast<future_state_base*>(f);
  if (s->cancel_fn) return s->cancel_fn(s, msg);
  return f->cancel_now(msg);
}

bool is_fatal(const std::exception_ptr& e) noexcept {
  if (is_exit_request(e)) return true;
  try {
    std::rethrow_exception(e);
  } catch (const std::bad_alloc&) {
    return true;
  } catch (...) {
    return false;
  }
}

void write_future(std::ostream& os, const future_core* f, void (*result)(std::ostream&, const future_core*)) {
  if (f == nullptr) {
    os << "<Future (empty)>";
    return;
  }
  // Python: base_futures._future_repr_info.
  switch (f->state()) {
    case future_core::st_pending:
      os << "<Future pending>";
      return;
    case future_core::st_cancelled:
      os << "<Future cancelled>";
      return;
    case future_core::st_exception:
      os << "<Future finished exception=";
      write_exception(os, const_cast<future_core*>(f)->exc_slot());
      break;
    default:
      os << "<Future finished result=";
      result(os, f);
      break;
  }
  os << '>';
}

[[noreturn]] void throw_cancelled(const std::string& msg) { throw cancelled_error(msg); }
std::exception_ptr make_cancelled(const std::string& msg) { return std::make_exception_ptr(cancelled_error(msg)); }

}  // namespace corio::detail

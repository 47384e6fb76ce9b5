#include <corio/detail/context.hpp>
#include <corio/detail/frame_pool.hpp>
#include <corio/detail/repr.hpp>
#include <corio/detail/symbolize.hpp>
#include <corio/events.hpp>
#include <corio/tasks.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace corio {
namespace detail {

thread_local thread_state tls CORIO_TLS_MODEL{};
std::atomic<loop_core*> g_loops[kLoopSlots];  // slot 0 stays null: ref 0 is "no loop"

namespace {

// -- the loop table (see loop_from_ref) -----------------------------------
std::mutex g_loops_mu;
std::uint32_t g_gen[kLoopSlots];
std::deque<std::uint32_t> g_free_slots;  // FIFO: spreads generations over all slots
std::uint32_t g_next_slot = 1;           // slot 0 is "no loop"

std::uint32_t acquire_loop_ref() {
  std::lock_guard lk(g_loops_mu);
  std::uint32_t slot;
  if (!g_free_slots.empty()) {
    slot = g_free_slots.front();
    g_free_slots.pop_front();
  } else {
    if (g_next_slot >= kLoopSlots)
      throw std::runtime_error("corio: too many event loops alive at once (" + std::to_string(kLoopSlots - 1) + ")");
    slot = g_next_slot++;
  }
  g_gen[slot] = (g_gen[slot] + 1) & ((1u << (32 - kLoopSlotBits)) - 1);
  if (g_gen[slot] == 0) g_gen[slot] = 1;
  return (g_gen[slot] << kLoopSlotBits) | slot;
}

void publish_loop(std::uint32_t ref, loop_core* l) noexcept {
  g_loops[ref & (kLoopSlots - 1)].store(l, std::memory_order_release);
}

void release_loop_ref(std::uint32_t ref) noexcept {
  std::lock_guard lk(g_loops_mu);
  g_loops[ref & (kLoopSlots - 1)].store(nullptr, std::memory_order_release);
  try {
    g_free_slots.push_back(ref & (kLoopSlots - 1));
  } catch (...) {
    // Out of memory: the slot is lost, not reused; nothing else breaks.
  }
}


void timer_handle_fire(timer_node* n) noexcept {
  auto* h = static_cast<timer_handle_node*>(n);
  h->loop->push(h);
}

thread_local event_loop* tl_event_loop = nullptr;

}  // namespace

bool debug_env() noexcept {
  const char* v = std::getenv("CORIO_DEBUG");
  return v && *v && std::strcmp(v, "0") != 0;
}

[[noreturn]] void throw_no_running_task(const char* what) {
  throw std::runtime_error(std::string("corio: ") + what + ": not called from inside a task");
}

// -- loop_core ----------------------------------------------------------------

loop_core::loop_core(const loop_options& opts)
    : virtual_clock_(opts.clock == clock_kind::virtual_), timers_(now_ns()), backend_(make_default_backend()) {
  set_debug(opts.debug.value_or(debug_env()));
  if (debug()) note_backend_choice(*backend_);
  ref_ = acquire_loop_ref();
  publish_loop(ref_, this);
  link_ = std::make_shared<loop_link>();
  link_->loop = this;
}

loop_core::~loop_core() {
  if (running_) {
    std::fprintf(stderr, "corio: fatal: an event loop was destroyed while running\n");
    std::abort();
  }
  try {
    close();
  } catch (...) {
  }
  set_debug(false);
  {
    std::lock_guard lk(link_->mu);  // waits for a post in progress
    link_->loop = nullptr;
  }
  release_loop_ref(ref_);
}

event_loop& loop_core::self() noexcept { return detail_loop(*this); }

void loop_core::throw_closed() { throw std::runtime_error("Event loop is closed"); }

void loop_core::check_thread(const char* what) const {
  // EL-20: loop methods are not thread-safe; debug mode says so loudly.
  if (debug() && running_elsewhere()) throw_not_confined(what);
}

[[noreturn]] void throw_not_confined(const char* what) {
  throw std::runtime_error(std::string("Non-thread-safe operation invoked on an event loop other than the current one (") +
                           what + "); use call_soon_threadsafe or run_coroutine_threadsafe");
}

void check_confined_slow(std::uint32_t loop_ref, const char* what) {
  const loop_core* l = loop_from_ref(loop_ref);
  if (l && l->debug() && l->running_elsewhere()) throw_not_confined(what);
}

void check_completable_slow(const future_core* f, const char* what) {
  const loop_core* l = f->loop();
  if (f->has_listeners() && (l == nullptr || l->is_closed()))
    throw std::runtime_error(std::string("Event loop is closed (") + what + " of a future someone awaits)");
  if (l && l->debug() && l->running_elsewhere()) throw_not_confined(what);
}

void loop_core::unregister_task(task_base* t) noexcept {
  if (!t->has(future_core::f_registered)) return;
  registry_.remove(t->reg_idx_);
  t->clear(future_core::f_registered);
  t->release();
}

void loop_core::add_resource(loop_resource* r) noexcept {
  r->res_prev = nullptr;
  r->res_next = resources_;
  if (resources_) resources_->res_prev = r;
  resources_ = r;
}

void loop_core::remove_resource(loop_resource* r) noexcept {
  if (r->res_prev)
    r->res_prev->res_next = r->res_next;
  else if (resources_ == r)
    resources_ = r->res_next;
  else
    return;  // not in the list
  if (r->res_next) r->res_next->res_prev = r->res_prev;
  r->res_prev = r->res_next = nullptr;
}

void loop_core::schedule_handle(handle_node* h) {
  h->loop = this;
  h->ctx = capture_context();
  h->retain();  // one for the queue, one for the returned handle
  ready_.push(h);
}

void loop_core::schedule_timer_handle(timer_handle_node* h) {
  h->loop = this;
  h->ctx = capture_context();
  h->fire = &timer_handle_fire;
  h->retain();
  timers_.insert(h);
}

void loop_core::schedule_threadsafe(handle_node* h) {
  h->loop = this;
  h->ctx = capture_context();  // the posting thread's context
  h->refs = 2;                 // the queue's and the caller's handle; not shared yet
  std::uintptr_t old = remote_head_.load(std::memory_order_relaxed);
  do {
    if (old == kRemoteClosed) {
      h->refs = 1;
      h->release();
      throw std::runtime_error("Event loop is closed");
    }
    h->next = reinterpret_cast<runnable*>(old);
  } while (!remote_head_.compare_exchange_weak(old, reinterpret_cast<std::uintptr_t>(h), std::memory_order_seq_cst,
                                               std::memory_order_relaxed));
  // Only the post that found the stack empty can find the loop asleep on
  // it: the loop checks the stack after saying it sleeps (run_once).
  if (old == 0 && sleeping_.load(std::memory_order_seq_cst)) backend_->wake();
}

namespace {

// The handle a remote completion travels in; it holds the poster's reference.
struct remote_post {
  remote_completion* r;
  explicit remote_post(remote_completion* rc) noexcept : r(rc) {}
  remote_post(remote_post&& o) noexcept : r(std::exchange(o.r, nullptr)) {}
  remote_post(const remote_post&) = delete;
  ~remote_post() {
    if (r) r->release();
  }
  void operator()() const noexcept {
    if (loop_core* l = r->link->loop) l->run_remote(r);
  }
};

}  // namespace

void remote_completion::post() noexcept {
  std::unique_lock lk(link->mu);
  if (loop_core* l = link->loop; l && !l->is_closed()) {
    try {
      auto* n = make_handle_node<handle_node>(remote_post(this));
      n->kind = node_kind::threadsafe_handle;
      l->schedule_threadsafe(n);  // on a loop closed meanwhile, drops the handle, and with it our reference
      n->release();               // the caller's handle, which nobody holds here
      return;
    } catch (...) {
      return;
    }
  }
  lk.unlock();
  release();
}

void loop_core::register_remote(remote_completion* r) {
  r->link = link_;
  r->registered = true;
  r->prev = nullptr;
  r->next = remote_ops_;
  if (remote_ops_) remote_ops_->prev = r;
  remote_ops_ = r;
  if (r->is_work) ++remote_op_count_;
}

void loop_core::run_remote(remote_completion* r) noexcept {
  if (!r->registered) return;
  r->registered = false;
  (r->prev ? r->prev->next : remote_ops_) = r->next;
  if (r->next) r->next->prev = r->prev;
  if (r->is_work) --remote_op_count_;
  r->complete(r);
  r->release();  // the loop's reference
}

void loop_core::drain_remote(std::uintptr_t replace_with) noexcept {
  std::uintptr_t w = remote_head_.exchange(replace_with, std::memory_order_acquire);
  if (w == kRemoteClosed) w = 0;
  // The stack holds the newest first: reverse it into posting order (TH-01
  // keeps one thread's posts in order, as call_soon does).
  runnable* head = nullptr;
  runnable* tail = nullptr;
  for (runnable* n = reinterpret_cast<runnable*>(w); n;) {
    runnable* next = n->next;
    n->next = head;
    if (!head) tail = n;
    head = n;
    n = next;
  }
  if (head) {
    if (ready_.tail)
      ready_.tail->next = head;
    else
      ready_.head = head;
    ready_.tail = tail;
  }
}

void loop_core::fire_timers() {
  const std::int64_t due = add_saturated(now_ns(), clock_resolution_ns_);
  timers_.expire(due, [](timer_node* n) { n->fire(n); });
}

CORIO_ALWAYS_INLINE void loop_core::dispatch(runnable* n) {
  if (CORIO_LIKELY(n->kind == node_kind::task))
    run_task(static_cast<task_base*>(n));
  else
    run_handle(static_cast<handle_node*>(n));
}

CORIO_ALWAYS_INLINE void loop_core::run_task(task_base* t) {
  const std::uint16_t b = static_cast<std::uint16_t>(t->bits & ~future_core::f_queued);
  if (CORIO_UNLIKELY(!(b & future_core::f_started))) {
    t->bits = b | future_core::f_started;
    if (CORIO_UNLIKELY(tl_stack_refs_watched) && stack_refs_dangle(t, stack_mark_)) {
      task_fail_dangling(t);  // debug mode: the body would read freed stack
      return;
    }
    if (b & future_core::f_must_cancel) {  // CX-07: the body never runs
      task_cancel_unstarted(t);
      return;
    }
  } else {
    t->bits = b;
  }
  tls.current_task = t;  // also makes the task's context current (current_ctx_slot)
  t->leaf.resume();
  tls.current_task = nullptr;
  if (CORIO_UNLIKELY(fatal_ != nullptr)) {
    std::exception_ptr e = std::move(fatal_);
    fatal_ = nullptr;
    std::rethrow_exception(e);
  }
}

CORIO_ALWAYS_INLINE void loop_core::run_once() {
  if (ready_.empty() && !stopping_) {
    std::int64_t timeout = -1;  // only timers that never fire, or none: no limit
    if (!timers_.empty()) {
      if (const std::int64_t next = timers_.next_deadline(); next != kNeverNs) {
        const std::int64_t d = next - now_ns();
        timeout = d > 0 ? d : 0;
      }
    }
    if (timeout != 0) {
      if (virtual_clock_ && timeout > 0 && backend_->pending() == 0 && remote_op_count_ == 0 &&
          remote_head_.load(std::memory_order_acquire) == 0) {
        virtual_now_ += timeout;  // nothing else can happen first: jump
      } else {
        // Python caps a selector's timeout at a day too: a far timer (up
        // to 292 years away) is re-examined daily, and no backend has to
        // convert a huge count into its own units.
        constexpr std::int64_t kMaxWaitNs = std::int64_t{24} * 3600 * 1'000'000'000;
        if (timeout > kMaxWaitNs) timeout = kMaxWaitNs;
        // About to be idle for a while after a burst: give the burst's
        // frames back to the system (memory.hpp).
        constexpr std::int64_t kTrimIdleNs = 50'000'000;
        if ((timeout < 0 || timeout >= kTrimIdleNs) && pool_trim_due()) {
          pool_trim(kAutoTrimKeepBytes);
          timeout = 0;  // the trim took time: poll, and the next iteration waits anew
        }
        sleeping_.store(true, std::memory_order_seq_cst);
        if (remote_head_.load(std::memory_order_seq_cst) != 0) timeout = 0;
        backend_->wait(*this, timeout);
        sleeping_.store(false, std::memory_order_relaxed);
      }
    }
  } else if (backend_->pending() != 0) {
    backend_->wait(*this, 0);  // I/O keeps flowing while tasks are busy
  }
  if (remote_head_.load(std::memory_order_relaxed) != 0) drain_remote();
  // Caught signals become callbacks here, whether the loop slept (the
  // handler's write woke it) or was too busy to ask the backend.
  if (CORIO_UNLIKELY(signals_ != nullptr) && g_signal_epoch.load(std::memory_order_acquire) != signal_epoch_seen_)
    take_signals();
  if (!timers_.empty()) fire_timers();  // EL-08: after what call_soon queued

  // EL-02: run exactly what is ready now; what they schedule waits a turn.
  runnable* n = ready_.head;
  runnable* const batch_tail = ready_.tail;
  ready_.head = ready_.tail = nullptr;
  try {
    if (CORIO_UNLIKELY(debug())) {
      while (n) {
        runnable* cur = n;
        n = n->next;
        // A task may finish and be freed during its step: hold it to name it.
        task_base* t = cur->kind == node_kind::task ? static_cast<task_base*>(cur) : nullptr;
        if (t) t->retain();
        const auto t0 = std::chrono::steady_clock::now();
        try {
          dispatch(cur);
        } catch (...) {
          if (t) t->release();
          throw;
        }
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
        if (ns >= slow_callback_ns_) report_slow(t, ns);
        if (t) t->release();
      }
    } else {
      while (n) {
        runnable* cur = n;
        n = n->next;
        dispatch(cur);
      }
    }
  } catch (...) {
    // A fatal exception leaves the loop; the rest of the batch stays queued
    // in order for a later run (EL-17).
    if (n) {
      batch_tail->next = ready_.head;
      if (!ready_.head) ready_.tail = batch_tail;
      ready_.head = n;
    }
    throw;
  }
}

void loop_core::report_slow(task_base* t, std::int64_t ns) noexcept {
  // EL-22: Python logs "Executing <Handle ...> took 0.123 seconds".
  try {
    const std::string what = t ? "a step of task " + task_name(t) : std::string("a callback");
    std::fprintf(stderr, "corio: executing %s took %.3f seconds\n", what.c_str(), static_cast<double>(ns) / 1e9);
  } catch (...) {
  }
}

void loop_core::run_handle(handle_node* h) {
  if (h->cancelled()) {
    h->release();
    return;
  }
  std::exception_ptr err;
  // A cancel from inside must not destroy the running callable. (A
  // threadsafe handle's cancel never does: the flag would cost two atomic
  // operations per cross-thread callback for nothing.)
  const bool flag_running = !h->threadsafe();
  if (flag_running) h->set(handle_node::f_running);
  tls.ctx_slot = &h->ctx;  // CV-08: the context captured when it was scheduled
  try {
    h->invoke(h);
  } catch (...) {
    err = std::current_exception();
  }
  tls.ctx_slot = nullptr;
  if (flag_running) h->clear(handle_node::f_running);
  h->finish();
  h->release();
  if (CORIO_UNLIKELY(err != nullptr)) {
    if (is_fatal(err)) std::rethrow_exception(err);  // EL-12
    exception_context ctx;
    ctx.message = "Exception in callback";
    ctx.exception = err;
    ctx.handle = "callback";
    call_exception_handler(ctx);  // EL-10
  }
}

void loop_core::check_can_run() const {
  origin_.check("this event loop");
  check_open();
  if (running_) throw std::runtime_error("This event loop is already running");
  if (tls.running_loop) throw std::runtime_error("Cannot run the event loop while another loop is running");
}

void loop_core::run_forever() {
  check_can_run();
  running_ = true;
  owner_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  const char here = 0;
  const void* const outer_mark = std::exchange(stack_mark_, &here);
  tls.running_loop = this;
  // A loop run inside context.run(): its tasks and callbacks use their own
  // contexts, and that context is current again afterwards (CV-06).
  std::uintptr_t* const outer_ctx = std::exchange(tls.ctx_slot, nullptr);
  struct reset {
    loop_core* l;
    std::uintptr_t* ctx;
    const void* mark;
    ~reset() {
      l->stack_mark_ = mark;
      l->stopping_ = false;
      l->running_ = false;
      l->owner_.store(std::thread::id(), std::memory_order_relaxed);
      tls.running_loop = nullptr;
      tls.current_task = nullptr;
      tls.ctx_slot = ctx;
    }
  } guard{this, outer_ctx, outer_mark};
  for (;;) {
    run_once();
    if (stopping_) break;
  }
}

void loop_core::run_until_done(future_core* f) {
  check_can_run();  // before anything is scheduled or stopped
  if (f->loop_ref_ != ref_)
    throw std::invalid_argument("The future belongs to a different loop than the one specified as the loop argument");
  struct stopper : listener_node {
    loop_core* loop;
  } s;
  s.loop = this;
  s.on_done = [](listener* l, future_core*) noexcept {
    static_cast<stopper*>(static_cast<listener_node*>(l))->loop->stop();
  };
  const bool wait = !f->done();
  if (wait)
    f->add_listener(&s);
  else
    stop();  // Python schedules the stop callback at once: one iteration
  try {
    run_forever();
  } catch (...) {
    if (wait) f->remove_listener(&s);
    throw;
  }
  if (wait) f->remove_listener(&s);
  if (!f->done()) throw std::runtime_error("Event loop stopped before Future completed.");
}

void loop_core::close() {
  if (running_) throw std::runtime_error("Cannot close a running event loop");
  if (is_closed()) return;
  closed_.store(true, std::memory_order_relaxed);
  drain_remote(kRemoteClosed);  // later posts find the stack closed
  // EL-19: pending callbacks are discarded without running; tasks in the
  // ready queue just never take their next step.
  for (runnable* n = ready_.head; n;) {
    runnable* next = n->next;
    if (n->kind == node_kind::task)
      static_cast<task_base*>(n)->clear(future_core::f_queued);
    else
      static_cast<handle_node*>(n)->release();
    n = next;
  }
  ready_ = {};
  timers_.clear([](timer_node* n) {
    if (n->fire == &timer_handle_fire) static_cast<timer_handle_node*>(n)->release();
  });
  // Async generators still open stay with their owners, untracked: one
  // destroyed with a task below finds itself unlinked already.
  while (asyncgen_link* g = asyncgens_) {
    asyncgens_ = g->asyncgen_next;
    *g = asyncgen_link{};
  }
  // The loop lets go of its pending tasks; those nobody else holds are
  // destroyed now (and reported, TK-13), running their frames' destructors.
  std::vector<task_base*> pending;
  pending.reserve(registry_.size());
  registry_.for_each([&](task_base* t) { pending.push_back(t); });
  for (task_base* t : pending) {
    registry_.remove(t->reg_idx_);
    t->clear(future_core::f_registered);
  }
  for (task_base* t : pending) t->release();
  // Transports and servers nobody closed let go of their I/O now.
  while (loop_resource* r = resources_) {
    remove_resource(r);
    r->on_loop_close();
  }
  // Completions other threads have yet to post will find the loop closed;
  // what they would have delivered to is let go of here, on the loop's thread.
  while (remote_completion* r = remote_ops_) {
    remote_ops_ = r->next;
    r->registered = false;
    if (r->is_work) --remote_op_count_;
    r->abandon(r);
    r->release();
  }
  // The backend stays until the loop is destroyed: another thread may be
  // inside call_soon_threadsafe, waking it, right now.
}

void loop_core::call_exception_handler(const exception_context& ctx) noexcept {
  if (!handler_) {
    default_exception_handler(ctx);
    return;
  }
  try {
    handler_fn h = handler_;  // the handler may replace itself
    h(self(), ctx);
  } catch (...) {
    // EL-11: a broken handler is reported by the default one; the loop goes on.
    exception_context broken;
    broken.message = "Unhandled error in exception handler";
    broken.exception = std::current_exception();
    default_exception_handler(broken);
    default_exception_handler(ctx);
  }
}

void loop_core::default_exception_handler(const exception_context& ctx) noexcept {
  try {
    std::string out = "corio: " + (ctx.message.empty() ? std::string("Unhandled exception in event loop") : ctx.message);
    if (!ctx.task.empty()) out += "\n  task: " + ctx.task;
    if (!ctx.future.empty()) out += "\n  future: " + ctx.future;
    if (!ctx.handle.empty()) out += "\n  handle: " + ctx.handle;
    if (ctx.exception) out += "\n  exception: " + describe_exception(ctx.exception);
    out += '\n';
    std::fputs(out.c_str(), stderr);
  } catch (...) {
    std::fputs("corio: an error occurred and could not be described\n", stderr);
  }
}

}  // namespace detail

// -- event_loop -----------------------------------------------------------------

event_loop::event_loop(const loop_options& opts) : detail::loop_core(opts) {}

event_loop::~event_loop() {
  if (detail::tl_event_loop == this) detail::tl_event_loop = nullptr;
  // Close while the whole object is alive: closing may run destructors of
  // task frames and call the exception handler with this loop.
  if (!is_running()) {
    try {
      close();
    } catch (...) {
    }
  }
}

const char* event_loop::backend_name() const noexcept { return loop_core::backend_name(); }

void event_loop::advance_time(duration d) {
  if (!is_virtual_clock()) throw std::logic_error("corio: advance_time needs a loop with clock_kind::virtual_");
  advance_virtual(d.count());
}

void handle::cancel() {
  if (!n_ || n_->cancelled()) return;
  n_->set(detail::handle_node::f_cancelled);
  // A threadsafe handle may be cancelled from any thread: only the loop
  // drops its callable, when it dequeues it.
  if (n_->threadsafe()) return;
  if (n_->kind == detail::node_kind::timer_handle) {
    auto* t = static_cast<detail::timer_handle_node*>(n_);
    if (t->armed()) {
      t->loop->remove_timer(t);
      t->release();  // the wheel's reference
    }
  }
  if (!n_->has(detail::handle_node::f_running)) n_->finish();  // else run_handle finishes it
}

time_point timer_handle::when() const noexcept {
  return time_point(duration(static_cast<const detail::timer_handle_node*>(n_)->when));
}

namespace {

// The type of the callable a handle runs, read from the name of its invoker,
// "corio::detail::callable_node<Base, F>::callable_node(F&&)::{lambda...}";
// "callback" where the symbol table does not know it (a stripped program).
std::string callback_name(const detail::handle_node* n) {
  const std::string s = detail::symbol_name(reinterpret_cast<const void*>(n->invoke));
  // The template arguments of the first `key<` in `s`, split at depth 0.
  const auto template_args = [&s](std::size_t from, const char* key) {
    std::vector<std::string> args;
    const std::size_t at = s.find(key, from);
    if (at == std::string::npos) return args;
    int depth = 0;
    std::size_t start = at + std::strlen(key);
    for (std::size_t i = start; i < s.size(); ++i) {
      const char c = s[i];
      if (c == '<' || c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == '>' || c == ')' || c == ']' || c == '}') {
        if (depth-- == 0) {
          args.push_back(s.substr(start, i - start));
          return args;
        }
      } else if (c == ',' && depth == 0) {
        args.push_back(s.substr(start, i - start));
        start = i + 2;  // ", "
      }
    }
    return std::vector<std::string>{};
  };
  std::vector<std::string> args = template_args(0, "callable_node<");
  if (args.size() != 2) return "callback";
  std::string f = args[1];
  while (!f.empty() && f.back() == ' ') f.pop_back();
  // call_soon(fn, args...) runs a lambda of event_loop::bind<F, A...>: name F.
  if (f.rfind("corio::event_loop::bind<", 0) == 0) {
    const std::size_t at = s.find("corio::event_loop::bind<");
    std::vector<std::string> bound = template_args(at, "corio::event_loop::bind<");
    if (!bound.empty()) f = bound[0];
  }
  return f.empty() ? std::string("callback") : f;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const handle& h) {
  const detail::handle_node* n = h.n_;
  if (n == nullptr) return os << "<Handle (empty)>";
  // Python: events.Handle._repr_info and TimerHandle._repr_info.
  const bool timer = n->kind == detail::node_kind::timer_handle;
  os << (timer ? "<TimerHandle" : "<Handle");
  if (n->cancelled()) os << " cancelled";
  if (timer) {
    os << " when=";
    detail::write_seconds(os, static_cast<const detail::timer_handle_node*>(n)->when);
  }
  if (!n->cancelled()) os << ' ' << callback_name(n);
  return os << '>';
}

event_loop& get_running_loop() {
  detail::loop_core* l = detail::tls.running_loop;
  if (!l) throw std::runtime_error("no running event loop");
  return detail_loop(*l);
}

event_loop& get_event_loop() {
  if (detail::loop_core* l = detail::tls.running_loop) return detail_loop(*l);
  if (detail::tl_event_loop) return *detail::tl_event_loop;
  throw std::runtime_error("There is no current event loop in this thread");
}

void set_event_loop(event_loop* loop) noexcept { detail::tl_event_loop = loop; }

}  // namespace corio

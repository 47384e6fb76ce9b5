#include <corio/detail/context.hpp>
#include <corio/tasks.hpp>

#include <corio/detail/io_await.hpp>
#include <corio/detail/repr.hpp>
#include <corio/detail/symbolize.hpp>
#include <corio/detail/sync_waiter.hpp>
#include <corio/detail/wait_set.hpp>

#include <atomic>
#include <cstring>
#include <ostream>

namespace corio {
namespace detail {

namespace {

std::atomic<std::uint64_t> g_task_counter{0};

const std::string& pending_cancel_msg(const task_base* t) {
  static const std::string empty;
  const core_extra* e = t->extra_if();
  return e ? e->cancel_msg : empty;
}

}  // namespace

void throw_not_schedulable(const task_base* t) {
  if (t == nullptr) throw std::invalid_argument("corio: create_task: the task handle is empty");
  if (t->has(future_core::f_root)) throw std::runtime_error("corio: create_task: this task is already scheduled");
  throw std::runtime_error("corio: create_task: coroutine is already being awaited");
}

void task_start(task_base* t, loop_core* loop, const task_options* opts) {
  t->loop_ref_ = loop->ref();
  t->set(future_core::f_root);
  t->leaf = t->frame();
  context_impl* ctx = nullptr;
  bool eager = false;
  if (opts) {
    if (!opts->name.empty()) task_set_name(t, opts->name);
    ctx = impl_of(opts->context);
    eager = opts->eager_start;
  }
  // CV-06: a copy of the creator's context, or the given Context itself (CV-07).
  if (ctx) {
    ctx->retain();
    *t->ctx_slot() = reinterpret_cast<std::uintptr_t>(ctx) | kImplTag;
  } else {
    *t->ctx_slot() = capture_context();
  }
  loop->register_task(t);
  if (eager && tls.running_loop == loop) {
    // TK-04: the eager step runs with the task current, in its context.
    task_base* prev = tls.current_task;
    std::uintptr_t* prev_ctx = tls.ctx_slot;
    t->set(future_core::f_started);
    tls.current_task = t;
    tls.ctx_slot = nullptr;
    t->leaf.resume();
    tls.current_task = prev;
    tls.ctx_slot = prev_ctx;
    return;
  }
  if (CORIO_UNLIKELY(g_debug_loops.load(std::memory_order_relaxed) != 0)) watch_stack_refs(t);
  t->set(future_core::f_queued);  // TK-02: first step through the ready queue
  loop->push(t);
}

bool task_cancel(task_base* t, const std::string& msg) {
  if (t->done()) return false;  // CX-01
  if (!t->has(future_core::f_root))
    throw std::logic_error("corio: cancel: this coroutine is not a scheduled task (use create_task)");
  if (const loop_core* running = tls.running_loop; CORIO_UNLIKELY(running == nullptr || running->ref() != t->loop_ref_)) {
    // A task whose loop is closed (or destroyed) never takes another step:
    // Python's Task.cancel raises here too, when it schedules the wake-up.
    const loop_core* l = t->loop();
    if (l == nullptr || l->is_closed())
      throw std::runtime_error("Event loop is closed (cancel of task " + task_name(t) + ")");
    if (l->debug() && l->running_elsewhere()) throw_not_confined("task.cancel");
  }
  core_extra& e = t->extra();
  ++e.cancelling;
  e.cancel_msg = msg;
  if (t->has(future_core::f_suspended)) {
    // CX-03: cancel what the task waits on; its wake-up delivers the cancel.
    if (suspend_point* sp = t->awaiting; sp && sp->cancel(sp, t, msg)) return true;
  }
  t->set(future_core::f_must_cancel);  // CX-05: delivered at the next suspension
  return true;
}

void suspend_with_pending_cancel(task_base* t, suspend_point* sp) {
  // Python's __step: a task with a pending cancel cancels what it now waits on.
  if (sp && sp->cancel(sp, t, pending_cancel_msg(t))) t->clear(future_core::f_must_cancel);
}

[[noreturn]] void deliver_cancel(task_base* t) {
  t->clear(future_core::f_must_cancel);
  throw cancelled_error(pending_cancel_msg(t));
}

void throw_pending_cancel(const task_base* t) { throw cancelled_error(pending_cancel_msg(t)); }

void task_complete(task_base* t) noexcept {
  t->clear(future_core::f_must_cancel | future_core::f_suspended | future_core::f_queued);
  loop_core* loop = t->loop();
  t->finish(t->state());  // listeners first (Python schedules callbacks on completion)
  if (loop) loop->unregister_task(t);  // may destroy t
}

void task_fail(task_base* t, std::exception_ptr e) noexcept {
  std::uint16_t st = future_core::st_exception;
  if (is_cancelled_error(e)) {
    st = future_core::st_cancelled;  // a cancelled_error escaping the body cancels the task
  } else if (is_fatal(e)) {
    t->set(future_core::f_retrieved);  // TK-15: stored, and it leaves the loop
    if (loop_core* l = t->loop()) l->set_fatal(e);
  }
  ::new (&t->exc_slot()) std::exception_ptr(std::move(e));
  t->bits = static_cast<std::uint16_t>((t->bits & ~future_core::st_mask) | st);
}

std::exception_ptr pending_cancel_exception(const task_base* t) noexcept {
  try {
    return make_cancelled(pending_cancel_msg(t));
  } catch (...) {
    return std::current_exception();
  }
}

void task_cancel_unstarted(task_base* t) noexcept {
  ::new (&t->exc_slot()) std::exception_ptr(pending_cancel_exception(t));
  t->bits = static_cast<std::uint16_t>((t->bits & ~future_core::st_mask) | future_core::st_cancelled);
  task_complete(t);
}

namespace {

// What a frame's function is called: its resume function, named after the
// coroutine ("f(int) [clone .actor]" with GCC, "f(int) (.resume)" with
// Clang), and once it has finished (both compilers clear the resume pointer
// at the final suspend), its destroy function, which is named likewise.
const void* frame_function(std::coroutine_handle<> frame) noexcept {
  void* fns[2] = {};
  std::memcpy(fns, frame.address(), sizeof fns);
  return fns[0] ? fns[0] : fns[1];
}

// The demangled coroutine function of `fn` ("f(int)"); empty if the symbol
// tables do not know it.
std::string function_name(const void* fn) {
  std::string name = symbol_name(fn);
  if (name.empty()) return name;
  // GCC's actor demangles as "f(f(int)::_Z1fi.Frame*)": keep "f(int)".
  if (const std::size_t z = name.find("::_Z"); z != std::string::npos) {
    for (std::size_t k = name.find('(', 1); k < z; k = name.find('(', k + 1)) {
      if (name.compare(k + 1, k, name, 0, k) == 0) {
        name = name.substr(k + 1, z - k - 1);
        break;
      }
    }
  }
  for (const char* suffix : {" [clone .resume]", " [clone .actor]", " (.resume)", " [clone .destroy]", " (.destroy)"}) {
    const std::size_t n = std::strlen(suffix);
    if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0) {
      name.resize(name.size() - n);
      break;
    }
  }
  static const std::string long_string = "std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >";
  for (std::size_t p; (p = name.find(long_string)) != std::string::npos;) name.replace(p, long_string.size(), "std::string");
  return name;
}

}  // namespace

std::string coroutine_name(std::coroutine_handle<> frame) {
  const void* fn = frame_function(frame);
  std::string name = function_name(fn);
  if (name.empty()) return "coroutine at " + code_location(fn);
  return "coroutine " + name;
}

std::string coroutine_function(std::coroutine_handle<> frame) {
  const void* fn = frame_function(frame);
  std::string name = function_name(fn);
  return name.empty() ? code_location(fn) : name;
}

void task_fail_dangling(task_base* t) noexcept {
  std::exception_ptr e;
  try {
    throw std::runtime_error(
        "corio debug: task " + task_name(t) + " (" + coroutine_name(t->frame()) +
        ") was given a reference to stack memory that was released before its first step: a temporary, or a "
        "local of a function that has returned, bound to a reference parameter or the lambda of a coroutine "
        "lambda. create_task runs the coroutine later; pass such arguments by value (docs/guide.md, \"Lambda coroutines and lifetimes\")");
  } catch (...) {
    e = std::current_exception();
  }
  ::new (&t->exc_slot()) std::exception_ptr(std::move(e));
  t->bits = static_cast<std::uint16_t>((t->bits & ~future_core::st_mask) | future_core::st_exception);
  task_complete(t);
}

std::uint32_t task_cancelling(const task_base* t) noexcept {
  const core_extra* e = t->extra_if();
  return e ? e->cancelling : 0;
}

std::uint32_t task_uncancel(task_base* t) noexcept {
  core_extra* e = t->extra_if();
  if (!e || e->cancelling == 0) return 0;
  if (--e->cancelling == 0) t->clear(future_core::f_must_cancel);  // CX-14 (3.13)
  return e->cancelling;
}

const std::string& task_name(task_base* t) {
  core_extra& e = t->extra();
  if (!e.named) {
    e.name = "Task-" + std::to_string(g_task_counter.fetch_add(1, std::memory_order_relaxed) + 1);
    e.named = true;
  }
  return e.name;
}

void task_set_name(task_base* t, std::string name) {
  core_extra& e = t->extra();
  e.name = std::move(name);
  e.named = true;
}

void write_task_wait(std::ostream& os, const task_base* t) {
  const suspend_point* sp = t->awaiting;
  if (sp == nullptr) return;
  const auto hook = sp->cancel;
  if (hook == &sleep_awaiter::cancel_sleep) {
    os << " wait=sleep";
  } else if (hook == &core_waiter::cancel_awaited) {
    future_core* c = static_cast<const core_waiter*>(sp)->core;
    if (c->is_task()) {
      os << " wait=task ";
      write_quoted(os, task_name(static_cast<task_base*>(c)));
    } else {
      os << " wait=future";
    }
  } else if (hook == &wait_set::on_cancel) {
    os << " wait=futures";  // wait(), wait_for's cancel-and-wait, a task_group's exit
  } else if (hook == &io_awaiter::on_cancel) {
    static constexpr const char* kOps[] = {"recv", "send", "recvmsg", "sendmsg", "accept",
                                           "connect", "poll", "recv", "accept"};
    const io_op& op = static_cast<const io_awaiter*>(sp)->op;
    os << " wait=" << kOps[static_cast<unsigned>(op.kind)] << "(fd=" << op.fd << ')';
  } else if (wait_kind k; sync_wait_kind(hook, k)) {
    static constexpr const char* kKinds[] = {"Lock", "Event", "Condition", "Semaphore",
                                             "Queue.get", "Queue.put", "StreamReader"};
    os << " wait=" << kKinds[static_cast<unsigned>(k)];
  }
}

void write_task(std::ostream& os, const task_base* t, void (*result)(std::ostream&, const task_base*)) {
  if (t == nullptr) {
    os << "<Task (empty)>";
    return;
  }
  if (!t->has(future_core::f_root)) {
    // Not scheduled: Python's coroutine object, `<coroutine object f at 0x...>`.
    os << "<coroutine object " << coroutine_function(t->frame()) << " at ";
    write_address(os, t->frame().address());
    os << '>';
    return;
  }
  // Python: base_tasks._task_repr_info.
  auto* mt = const_cast<task_base*>(t);  // the name is made on first use, as get_name() makes it
  const char* state = "pending";
  if (t->state() == future_core::st_cancelled)
    state = "cancelled";
  else if (t->done())
    state = "finished";
  else if (task_cancelling(t) != 0)
    state = "cancelling";
  os << "<Task " << state << " name=";
  write_quoted(os, task_name(mt));
  os << " coro=<" << coroutine_function(t->frame()) << '>';
  if (t->state() == future_core::st_exception) {
    os << " exception=";
    write_exception(os, mt->exc_slot());
  } else if (t->state() == future_core::st_result && result != nullptr) {
    os << " result=";
    result(os, t);
  } else if (!t->done() && t->has(future_core::f_suspended)) {
    write_task_wait(os, t);
  }
  os << '>';
}

void core_waiter::check_awaitable(task_base* t) const {
  if (static_cast<future_core*>(t) == core) throw std::runtime_error("Task cannot await on itself");  // TK-09
  throw std::runtime_error("corio: task " + task_name(t) +
                           " awaits a future attached to a different event loop");  // FU-13
}

}  // namespace detail

event_loop& any_task::get_loop() const {
  detail::loop_core* l = t_->loop();
  if (!l) throw std::runtime_error("corio: the task's event loop is gone");
  return detail_loop(*l);
}

std::ostream& operator<<(std::ostream& os, const any_task& t) {
  detail::write_task(os, t.base(), nullptr);
  return os;
}

any_task current_task() {
  if (!detail::tls.running_loop) throw std::runtime_error("no running event loop");
  return any_task(detail::tls.current_task);
}

std::vector<any_task> all_tasks(event_loop& loop) {
  std::vector<any_task> out;
  detail_core(loop).registry().for_each([&](detail::task_base* t) {
    if (!t->done()) out.emplace_back(t);
  });
  return out;
}

std::vector<any_task> all_tasks() { return all_tasks(get_running_loop()); }

}  // namespace corio

#include <corio/async_generator.hpp>

#include <corio/detail/task_base.hpp>

#include <exception>
#include <string>
#include <string_view>

namespace corio {

namespace detail {

namespace {

// The generator's coroutine function, "ticks(int)", for reports, from its
// resume function (read before it finishes: a finished frame's is null).
std::string asyncgen_name(void* resume) {
  std::string name = coroutine_name_of(resume);
  constexpr std::string_view prefix = "coroutine ";
  if (std::string_view(name).starts_with(prefix)) name.erase(0, prefix.size());
  return name;
}

}  // namespace

void first_iteration(agen_promise_base* p) noexcept {
  loop_core* loop = tls.running_loop;
  if (loop == nullptr) return;
  if (CORIO_UNLIKELY(loop->asyncgens_shutdown_called_)) {
    // Python warns (ResourceWarning) and still tracks it; nothing will close
    // it unless shutdown_asyncgens() is awaited again.
    exception_context ctx;
    try {
      ctx.message = "asynchronous generator " + asyncgen_name(coroutine_resume_fn(p->self_)) + " was scheduled after loop.shutdown_asyncgens() call";
    } catch (...) {
    }
    loop->call_exception_handler(ctx);
  }
  p->asyncgen_loop = loop;
  p->asyncgen_prev = nullptr;
  p->asyncgen_next = loop->asyncgens_;
  if (loop->asyncgens_) loop->asyncgens_->asyncgen_prev = p;
  loop->asyncgens_ = p;
}

void unregister_asyncgen(asyncgen_link* g) noexcept {
  loop_core* loop = g->asyncgen_loop;
  if (g->asyncgen_prev) {
    g->asyncgen_prev->asyncgen_next = g->asyncgen_next;
  } else {
    loop->asyncgens_ = g->asyncgen_next;
  }
  if (g->asyncgen_next) g->asyncgen_next->asyncgen_prev = g->asyncgen_prev;
  *g = asyncgen_link{};
}

}  // namespace detail

task<void> event_loop::shutdown_asyncgens() {
  detail::loop_core& core = detail_core(*this);
  core.asyncgens_shutdown_called_ = true;
  for (detail::asyncgen_link* g = core.asyncgens_; g; g = g->asyncgen_next) g->asyncgen_to_close = true;
  // One at a time, newest first, and the list is searched again after each
  // close instead of being copied: closing one generator may finish or
  // destroy others (the locals of its frame), which leave the list. Python
  // closes them concurrently; its generators cannot be destroyed by another's
  // close, as a C++ generator owned by another's frame is.
  for (;;) {
    detail::asyncgen_link* g = core.asyncgens_;
    while (g && !g->asyncgen_to_close) g = g->asyncgen_next;
    if (g == nullptr) break;
    g->asyncgen_to_close = false;
    auto* p = static_cast<detail::agen_promise_base*>(g);
    void* const resume = detail::coroutine_resume_fn(p->self_);  // names it in a report
    std::exception_ptr err;
    try {
      co_await detail::agen_close_step(p);
    } catch (...) {
      err = std::current_exception();
    }
    if (!err) continue;
    if (detail::exception_is<cancelled_error>(err)) {
      // This task was cancelled: stop here. A cancellation of the body's own
      // (the task was not cancelled) is no error, as in Python, which
      // reports only Exception subclasses.
      if (current_task().cancelling() > 0) std::rethrow_exception(err);
      continue;
    }
    if (detail::is_fatal(err)) std::rethrow_exception(err);
    exception_context ctx;
    ctx.exception = err;
    try {
      ctx.message = "an error occurred during closing of asynchronous generator " + detail::asyncgen_name(resume);
    } catch (...) {
      ctx.message = "an error occurred during closing of asynchronous generator";
    }
    call_exception_handler(ctx);
  }
}

}  // namespace corio

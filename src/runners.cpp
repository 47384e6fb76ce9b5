#include <corio/detail/signals.hpp>
#include <corio/gather.hpp>
#include <corio/runners.hpp>
#include <corio/threads.hpp>

#include <signal.h>
#include <cstdio>
#include <unistd.h>

namespace corio {

namespace detail {

struct sigint_guard::state {
  any_task main;
  unsigned interrupts = 0;
  bool active = true;

  explicit state(const any_task& m) : main(m) {}
  // Python: Runner._on_sigint, on the loop's thread (not in the handler).
  void on_sigint() {
    if (!active) return;  // queued just before run() returned
    if (++interrupts == 1 && !main.done()) {
      main.cancel();
      return;
    }
    // The second Ctrl-C: the program did not stop on the first (a cleanup
    // that hangs, a task that swallows cancellation). Python raises
    // KeyboardInterrupt wherever the main thread is; here it leaves the
    // loop (EL-12), and runner::close still cancels what is left.
    throw keyboard_interrupt();
  }
};

sigint_guard::sigint_guard(event_loop& loop, const any_task& main) : loop_(&loop) {
  // Python installs its handler only in the main thread, and only when
  // SIGINT still has Python's default handler (default_int_handler); the
  // C counterpart of that default is SIG_DFL.
  if (::getpid() != ::gettid() || !signal_is_default(SIGINT)) return;
  state_ = std::make_shared<state>(main);
  add_owned_signal_handler(detail_core(loop), SIGINT, [s = state_] { s->on_sigint(); }, state_.get());
}

sigint_guard::~sigint_guard() {
  if (!state_) return;
  state_->active = false;
  remove_owned_signal_handler(detail_core(*loop_), SIGINT, state_.get());
}

void sigint_guard::rethrow_if_interrupted(any_task& main) {
  if (state_ && state_->interrupts > 0 && main.uncancel() == 0) throw keyboard_interrupt();
}

}  // namespace detail

event_loop& runner::get_loop() {
  if (closed_) throw std::runtime_error("Runner is closed");
  if (!loop_) loop_.emplace(opts_);
  return *loop_;
}

event_loop& runner::prepare_run() {
  if (detail::tls.running_loop) throw std::runtime_error("asyncio.run() cannot be called from a running event loop");
  return get_loop();
}

namespace {

// EL-25: cancel what is still pending and let it finish; errors other than
// the cancellation go to the exception handler.
void cancel_all_tasks(event_loop& loop) {
  std::vector<any_task> pending = all_tasks(loop);
  if (pending.empty()) return;
  for (any_task& t : pending) t.cancel();
  loop.run_until_complete([](std::vector<any_task> ts) -> task<> {
    co_await gather_settled(std::move(ts));
  }(pending));
  for (any_task& t : pending) {
    if (t.cancelled()) continue;
    if (std::exception_ptr e = t.exception()) {
      exception_context ctx;
      ctx.message = "unhandled exception during asyncio.run() shutdown";
      ctx.exception = e;
      ctx.task = t.get_name();
      loop.call_exception_handler(ctx);
    }
  }
}

}  // namespace

runner::~runner() {
  try {
    close();
  } catch (...) {
    std::fprintf(stderr, "corio: runner destroyed without close(); its shutdown raised %s\n",
                 describe_exception(std::current_exception()).c_str());
  }
}

void runner::close() {
  if (closed_) return;
  closed_ = true;
  if (!loop_) return;
  try {
    // Python's order: the tasks, then the async generators (whose cleanup
    // may still use the executor), then the default executor.
    cancel_all_tasks(*loop_);
    loop_->run_until_complete(loop_->shutdown_asyncgens());  // EL-25
    loop_->run_until_complete(loop_->shutdown_default_executor());  // TH-10
  } catch (...) {
    loop_->close();
    loop_.reset();
    throw;
  }
  loop_->close();
  loop_.reset();
}

}  // namespace corio

#include <corio/gather.hpp>
#include <corio/runners.hpp>
#include <corio/threads.hpp>

namespace corio {

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

void runner::close() {
  if (closed_) return;
  closed_ = true;
  if (!loop_) return;
  try {
    cancel_all_tasks(*loop_);
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

// futures::process_pool_executor on the pool engine (pool_core.hpp): the
// executor's rules where they differ from the pool's are options of the
// engine (non-daemonic workers, breaking when a worker dies).
#include <corio/futures/process_pool_executor.hpp>

#include "pool_core.hpp"

namespace corio::futures {

namespace mp = corio::multiprocessing;
namespace mpd = corio::multiprocessing::detail;

namespace {

int checked_workers(std::optional<int> n) {
  const int v = n.value_or(mp::cpu_count());
  if (v <= 0) throw std::invalid_argument("max_workers must be greater than 0");
  return v;
}

mp::context pick_context(const std::optional<mp::context>& ctx, const std::optional<int>& max_tasks) {
  if (max_tasks && *max_tasks < 1) throw std::invalid_argument("max_tasks_per_child must be >= 1");
  if (ctx) {
    if (max_tasks && ctx->get_start_method() == "fork")
      throw std::invalid_argument("max_tasks_per_child is incompatible with the 'fork' multiprocessing start method; "
                                  "supply a different mp_context");
    return *ctx;
  }
  return max_tasks ? mp::get_context("spawn") : mp::get_context();  // MP-52
}

}  // namespace

process_pool_executor::process_pool_executor(std::optional<int> max_workers, std::optional<mp::context> mp_context,
                                             mp::pool_initializer initializer, std::optional<int> max_tasks_per_child)
    : max_workers_(checked_workers(max_workers)),
      max_tasks_(max_tasks_per_child),
      ctx_(pick_context(mp_context, max_tasks_per_child)),
      method_(ctx_.get_start_method()) {
  if (initializer) init_ = mp::detail::pool_initializer_frame(initializer, method_ != "fork");
}

process_pool_executor::~process_pool_executor() {
  try {
    shutdown(true);
  } catch (...) {
  }
}

std::uint64_t process_pool_executor::next_id() noexcept {
  static std::atomic<std::uint64_t> ids{0};
  return ++ids;
}

void process_pool_executor::enqueue(std::shared_ptr<mpd::pool_job> job, mpd::task_frames frames,
                                    std::uint64_t id) {
  std::shared_ptr<mpd::pool_core> core;
  {
    std::lock_guard g(mu_);
    if (shutdown_) throw std::runtime_error("cannot schedule new futures after shutdown");
    if (!core_) {
      core_ = std::make_shared<mpd::pool_core>(mpd::pool_core_options{
          .processes = max_workers_,
          .maxtasks = max_tasks_,
          .ctx = ctx_,
          .init = init_,
          .daemon = false,  // MP-53: tasks may start processes
          .break_on_worker_death = true,
          .broken_error = [](const std::string& why) {
            return std::make_exception_ptr(broken_process_pool(
                "A process in the process pool was terminated abruptly while the future was running or pending (" +
                why + ")"));
          }});
    }
    core = core_;
  }
  if (core->is_broken())
    throw broken_process_pool("A child process terminated abruptly, the process pool is not usable anymore (" +
                              core->broken_why() + ")");
  core->submit(std::move(job), std::move(frames), id);
}

void process_pool_executor::shutdown(bool wait, bool cancel_futures) {
  std::shared_ptr<mpd::pool_core> core;
  {
    std::lock_guard g(mu_);
    shutdown_ = true;
    core = core_;
  }
  if (!core) return;
  if (cancel_futures) core->cancel_queue();
  core->close();
  if (wait) core->join();
}

std::vector<pid_t> process_pool_executor::worker_pids() const {
  std::lock_guard g(mu_);
  return core_ ? core_->worker_pids() : std::vector<pid_t>{};
}

void process_pool_executor::schedule(detail::work_ref item) {
  (void)item;
  throw std::invalid_argument(
      "process_pool_executor: a call submitted through the futures::executor base class is type-erased and cannot "
      "cross a process; call submit() on the process_pool_executor itself (loop.run_in_executor does, given a "
      "process_pool_executor*)");
}

}  // namespace corio::futures

#include <corio/threads.hpp>

#include <memory>
#include <stdexcept>
#include <thread>

namespace corio {

namespace {

futures::thread_pool_executor* as_pool(const std::shared_ptr<void>& p) noexcept {
  return static_cast<futures::thread_pool_executor*>(p.get());
}

}  // namespace

void event_loop::set_default_executor(std::shared_ptr<futures::thread_pool_executor> executor) {
  if (!executor) throw std::invalid_argument("set_default_executor: executor is null");
  default_executor_ = std::move(executor);
}

futures::executor& event_loop::default_executor() {
  if (executor_shutdown_called_) throw std::runtime_error("Executor shutdown has been called");
  if (!default_executor_) {
    // Python: ThreadPoolExecutor(thread_name_prefix='asyncio').
    default_executor_ = std::make_shared<futures::thread_pool_executor>(std::size_t{0}, "asyncio");
  }
  return *as_pool(default_executor_);
}

task<void> event_loop::shutdown_default_executor() {
  executor_shutdown_called_ = true;
  std::shared_ptr<void> ex = std::move(default_executor_);
  if (!ex) co_return;
  // Joining the workers blocks, so a helper thread does it while the loop
  // runs on (Python does the same).
  futures::future<void> joined;
  std::thread helper([ex, joined]() mutable {
    try {
      as_pool(ex)->shutdown(true);
      joined.set_result();
    } catch (...) {
      joined.set_exception(std::current_exception());
    }
  });
  try {
    co_await wrap_future(joined, *this);
  } catch (...) {
    helper.detach();  // cancelled: the helper owns what it uses and finishes alone
    throw;
  }
  helper.join();
}

}  // namespace corio

// Python: concurrent.futures.ThreadPoolExecutor and BrokenThreadPool
// (concurrent/futures/thread.py).
#pragma once

#include <corio/futures/executor.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace corio::futures {

/// Python: concurrent.futures.thread.BrokenThreadPool. A worker's
/// initializer threw: the pool cannot run work any more (CF-14).
class broken_thread_pool : public broken_executor {
 public:
  using broken_executor::broken_executor;
};

namespace detail {
class pool_core;
}  // namespace detail

/// Python: concurrent.futures.ThreadPoolExecutor. Runs submitted calls on up
/// to max_workers() threads, started on demand (one per submit while no
/// worker is idle) and reused when idle; each thread is named
/// "<prefix>_<i>" (CF-13). An exception thrown by a call goes to its future
/// and never ends the worker; neither does one thrown by a done callback.
///
/// Destruction is shutdown(wait=true) (Python's `with` exit, CF-12): it
/// waits for every pending call, also after shutdown(wait=false). The
/// executor may be destroyed from one of its own calls (as any object, once
/// no other thread is still inside one of its members): that worker is then
/// left to finish the queue on its own.
class thread_pool_executor final : public executor {
 public:
  /// Python: ThreadPoolExecutor(max_workers=None, thread_name_prefix='',
  /// initializer=None). An unsigned `max_workers` of 0 (the default) stands for
  /// None: min(32, cpu count + 4). `thread_name_prefix` defaults to
  /// "ThreadPoolExecutor-<n>". `initializer` runs first in each new worker;
  /// if it throws, the pool is broken (CF-14).
  explicit thread_pool_executor(std::size_t max_workers = 0, std::string thread_name_prefix = "",
                                std::function<void()> initializer = {});
  /// A signed `max_workers` must be > 0: std::invalid_argument otherwise, as
  /// Python raises ValueError for max_workers <= 0 (CF-13).
  template <std::signed_integral I>
  explicit thread_pool_executor(I max_workers, std::string thread_name_prefix = "", std::function<void()> initializer = {})
      : thread_pool_executor(checked_max_workers(static_cast<long long>(max_workers)), std::move(thread_name_prefix),
                             std::move(initializer)) {}
  ~thread_pool_executor() override;

  /// Python: ThreadPoolExecutor._max_workers.
  std::size_t max_workers() const noexcept;
  /// Python: ThreadPoolExecutor.shutdown(wait=True, *, cancel_futures=False)
  /// (CF-12). With `cancel_futures`, the calls not started are cancelled (their
  /// callbacks run in this thread); the running ones complete. With `wait`,
  /// blocks until all pending calls are done and the workers have exited; a
  /// call of this executor that shuts it down does not wait for itself.
  void shutdown(bool wait = true, bool cancel_futures = false) override;

 protected:
  void schedule(detail::work_ref item) override;

 private:
  static std::size_t checked_max_workers(long long n);
  std::shared_ptr<detail::pool_core> core_;
};

}  // namespace corio::futures

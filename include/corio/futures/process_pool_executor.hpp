// Python: concurrent.futures.ProcessPoolExecutor and BrokenProcessPool
// (concurrent/futures/process.py).
//
// Calls run in worker processes of a multiprocessing pool engine (one pipe
// per worker, one call per worker at a time: multiprocessing/pool.hpp). What
// a call may be is the pool's rule: a function or a capture-less lambda
// with any start method, and with fork also a trivially copyable callable;
// arguments and results cross through the codec.
//
// submit() and map() are this class's own (they encode the call), so they
// are found when the executor is used as itself, as
// loop.run_in_executor(&executor, f, args...) does. A call submitted
// through a plain futures::executor& cannot cross a process (it is type
// erased): that submit() throws std::invalid_argument saying so.
//
// As Python's (MP-49, MP-50): a worker that ends abruptly, or an
// initializer that raises, breaks the executor: every pending or running
// future fails with broken_process_pool, the other workers are stopped and
// submit() raises broken_process_pool. Nothing submitted is dropped
// silently.
//
// A worker is sent the call it runs and the next one: those are RUNNING
// and cannot be cancelled (MP-54: CPython marks max_workers + 1 calls
// running). Departure: workers start at the first submit, all of them,
// whatever the start method (MP-53).
#pragma once

#include <corio/futures/executor.hpp>
#include <corio/futures/future.hpp>
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/detail/pool_job.hpp>
#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/multiprocessing/pool.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::multiprocessing::detail {
class pool_core;
}  // namespace corio::multiprocessing::detail

namespace corio::futures {

/// Python: concurrent.futures.process.BrokenProcessPool. A worker ended
/// abruptly or its initializer raised: the executor cannot run work any more.
class broken_process_pool : public broken_executor {
 public:
  using broken_executor::broken_executor;
};

namespace detail {

namespace mpd = multiprocessing::detail;

// One chunk of calls (one for submit): their futures, set from the
// worker's outcome.
template <class R>
class executor_job final : public mpd::pool_job {
 public:
  explicit executor_job(std::vector<future<R>> fs) : fs_(std::move(fs)) {}
  bool start(std::uint32_t) override {
    bool any = false;
    for (auto& f : fs_) {
      try {
        any = f.set_running_or_notify_cancel() || any;
      } catch (...) {  // completed directly through the future
      }
    }
    return any;
  }
  void chunk_done(std::uint32_t, std::string_view payload) override {
    std::exception_ptr e;
    try {
      if (single_) {
        if constexpr (std::is_void_v<R>) {
          (void)multiprocessing::decode<std::nullptr_t>(payload);
          set_each([](future<R>& f) { f.set_result(); });
        } else {
          fs_[0].set_result(multiprocessing::decode<R>(payload));
        }
      } else {
        if constexpr (!std::is_void_v<R>) {
          std::vector<R> rs = mpd::decode_chunk<R>(payload);
          if (rs.size() != fs_.size()) throw multiprocessing::codec_error("process pool: a chunk's result has the wrong size");
          for (std::size_t i = 0; i < rs.size(); ++i) settle(fs_[i], [&](future<R>& f) { f.set_result(std::move(rs[i])); });
        }
      }
    } catch (...) {
      e = std::current_exception();
    }
    // Failed outside the handler: this thread lets go of the exception
    // before a waiter can see it.
    if (e) chunk_failed(0, std::move(e));
  }
  void chunk_failed(std::uint32_t, std::exception_ptr e) override {
    set_each([&](future<R>& f) { f.set_exception(e); });
  }
  void cancel(std::uint32_t) override {
    for (auto& f : fs_) f.cancel();
  }
  bool single_ = true;

 private:
  template <class G>
  static void settle(future<R>& f, G&& g) {
    if (f.done()) return;
    try {
      g(f);
    } catch (...) {  // done meanwhile
    }
  }
  template <class G>
  void set_each(G&& g) {
    for (auto& f : fs_) settle(f, g);
  }
  std::vector<future<R>> fs_;
};

}  // namespace detail

/// Python: concurrent.futures.ProcessPoolExecutor(max_workers, mp_context,
/// initializer, initargs, max_tasks_per_child). Destruction is
/// shutdown(wait=true).
class process_pool_executor final : public executor {
 public:
  using duration = std::chrono::duration<double>;

  /// max_workers: none is cpu_count(), below 1 std::invalid_argument;
  /// mp_context: none is the default context, or spawn when
  /// max_tasks_per_child is given, which must be 1 or more and cannot go
  /// with fork (std::invalid_argument, MP-52).
  explicit process_pool_executor(std::optional<int> max_workers = std::nullopt,
                                 std::optional<multiprocessing::context> mp_context = std::nullopt,
                                 multiprocessing::pool_initializer initializer = {},
                                 std::optional<int> max_tasks_per_child = std::nullopt);
  ~process_pool_executor() override;

  /// Python: submit(fn, *args): a future for fn(args...) run in a worker.
  /// An argument or callable that cannot cross raises here.
  template <class F, class... A>
  auto submit(F&& fn, A&&... args) {
    using Fd = std::decay_t<F>;
    using P = detail::mpd::pool_callable<Fd>;
    static_assert(P::is_function || detail::mpd::pool_bytes_ok<Fd>,
                  "process_pool_executor: the function must be a function, a capture-less lambda or (fork) a "
                  "trivially copyable callable");
    static_assert(std::is_invocable_v<typename P::type&, std::decay_t<A>&&...>,
                  "process_pool_executor::submit: fn cannot be called with these arguments");
    using R = std::remove_cvref_t<std::invoke_result_t<typename P::type&, std::decay_t<A>&&...>>;
    const detail::mpd::pool_call call = detail::mpd::make_pool_call(
        static_cast<const Fd&>(fn), &detail::mpd::run_apply<typename P::type, P::from_bytes, std::decay_t<A>...>, spawnlike());
    future<R> f;
    detail::mpd::task_frames frames;
    const std::uint64_t id = next_id();
    detail::mpd::begin_task_frame(frames.blob, id, 0, call);
    detail::mpd::encode_args<std::decay_t<A>...>(frames.blob, args...);
    frames.end();
    auto job = std::make_shared<detail::executor_job<R>>(std::vector<future<R>>{f});
    enqueue(std::move(job), std::move(frames), id);
    return f;
  }

  /// Python: map(fn, iterable, timeout=None, chunksize=1): fn(x) for each
  /// x, shipped in batches of `chunksize` (below 1: std::invalid_argument),
  /// yielded in input order (MP-53) through map_results.
  template <class F, class Range>
  auto map(F&& fn, Range&& items, std::size_t chunksize = 1, std::optional<duration> timeout = std::nullopt) {
    using A = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using Fd = std::decay_t<F>;
    using P = detail::mpd::pool_callable<Fd>;
    static_assert(P::is_function || detail::mpd::pool_bytes_ok<Fd>,
                  "process_pool_executor: the function must be a function, a capture-less lambda or (fork) a "
                  "trivially copyable callable");
    static_assert(!std::is_same_v<A, bool>, "process_pool_executor::map over bools: pass a range of char or int");
    using R = std::remove_cvref_t<std::invoke_result_t<typename P::type&, A&&>>;
    static_assert(!std::is_void_v<R>, "process_pool_executor::map: the function must return a value");
    if (chunksize < 1) throw std::invalid_argument("chunksize must be >= 1.");
    const std::optional<detail::clock::time_point> deadline =
        timeout ? std::optional(detail::clock::now() + std::chrono::duration_cast<detail::clock::duration>(*timeout))
                : std::nullopt;
    const detail::mpd::pool_call call = detail::mpd::make_pool_call(
        static_cast<const Fd&>(fn), &detail::mpd::run_chunk<typename P::type, P::from_bytes, A>, spawnlike());
    const std::vector<A> all(std::ranges::begin(items), std::ranges::end(items));
    std::vector<future<R>> fs(all.size());
    for (std::size_t c = 0; c * chunksize < all.size(); ++c) {
      const std::size_t first = c * chunksize, n = std::min(chunksize, all.size() - first);
      detail::mpd::task_frames frames;
      const std::uint64_t id = next_id();
      detail::mpd::begin_task_frame(frames.blob, id, 0, call);
      detail::mpd::encode_chunk<A>(frames.blob, static_cast<const A*>(all.data() + first), n);
      frames.end();
      auto job = std::make_shared<detail::executor_job<R>>(
          std::vector<future<R>>(fs.begin() + static_cast<std::ptrdiff_t>(first),
                                 fs.begin() + static_cast<std::ptrdiff_t>(first + n)));
      job->single_ = false;
      enqueue(std::move(job), std::move(frames), id);
    }
    return map_results<R>(std::move(fs), deadline);
  }

  /// Python: shutdown(wait=True, *, cancel_futures=False) (CF-12).
  void shutdown(bool wait = true, bool cancel_futures = false) override;

  /// The pids of the workers running now.
  std::vector<pid_t> worker_pids() const;
  /// The workers' start method.
  const std::string& start_method() const noexcept { return method_; }

 protected:
  /// A call through the base class is type-erased: it cannot cross a
  /// process. Refused with std::invalid_argument.
  void schedule(detail::work_ref item) override;

 private:
  bool spawnlike() const noexcept { return method_ != "fork"; }
  std::uint64_t next_id() noexcept;
  void enqueue(std::shared_ptr<detail::mpd::pool_job> job, detail::mpd::task_frames frames, std::uint64_t id);

  const int max_workers_;
  const std::optional<int> max_tasks_;
  const multiprocessing::context ctx_;
  const std::string method_;
  std::string init_;
  mutable std::mutex mu_;
  bool shutdown_ = false;
  std::shared_ptr<detail::mpd::pool_core> core_;  // made at the first submit
};

}  // namespace corio::futures

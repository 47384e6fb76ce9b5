// A task queue on Redis Streams (the role of Celery or RQ in Python): a
// submitter adds calls of registered functions by name, workers in any
// number of processes and hosts take them through a consumer group and
// answer each submitter on its own reply stream. The message layout is in
// docs/design.md ("The task queue on Redis Streams"), so that other
// languages can submit and answer.
#pragma once

#include <corio/distributed/redis.hpp>
#include <corio/locks.hpp>
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/tasks.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace corio::distributed {

/// Where the queue lives and how its workers treat failures.
struct task_queue_options {
  redis_options redis;
  /// Prefix of every key: <name>:tasks (the stream of tasks, consumer group
  /// <name>:workers), <name>:dead (the dead-letter stream),
  /// <name>:result:<task id> (with store_results), <name>:replies:<submitter id>.
  std::string name = "corio";
  /// How long results (and reply streams nobody reads) are kept.
  duration result_ttl = std::chrono::hours(1);
  /// Python: Celery's result backend (`ignore_result=False`). A worker
  /// stores each successful result under <name>:result:<task id> for
  /// result_ttl, where any program can fetch it by task id. Off, results
  /// reach their submitter only on its reply stream (which it deletes when
  /// it closes): one command per task less for Redis.
  bool store_results = true;
  /// A task taken by a worker that has not acknowledged it this long is
  /// taken again by another (XAUTOCLAIM): the worker died or stalled.
  duration visibility_timeout = std::chrono::seconds(30);
  /// Runs of one task, the first included, before it goes to <name>:dead.
  int max_attempts = 3;
  /// Wait before the second run; doubled for each further one.
  duration retry_backoff = std::chrono::milliseconds(100);
  /// A run that takes longer is cancelled and counts as failed. Must stay
  /// below visibility_timeout.
  duration time_limit = std::chrono::seconds(20);
  /// Tasks a worker runs at once on its loop (CPU functions included:
  /// those beyond cpu_processes wait for a pool process, which their time
  /// limit does not count).
  std::size_t concurrency = 16;
  /// Processes of the worker's pool for register_cpu_function's functions;
  /// 0: multiprocessing::cpu_count(). Started as the functions need them.
  std::size_t cpu_processes = 0;
  /// The pool's start method; none: the default context's (fork unless set;
  /// spawn and forkserver need freeze_support() first in main()).
  std::optional<multiprocessing::context> cpu_context;
  /// How long one XREADGROUP waits for tasks before the worker looks at its
  /// stop flag again.
  duration read_block = std::chrono::milliseconds(500);
};

/// A task that failed max_attempts times, or could not be decoded: what the
/// submitter's result raises when the worker sent no exception of its own.
class task_failed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
// One registered function: decodes the msgpack array of arguments, runs,
// encodes the result.
using task_fn = std::function<task<std::string>(std::string_view args)>;

template <class F>
struct fn_traits : fn_traits<decltype(&F::operator())> {};
template <class R, class... A>
struct fn_traits<R (*)(A...)> {
  using result = R;
  using args = std::tuple<std::decay_t<A>...>;
};
template <class R, class... A>
struct fn_traits<R(A...)> : fn_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...) const> : fn_traits<R (*)(A...)> {};
template <class C, class R, class... A>
struct fn_traits<R (C::*)(A...)> : fn_traits<R (*)(A...)> {};

template <class T>
struct unwrap_task {
  using type = T;
  static constexpr bool is_task = false;
};
template <class T>
struct unwrap_task<task<T>> {
  using type = T;
  static constexpr bool is_task = true;
};

template <class F>
task_fn make_task_fn(F fn) {
  using traits = fn_traits<std::decay_t<F>>;
  using args_t = typename traits::args;
  using ret = unwrap_task<typename traits::result>;
  return [fn = std::move(fn)](std::string_view raw) -> task<std::string> {
    args_t args = multiprocessing::decode<args_t>(raw);
    if constexpr (ret::is_task) {
      if constexpr (std::is_void_v<typename ret::type>) {
        co_await std::apply(fn, std::move(args));
        co_return multiprocessing::encode(nullptr);
      } else {
        co_return multiprocessing::encode(co_await std::apply(fn, std::move(args)));
      }
    } else if constexpr (std::is_void_v<typename ret::type>) {
      std::apply(fn, std::move(args));
      co_return multiprocessing::encode(nullptr);
    } else {
      co_return multiprocessing::encode(std::apply(fn, std::move(args)));
    }
  };
}

// A function run in a pool process: its trampoline (which decodes the
// msgpack array of arguments, calls and encodes the result) and the
// function, both as offsets in their module, so that they cross to a
// process of any start method.
struct cpu_function {
  multiprocessing::detail::pool_call call;
};

template <class F, class Tuple>
struct cpu_trampoline;
template <class F, class... A>
struct cpu_trampoline<F, std::tuple<A...>> {
  static constexpr multiprocessing::detail::pool_trampoline value =
      &multiprocessing::detail::run_apply<F, false, A...>;
};

template <class F>
cpu_function make_cpu_function(F fn) {
  if constexpr (!multiprocessing::detail::function_like<const F&>) {
    static_assert(sizeof(F) == 0,  // dependent: fails only here
                  "worker::register_cpu_function: fn must be a function or a capture-less lambda (it is called in "
                  "another process, where only code crosses)");
    return {};
  } else {
    using P = decltype(+fn);
    using traits = fn_traits<P>;
    static_assert(!unwrap_task<typename traits::result>::is_task,
                  "worker::register_cpu_function: fn must not be a coroutine (a pool process has no loop); "
                  "register it with register_function");
    return cpu_function{
        multiprocessing::detail::make_pool_call(+fn, cpu_trampoline<P, typename traits::args>::value, true)};
  }
}

struct submitter_impl;
struct worker_impl;
}  // namespace detail

/// Python: what `celery_app.send_task(name, args)` and `AsyncResult.get()`
/// do, on Redis Streams. Submits calls by function name and gives their
/// results as awaitables. The results come on this submitter's own reply
/// stream, read by one blocking XREAD on a connection of its own: no polling.
/// Used from the loop that was running when it was made.
class submitter {
 public:
  explicit submitter(task_queue_options opts = {});
  ~submitter();
  submitter(const submitter&) = delete;
  submitter& operator=(const submitter&) = delete;

  /// Adds the task `fn(args...)` (XADD) and gives a task whose result is the
  /// function's, decoded as R: the exception the function raised in the
  /// worker (as the codec carries exceptions), task_failed, broker_unavailable
  /// if the task could not be added, or multiprocessing::codec_error if the
  /// result is not an R. Nothing bounds the wait (no worker may be running):
  /// bound it with wait_for or timeout; a result that comes after its wait
  /// was given up is dropped.
  template <class R = void, class... A>
  task<R> submit(std::string fn, const A&... args) {
    std::string payload;  // a msgpack array of the arguments
    multiprocessing::codec_writer w(payload);
    multiprocessing::packer p(w);
    p.pack_array(static_cast<std::uint32_t>(sizeof...(A)));
    (multiprocessing::codec<std::decay_t<A>>::encode(p, args), ...);
    future<std::string> raw = submit_raw(std::move(fn), std::move(payload));
    return decode_result<R>(std::move(raw));
  }

  /// As submit(), with the arguments already encoded (a msgpack array);
  /// the future gives the encoded result.
  future<std::string> submit_raw(std::string fn, std::string args);

  /// The stream this submitter's results come on.
  const std::string& reply_stream() const noexcept;
  /// Tasks submitted whose result has not come yet.
  std::size_t pending() const noexcept;
  /// Stops reading results (the pending ones end cancelled) and deletes the
  /// reply stream. Idempotent; the destructor calls it.
  void close() noexcept;

 private:
  template <class R>
  static task<R> decode_result(future<std::string> raw) {
    std::string bytes = co_await std::move(raw);
    if constexpr (std::is_void_v<R>) {
      (void)multiprocessing::decode<std::nullptr_t>(bytes);
    } else {
      co_return multiprocessing::decode<R>(bytes);
    }
  }

  std::shared_ptr<detail::submitter_impl> impl_;
};

/// What a worker has done, and the queue as it sees it.
struct worker_stats {
  std::uint64_t done = 0;           ///< tasks run to a result and acknowledged
  std::uint64_t failed_runs = 0;    ///< runs that raised or timed out
  std::uint64_t retried = 0;        ///< tasks added again for another run
  std::uint64_t dead_lettered = 0;  ///< tasks sent to <name>:dead
  std::uint64_t reclaimed = 0;      ///< tasks taken over from a stalled worker
  std::size_t in_flight = 0;        ///< running now
};

/// The queue as Redis holds it (Python: `celery inspect` / `rq info`).
struct queue_stats {
  long long waiting = 0;        ///< tasks no worker has taken yet
  long long in_flight = 0;      ///< taken and not acknowledged (running, or held by a dead worker)
  long long retried = 0;        ///< runs that failed and were added again, all workers together
  long long dead_lettered = 0;  ///< tasks in <name>:dead
};

/// Reads the queue's figures from Redis: the lag of <name>:tasks's group
/// (XINFO GROUPS; before Redis 7, XLEN less the pending entries), XPENDING,
/// the counters in <name>:stats, XLEN of <name>:dead.
task<queue_stats> get_queue_stats(redis_client& redis, std::string name = "corio");

/// A worker process's part (Python: a Celery or RQ worker): takes tasks of
/// the consumer group (XREADGROUP), runs up to `concurrency` of them at once
/// on its loop, stores each result (store_results) and sends it to the
/// submitter's reply stream, then acknowledges the task (XACK). Delivery is
/// at least once: a task whose worker dies before the XACK runs again on
/// another after the visibility timeout, so functions should be idempotent
/// per task id.
class worker {
 public:
  /// `consumer`: this worker's name in the group (default: host-pid).
  explicit worker(task_queue_options opts = {}, std::string consumer = {});
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  /// Makes `fn` callable by name. Its arguments and result must have a
  /// codec (multiprocessing/codec.hpp); it may be a coroutine (task<R>).
  /// It runs on the worker's loop: a function that computes for long
  /// holds up every other task; register it with register_cpu_function.
  template <class F>
  void register_function(std::string name, F fn) {
    add_function(std::move(name), detail::make_task_fn(std::move(fn)));
  }

  /// Makes `fn` callable by name, run in a process of the worker's own
  /// pool (Python: a Celery task on its prefork pool), so that CPU-bound
  /// work does not hold up the loop. `fn` must be a function or a
  /// capture-less lambda (it crosses as code, as a pool's function does:
  /// multiprocessing/pool.hpp) and not a coroutine; its arguments and
  /// result need a codec. The pool (cpu_processes processes, cpu_context's
  /// start method) starts its processes as tasks need them and stops them
  /// when run() returns. A run over time_limit gets SIGKILL, its process is
  /// replaced and the run fails with timeout_error; a pool process that
  /// dies fails its run with multiprocessing::worker_lost_error naming the
  /// pid and the signal; both, and the function's own exception, are
  /// retried and dead-lettered as for any function. The time limit counts
  /// from the moment a pool process takes the run.
  template <class F>
  void register_cpu_function(std::string name, F fn) {
    add_cpu_function(std::move(name), detail::make_cpu_function(std::move(fn)));
  }

  /// Takes and runs tasks until stop(); then waits for the tasks in flight
  /// and returns. Acknowledges only what finished. After stop(), run()
  /// returns at once: a worker runs once.
  task<void> run();
  /// Graceful stop: no new task is taken; run() returns once the running
  /// ones have finished. Safe to call from a signal handler of the loop
  /// (add_signal_handler(SIGTERM, ...)).
  void stop() noexcept;
  worker_stats stats() const noexcept;
  const std::string& consumer() const noexcept;

 private:
  void add_function(std::string name, detail::task_fn fn);
  void add_cpu_function(std::string name, detail::cpu_function fn);
  std::shared_ptr<detail::worker_impl> impl_;
};

}  // namespace corio::distributed

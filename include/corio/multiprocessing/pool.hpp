// Python: multiprocessing.Pool (multiprocessing.pool.Pool), AsyncResult and
// IMapIterator.
//
// A pool starts `processes` daemonic workers in its constructor. Each
// worker has its own pipe and runs one task (an apply, or one chunk of a
// map) at a time, so the pool always knows which task a worker holds. A
// handler thread in the parent hands tasks out, collects results, runs the
// callbacks and watches the workers' sentinels.
//
// What a task may call, per start method (as for process, process.hpp):
// a function or a capture-less lambda with any start method; with fork
// also a trivially copyable callable (a lambda capturing values by copy),
// which crosses as its bytes: pointers in it point into the worker's copy
// of memory as it was when the worker started. Arguments and results go
// through the codec (an argument type that cannot cross fails to compile);
// arithmetic chunks of map cross as raw bytes.
//
// Departures from Python (docs/python-mapping.md):
// - A worker that dies (crash, kill -9, abort) never hangs anything: the
//   task it held fails with worker_lost_error naming the pid and the
//   signal, and the pool starts a replacement (MP-48: CPython's Pool hangs).
// - An initializer that raises breaks the pool: pending and later work
//   fails with broken_pool_error (MP-47: CPython restarts it for ever).
// - A callback that raises is reported on stderr; the pool goes on (MP-43).
// - terminate() fails the work not finished with pool_terminated_error
//   instead of leaving it never ready (MP-45).
// - A parent that dies takes its workers with it (PR_SET_PDEATHSIG, and
//   an idle worker also sees its pipe end).
#pragma once

#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/detail/pool_job.hpp>
#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/multiprocessing/errors.hpp>

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace corio::multiprocessing {

/// A pool worker died (killed, crashed, exited) while it held a task: the
/// task's result raises this, naming the pid and the signal or exit code.
/// (CPython's Pool never completes such a task, MP-48.)
class worker_lost_error : public process_error {
 public:
  using process_error::process_error;
};

/// The pool cannot run work any more: an initializer raised in a worker, or
/// a worker could not be started. Pending work fails with it and new work
/// is refused with it.
class broken_pool_error : public process_error {
 public:
  using process_error::process_error;
};

/// terminate() stopped the pool before the task finished.
class pool_terminated_error : public process_error {
 public:
  using process_error::process_error;
};

/// Python: apply_async(..., callback=, error_callback=). `callback(result&)`
/// and `error_callback(std::exception_ptr)` run once, in the pool's handler
/// thread, before the result is ready (MP-43); either may be nullptr.
template <class CB = std::nullptr_t, class ECB = std::nullptr_t>
struct callbacks {
  CB callback = nullptr;
  ECB error_callback = nullptr;
};
template <class CB>
callbacks(CB) -> callbacks<CB, std::nullptr_t>;
template <class CB, class ECB>
callbacks(CB, ECB) -> callbacks<CB, ECB>;

/// Python: multiprocessing.pool.AsyncResult (ApplyResult, MapResult): the
/// result of apply_async or map_async.
template <class T>
class async_result {
  using stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

 public:
  using duration = std::chrono::duration<double>;
  async_result() = default;
  /// Python: get(timeout): the value, or the task's exception (with a
  /// remote_traceback nested, errors.hpp); timeout_error when not ready in
  /// time (MP-42). The value, or the exception, is handed over once: call
  /// get() once (later calls raise std::logic_error).
  T get(std::optional<duration> timeout = std::nullopt) {
    if constexpr (std::is_void_v<T>) {
      (void)job().take(timeout);
    } else {
      return job().take(timeout);
    }
  }
  /// Python: wait(timeout): returns when ready or after the timeout.
  void wait(std::optional<duration> timeout = std::nullopt) { (void)job().wait(timeout); }
  /// Python: ready().
  bool ready() { return job().ready(); }
  /// Python: successful(): std::invalid_argument (ValueError) while not ready.
  bool successful() { return job().successful(); }

 private:
  friend class pool;
  explicit async_result(std::shared_ptr<detail::result_job<stored>> j) noexcept : j_(std::move(j)) {}
  detail::result_job<stored>& job() {
    if (!j_) throw std::invalid_argument("async_result: empty");
    return *j_;
  }
  std::shared_ptr<detail::result_job<stored>> j_;
};

/// Python: multiprocessing.pool.IMapIterator (imap, imap_unordered): the
/// results as they come. next(timeout) gives the next one (none at the
/// end); a range-for walks them all, waiting as long as needed.
template <class R>
class imap_result {
 public:
  using duration = std::chrono::duration<double>;
  /// Python: next(timeout): timeout_error when none came in time (MP-42);
  /// a task's exception is raised at its place, and the rest follow.
  std::optional<R> next(std::optional<duration> timeout = std::nullopt) { return j_->next(timeout); }

  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    R operator*() { return std::move(*cur_); }
    iterator& operator++() {
      cur_ = r_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return !it.cur_; }

   private:
    friend class imap_result;
    explicit iterator(imap_result* r) : r_(r), cur_(r->next()) {}
    imap_result* r_ = nullptr;
    std::optional<R> cur_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  friend class pool;
  explicit imap_result(std::shared_ptr<detail::imap_job<R>> j) noexcept : j_(std::move(j)) {}
  std::shared_ptr<detail::imap_job<R>> j_;
};

class pool_initializer;
namespace detail {
// The initializer's task message, for workers of a spawn-like method or not.
std::string pool_initializer_frame(const pool_initializer& init, bool spawnlike);
}  // namespace detail

/// Python: Pool(initializer=f, initargs=args): a function (or, with fork, a
/// trivially copyable callable) and its arguments, run once in each worker
/// as it starts.
class pool_initializer {
 public:
  pool_initializer() = default;
  template <class F, class... A>
    requires(!std::is_same_v<std::remove_cvref_t<F>, pool_initializer> && !std::is_same_v<std::remove_cvref_t<F>, std::nullptr_t>)
  pool_initializer(F f, A... args) {  // NOLINT(google-explicit-constructor): Python spells it initializer=f
    static_assert(std::is_invocable_v<F&, A&&...>, "pool_initializer: f cannot be called with these arguments");
    static_assert(detail::pool_callable<F>::is_function || detail::pool_bytes_ok<F>,
                  "pool_initializer: the initializer must be a function, a capture-less lambda or a trivially "
                  "copyable callable");
    using P = detail::pool_callable<F>;
    make_ = [f, tup = std::tuple<A...>(std::move(args)...)](bool spawnlike) {
      std::string out;
      const detail::pool_call call = detail::make_pool_call(
          f, &detail::run_apply<typename P::type, P::from_bytes, A...>, spawnlike);
      detail::begin_task_frame(out, 0, 0, call);
      encode_into(out, tup);
      return out;
    };
  }
  pool_initializer(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
  explicit operator bool() const noexcept { return static_cast<bool>(make_); }

 private:
  friend std::string detail::pool_initializer_frame(const pool_initializer& init, bool spawnlike);
  std::function<std::string(bool)> make_;
};

namespace detail {
class pool_core;
template <class T>
inline constexpr bool is_callbacks = false;
template <class CB, class ECB>
inline constexpr bool is_callbacks<callbacks<CB, ECB>> = true;
}  // namespace detail

/// Python: multiprocessing.Pool(processes, initializer, initargs,
/// maxtasksperchild, context). Not copyable or movable. Destroying it calls
/// terminate() (Python's `with Pool() as p:` exit, MP-45) and reaps the
/// workers.
class pool {
 public:
  using duration = std::chrono::duration<double>;

  /// processes: none is cpu_count(); below 1 is std::invalid_argument, as is
  /// a maxtasksperchild below 1 (MP-40). ctx: none is the default context.
  /// Starts every worker before returning; if one fails to start, those
  /// started are stopped and the error propagates.
  explicit pool(std::optional<int> processes = std::nullopt, pool_initializer initializer = {},
                std::optional<int> maxtasksperchild = std::nullopt, std::optional<context> ctx = std::nullopt);
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  ~pool();

  /// Python: apply(f, args): runs f(args...) in a worker and returns its result.
  template <class F, class... A>
  auto apply(F&& f, A&&... args) {
    return apply_async(std::forward<F>(f), std::forward<A>(args)...).get();
  }

  /// Python: apply_async(f, args): an async_result for f(args...).
  template <class F, class... A>
    requires(!detail::is_callbacks<std::remove_cvref_t<F>>)
  auto apply_async(F&& f, A&&... args) {
    return apply_async(callbacks{}, std::forward<F>(f), std::forward<A>(args)...);
  }
  /// Python: apply_async(f, args, callback=, error_callback=).
  template <class CB, class ECB, class F, class... A>
  auto apply_async(callbacks<CB, ECB> cbs, F&& f, A&&... args) {
    using Fd = std::decay_t<F>;
    check_callable<Fd, std::decay_t<A>...>();
    using P = detail::pool_callable<Fd>;
    using R = std::remove_cvref_t<std::invoke_result_t<typename P::type&, std::decay_t<A>&&...>>;
    using T = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
    auto job = std::make_shared<detail::apply_job<T, R>>(to_function<T&>(cbs.callback),
                                                         to_function<std::exception_ptr>(cbs.error_callback));
    const detail::pool_call call = detail::make_pool_call(
        static_cast<const Fd&>(f), &detail::run_apply<typename P::type, P::from_bytes, std::decay_t<A>...>, spawnlike());
    const std::uint64_t id = next_id();
    detail::task_frames frames;
    detail::begin_task_frame(frames.blob, id, 0, call);
    detail::encode_args<std::decay_t<A>...>(frames.blob, args...);
    frames.end();
    submit(job, std::move(frames), id);
    return async_result<R>(std::move(job));
  }

  /// Python: map(f, iterable, chunksize): f(x) for each x, in input order.
  /// chunksize none: ceil(n / (4 x processes)) (MP-41); 0 is
  /// std::invalid_argument. The first failure is raised once every chunk
  /// is in (MP-44).
  template <class F, class Range>
  auto map(F&& f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt) {
    callbacks<std::nullptr_t, std::nullptr_t> none;
    // Waits for every chunk, so the workers may be sent the items in place.
    return map_impl(std::forward<F>(f), items, chunksize, none, true).get();
  }
  /// Python: map_async(f, iterable, chunksize, callback, error_callback):
  /// the callback gets the whole vector.
  template <class F, class Range, class CB = std::nullptr_t, class ECB = std::nullptr_t>
  auto map_async(F&& f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt,
                 callbacks<CB, ECB> cbs = {}) {
    return map_impl(std::forward<F>(f), items, chunksize, cbs, false);
  }

  /// Python: starmap(f, iterable, chunksize): f(a, b, ...) for each tuple.
  template <class F, class Range>
  auto starmap(F&& f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt) {
    return starmap_async(std::forward<F>(f), std::forward<Range>(items), chunksize).get();
  }
  /// Python: starmap_async(f, iterable, chunksize, callback, error_callback).
  template <class F, class Range, class CB = std::nullptr_t, class ECB = std::nullptr_t>
  auto starmap_async(F&& f, Range&& items, std::optional<std::size_t> chunksize = std::nullopt,
                     callbacks<CB, ECB> cbs = {}) {
    using Tup = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using Fd = std::decay_t<F>;
    using P = detail::pool_callable<Fd>;
    static_assert(detail::pool_callable<Fd>::is_function || detail::pool_bytes_ok<Fd>,
                  "pool: the function must be a function, a capture-less lambda or a trivially copyable callable");
    using R = std::remove_cvref_t<decltype(std::apply(std::declval<typename P::type&>(), std::declval<Tup&&>()))>;
    static_assert(!std::is_void_v<R>, "pool::starmap: the function must return a value");
    return chunked<R, Tup>(static_cast<const Fd&>(f), &detail::run_starchunk<typename P::type, P::from_bytes, Tup>,
                           items, chunksize, cbs);
  }

  /// Python: imap(f, iterable, chunksize=1): results in input order, as
  /// they come. The input is read at the call (Python reads it in a thread).
  template <class F, class Range>
  auto imap(F&& f, Range&& items, std::size_t chunksize = 1) {
    return imap_impl(std::forward<F>(f), std::forward<Range>(items), chunksize, true);
  }
  /// Python: imap_unordered(f, iterable, chunksize=1): in completion order.
  template <class F, class Range>
  auto imap_unordered(F&& f, Range&& items, std::size_t chunksize = 1) {
    return imap_impl(std::forward<F>(f), std::forward<Range>(items), chunksize, false);
  }

  /// Python: close(): no new work; queued work completes, then the workers exit.
  void close();
  /// Python: terminate(): stops the workers at once; work not finished
  /// fails with pool_terminated_error.
  void terminate();
  /// Python: join(): waits for the workers to exit; std::invalid_argument
  /// ("Pool is still running") before close() or terminate().
  void join();

  /// The number of worker processes.
  int processes() const noexcept;
  /// The start method of the workers.
  const std::string& start_method() const noexcept;
  /// The pids of the workers running now (Python: [p.pid for p in pool._pool]).
  std::vector<pid_t> worker_pids() const;

 private:
  template <class Arg, class C>
  static std::function<void(Arg)> to_function(C& c) {
    if constexpr (std::is_same_v<C, std::nullptr_t>) {
      return {};
    } else {
      return std::function<void(Arg)>(c);
    }
  }

  template <class Fd, class... A>
  static constexpr void check_callable() {
    static_assert(detail::pool_callable<Fd>::is_function || detail::pool_bytes_ok<Fd>,
                  "pool: the function must be a function, a capture-less lambda or (fork) a trivially copyable "
                  "callable, which crosses to the worker as its bytes");
    static_assert(std::is_invocable_v<typename detail::pool_callable<Fd>::type&, A&&...>,
                  "pool: the function cannot be called with these arguments");
  }

  template <class F, class Range, class CB, class ECB>
  auto map_impl(F&& f, Range& items, std::optional<std::size_t> chunksize, callbacks<CB, ECB>& cbs, bool borrow) {
    using A = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using Fd = std::decay_t<F>;
    check_callable<Fd, A>();
    using P = detail::pool_callable<Fd>;
    using R = std::remove_cvref_t<std::invoke_result_t<typename P::type&, A&&>>;
    static_assert(!std::is_void_v<R>, "pool::map: the function must return a value");
    return chunked<R, A>(static_cast<const Fd&>(f), &detail::run_chunk<typename P::type, P::from_bytes, A>, items,
                         chunksize, cbs, borrow);
  }

  // borrow: the caller waits for the whole job, and the workers are sent
  // arithmetic items straight from a contiguous range (no copy).
  template <class R, class A, class Fd, class Range, class CB, class ECB>
  async_result<std::vector<R>> chunked(const Fd& f, detail::pool_trampoline tr, Range& items,
                                       std::optional<std::size_t> chunksize, callbacks<CB, ECB>& cbs,
                                       bool borrow = false) {
    static_assert(!std::is_same_v<A, bool>, "pool.map over bools: pass a range of char or int");
    check_usable();
    const detail::pool_call call = detail::make_pool_call(f, tr, spawnlike());
    auto run = [&](const A* first, std::size_t n, bool in_place) {
      const std::size_t cs = chunksize ? *chunksize : default_chunksize(n);
      if (cs == 0) throw std::invalid_argument("pool.map: chunksize must be 1 or more");
      const std::size_t chunks = n == 0 ? 0 : (n + cs - 1) / cs;
      auto job = std::make_shared<detail::map_job<R>>(n, cs, to_function<std::vector<R>&>(cbs.callback),
                                                      to_function<std::exception_ptr>(cbs.error_callback));
      if (n == 0) {
        job->finish_empty();
        return async_result<std::vector<R>>(std::move(job));
      }
      const std::uint64_t id = next_id();
      detail::task_frames frames;
      if constexpr (detail::raw_chunk<A>) {
        if (in_place) {
          for (std::size_t c = 0; c < chunks; ++c) {
            detail::begin_task_frame(frames.blob, id, static_cast<std::uint32_t>(c), call);
            frames.end();
            frames.tails.emplace_back(reinterpret_cast<const char*>(first + c * cs), std::min(cs, n - c * cs) * sizeof(A));
          }
          submit(job, std::move(frames), id);
          return async_result<std::vector<R>>(std::move(job));
        }
        frames.blob.reserve(n * sizeof(A) + chunks * 256);  // heads: ids and two module offsets
      }
      detail::advise_huge_pages(frames.blob.data(), frames.blob.capacity());
      for (std::size_t c = 0; c < chunks; ++c) {
        detail::begin_task_frame(frames.blob, id, static_cast<std::uint32_t>(c), call);
        detail::encode_chunk<A>(frames.blob, first + c * cs, std::min(cs, n - c * cs));
        frames.end();
      }
      submit(job, std::move(frames), id);
      return async_result<std::vector<R>>(std::move(job));
    };
    if constexpr (std::ranges::contiguous_range<Range> &&
                  std::is_same_v<std::remove_cv_t<std::ranges::range_value_t<Range>>, A>) {
      return run(std::ranges::data(items), static_cast<std::size_t>(std::ranges::size(items)), borrow);
    } else {
      const std::vector<A> all(std::ranges::begin(items), std::ranges::end(items));
      return run(all.data(), all.size(), false);
    }
  }

  template <class F, class Range>
  auto imap_impl(F&& f, Range&& items, std::size_t chunksize, bool ordered) {
    using A = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using Fd = std::decay_t<F>;
    check_callable<Fd, A>();
    using P = detail::pool_callable<Fd>;
    using R = std::remove_cvref_t<std::invoke_result_t<typename P::type&, A&&>>;
    static_assert(!std::is_void_v<R>, "pool::imap: the function must return a value");
    static_assert(!std::is_same_v<A, bool>, "pool.imap over bools: pass a range of char or int");
    if (chunksize < 1) throw std::invalid_argument("pool.imap: chunksize must be 1 or more");  // MP-41
    check_usable();
    const detail::pool_call call = detail::make_pool_call(
        static_cast<const Fd&>(f), &detail::run_chunk<typename P::type, P::from_bytes, A>, spawnlike());
    std::vector<A> all(std::ranges::begin(items), std::ranges::end(items));
    const std::size_t n = all.size();
    const std::size_t chunks = (n + chunksize - 1) / chunksize;
    auto job = std::make_shared<detail::imap_job<R>>(chunks, ordered);
    if (n != 0) {
      const std::uint64_t id = next_id();
      detail::task_frames frames;
      for (std::size_t c = 0; c < chunks; ++c) {
        detail::begin_task_frame(frames.blob, id, static_cast<std::uint32_t>(c), call);
        detail::encode_chunk<A>(frames.blob, static_cast<const A*>(all.data() + c * chunksize),
                                std::min(chunksize, n - c * chunksize));
        frames.end();
      }
      submit(job, std::move(frames), id);
    }
    return imap_result<R>(std::move(job));
  }

  bool spawnlike() const noexcept;
  std::size_t default_chunksize(std::size_t n) const noexcept;
  std::uint64_t next_id() noexcept;
  void check_usable() const;
  void submit(std::shared_ptr<detail::pool_job> job, detail::task_frames frames, std::uint64_t id);

  std::unique_ptr<detail::pool_core> core_;
};

}  // namespace corio::multiprocessing

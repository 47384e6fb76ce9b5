// Python: concurrent.futures.Executor and BrokenExecutor
// (concurrent/futures/_base.py).
//
// submit() and map() are written once here, against one hook a concrete
// executor implements: schedule(), which queues a type-erased work item.
#pragma once

#include <corio/futures/detail/work_item.hpp>
#include <corio/futures/future.hpp>

#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::futures {

/// Python: concurrent.futures.BrokenExecutor. The executor can no longer run
/// work (a worker failed to start); pending futures fail with it and submit()
/// throws it.
class broken_executor : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The results of executor::map(): an input range that yields each call's
/// result in input order, blocking for each (CF-11). Dereferencing waits for
/// that call and moves its result out (so each position is dereferenced once);
/// a call's exception is rethrown there, and then the calls not yet returned
/// are cancelled and the range ends. Past the deadline given to map(), a
/// result not ready yet throws corio::timeout_error, with the same effect.
/// Destroying the range after iterating began cancels the calls not reached
/// (Python closes the generator); if iteration never began, they all run.
template <class R>
class map_results {
 public:
  class iterator {
   public:
    using value_type = R;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    iterator() noexcept = default;
    R operator*() const { return r_->fetch(); }
    iterator& operator++() {
      r_->advance();
      return *this;
    }
    void operator++(int) { r_->advance(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

   private:
    friend class map_results;
    explicit iterator(map_results* r) noexcept : r_(r) {}
    bool at_end() const noexcept { return r_->next_ >= r_->fs_.size(); }
    map_results* r_ = nullptr;
  };

  map_results(std::vector<future<R>> fs, std::optional<detail::clock::time_point> deadline) noexcept
      : fs_(std::move(fs)), deadline_(deadline) {}
  map_results(map_results&& o) noexcept
      : fs_(std::exchange(o.fs_, {})), next_(std::exchange(o.next_, 0)), deadline_(o.deadline_), started_(o.started_) {}
  map_results& operator=(map_results&&) = delete;
  ~map_results() {
    if (started_) cancel_rest();
  }

  iterator begin() noexcept {
    started_ = true;
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }
  /// How many results are still to come.
  std::size_t size() const noexcept { return fs_.size() - next_; }

 private:
  R fetch() {
    future<R>& f = fs_[next_];
    try {
      if (deadline_ && !detail::access::get(f)->wait_done(&*deadline_)) detail::throw_timeout("executor.map()");
      return f.take_result();
    } catch (...) {
      cancel_rest();
      throw;
    }
  }
  // Python pops each future as it yields it: nothing keeps a result alive.
  void advance() noexcept {
    if (next_ < fs_.size()) future<R> drop(std::move(fs_[next_++]));
  }
  void cancel_rest() noexcept {
    for (std::size_t i = next_; i < fs_.size(); ++i) fs_[i].cancel();
    fs_.clear();
    next_ = 0;
  }

  std::vector<future<R>> fs_;
  std::size_t next_ = 0;
  std::optional<detail::clock::time_point> deadline_;
  bool started_ = false;
};

namespace detail {
template <class T>
struct is_timeout : std::false_type {};
template <class Rep, class Period>
struct is_timeout<std::chrono::duration<Rep, Period>> : std::true_type {};
template <class Rep, class Period>
struct is_timeout<std::optional<std::chrono::duration<Rep, Period>>> : std::true_type {};

template <class... A>
struct last_is_timeout : std::false_type {};
template <class A0, class... A>
struct last_is_timeout<A0, A...>
    : is_timeout<std::remove_cvref_t<std::tuple_element_t<sizeof...(A), std::tuple<A0, A...>>>> {};
}  // namespace detail

/// Python: concurrent.futures.Executor, the interface every executor offers.
/// A concrete executor implements schedule() and shutdown(); submit() and
/// map() are built on them. The interface is shared with the process pool,
/// whose work items run in other processes.
class executor {
 public:
  virtual ~executor() = default;
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Python: Executor.submit(fn, *args). Schedules fn(args...) and returns a
  /// future for its result (CF-10). fn and args are decay-copied (or moved)
  /// into the work item and passed to fn as rvalues; the work item, and so
  /// everything they own, is destroyed as soon as the call returns (CF-15).
  /// A reference result is stored as a copy of the value. After shutdown()
  /// throws std::runtime_error("cannot schedule new futures after
  /// shutdown"); a broken executor throws its broken_executor.
  template <class F, class... A>
  auto submit(F&& fn, A&&... args) {
    static_assert(std::is_invocable_v<std::decay_t<F>&&, std::decay_t<A>&&...>,
                  "corio::futures::executor::submit: fn cannot be called with these arguments "
                  "(both are stored decayed and passed as rvalues)");
    using R = detail::submit_result_t<F, A...>;
    auto* s = new detail::task_state<R, std::decay_t<F>, std::decay_t<A>...>(std::forward<F>(fn), std::forward<A>(args)...);
    future<R> f = detail::access::adopt<R>(static_cast<detail::state<R>*>(s));
    schedule(detail::work_ref(s));  // the task state starts with two references
    return f;
  }

  /// Python: Executor.map(fn, *iterables, timeout=None). Submits fn(x, y, ...)
  /// for each tuple of elements of the ranges, zipped (stopping at the
  /// shortest), all at once, before returning (CF-11); fn is copied into each
  /// call. The last argument may be a timeout (a std::chrono::duration or a
  /// std::optional of one), counted from this call. Returns a map_results
  /// range of the results in input order. A range is anything with begin() and
/// end(): a container, an array, a view.
  template <class F, class... Args>
  auto map(F&& fn, Args&&... iterables_then_timeout) {
    constexpr std::size_t n = sizeof...(Args);
    auto all = std::forward_as_tuple(std::forward<Args>(iterables_then_timeout)...);
    if constexpr (detail::last_is_timeout<Args...>::value) {
      std::optional<detail::clock::time_point> deadline = detail::deadline_of(std::get<n - 1>(all));
      return map_impl(fn, deadline, all, std::make_index_sequence<n - 1>{});
    } else {
      return map_impl(fn, std::nullopt, all, std::make_index_sequence<n>{});
    }
  }

  /// Python: Executor.shutdown(wait=True, *, cancel_futures=False). Stops
  /// accepting work; with `cancel_futures`, cancels the calls not started;
  /// with `wait`, returns once every pending call is done and the workers have
  /// exited (CF-12). Calling it again is harmless.
  virtual void shutdown(bool wait = true, bool cancel_futures = false) = 0;

 protected:
  executor() = default;

  /// The one hook of a concrete executor: take over `item` (one reference to
  /// the work item: the call, its arguments and its future) and arrange for
  /// item.run() to be called once, on some worker; or item.cancel() /
  /// item.fail(e) instead if it will never run. Throws to refuse the item
  /// (after shutdown, or when broken); submit() then throws that.
  ///
  /// The item is type-erased, so a process pool implements the same hook:
  /// a forked child has its own copy of the item and can run it there; what
  /// it needs beyond this (sending the outcome back, encoded) fits as more
  /// operations of the item's manage() function (detail/work_item.hpp),
  /// without changing this interface.
  virtual void schedule(detail::work_ref item) = 0;

 private:
  template <class F, class Tuple, std::size_t... I>
  auto map_impl(F& fn, std::optional<detail::clock::time_point> deadline, Tuple& ranges, std::index_sequence<I...>) {
    static_assert(sizeof...(I) > 0, "corio::futures::executor::map needs at least one iterable");
    static_assert((detail::iterable<std::remove_reference_t<std::tuple_element_t<I, Tuple>>> && ...),
                  "corio::futures::executor::map: the arguments after fn must be ranges (the last may be a timeout)");
    using R = detail::submit_result_t<F&, detail::iter_reference_t<std::remove_reference_t<std::tuple_element_t<I, Tuple>>>...>;
    std::vector<future<R>> fs;
    auto its = std::tuple(detail::adl::begin_of(std::get<I>(ranges))...);
    const auto ends = std::tuple(detail::adl::end_of(std::get<I>(ranges))...);
    while (((std::get<I>(its) != std::get<I>(ends)) && ...)) {
      fs.push_back(submit(fn, *std::get<I>(its)...));
      (++std::get<I>(its), ...);
    }
    return map_results<R>(std::move(fs), deadline);
  }
};

}  // namespace corio::futures

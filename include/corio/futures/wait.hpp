// Python: concurrent.futures.wait and concurrent.futures.as_completed
// (concurrent/futures/_base.py).
//
// Both block the calling thread. A cancelled future counts as done as soon as
// cancel() returns.
#pragma once

#include <corio/detail/return_when.hpp>
#include <corio/futures/future.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::futures {

/// Python: concurrent.futures.FIRST_COMPLETED, FIRST_EXCEPTION,
/// ALL_COMPLETED (the same constants as asyncio's).
using corio::all_completed;
using corio::first_completed;
using corio::first_exception;
using corio::return_when;

/// Python: concurrent.futures.wait's DoneAndNotDoneFutures. Each future
/// appears once, in the order first given.
template <class T>
struct wait_result {
  std::vector<future<T>> done;
  std::vector<future<T>> not_done;
};

namespace detail {

// Guards state_base::mark, with which wait() and as_completed() drop
// duplicates in one pass and without a hash set.
std::mutex& mark_mutex() noexcept;

// Blocks until `when` (first_completed or first_exception) holds for the
// futures in `states` (duplicates allowed) or until the deadline.
void wait_first(const std::vector<state_base*>& states, return_when when, const clock::time_point* deadline);

// Splits `fs` into done and not done, each future once, in input order.
template <class T>
wait_result<T> partition(const std::vector<future<T>>& fs, bool expect_done) {
  wait_result<T> r;
  if (expect_done) r.done.reserve(fs.size());
  std::lock_guard lk(mark_mutex());
  struct clear_marks {
    const std::vector<future<T>>& fs;
    ~clear_marks() {
      for (const future<T>& f : fs) access::get(f)->mark = false;
    }
  } guard{fs};
  for (const future<T>& f : fs) {
    state_base* s = access::get(f);
    if (s->mark) continue;
    s->mark = true;
    (s->done() ? r.done : r.not_done).push_back(f);
  }
  return r;
}

// References to futures, released unless handed on.
struct state_refs {
  std::vector<state_base*> v;
  state_refs() = default;
  state_refs(state_refs&& o) noexcept : v(std::move(o.v)) {}
  state_refs& operator=(state_refs&&) = delete;
  ~state_refs() {
    for (state_base* s : v)
      if (s) s->release();
  }
};

// The untyped core of as_completed(): registered on the pending futures, it
// collects them in the order they finish.
class completion_queue {
 public:
  // Takes over the references; drops duplicates; already-done futures come
  // first, in input order.
  explicit completion_queue(state_refs refs);
  ~completion_queue();
  completion_queue(const completion_queue&) = delete;
  completion_queue& operator=(const completion_queue&) = delete;

  // The next done future, whose reference passes to the caller; nullptr once
  // all were handed out. timeout_error("<k> (of <n>) futures unfinished") if
  // none is done by `deadline` (nullptr: no limit).
  state_base* next(const clock::time_point* deadline);

 private:
  struct node : wait_node {
    completion_queue* owner;
    std::uint32_t index;
  };
  static void fire(wait_node* n, outcome how) noexcept;
  void push_ready(std::uint32_t i) noexcept;

  std::mutex mu_;
  std::condition_variable cv_;
  state_refs states_;  // distinct; an entry becomes null once handed out
  std::unique_ptr<node[]> nodes_;
  std::vector<std::uint32_t> ready_;  // indices of finished futures, in order; guarded by mu_
  std::size_t ready_head_ = 0;        // guarded by mu_
  std::size_t handed_ = 0;
};

template <class T>
void check_handles(const std::vector<future<T>>& fs, const char* what) {
  for (const future<T>& f : fs)
    if (!f.valid()) throw_empty_handle(what);
}

template <class F>
struct is_future : std::false_type {};
template <class T>
struct is_future<future<T>> : std::true_type {};
template <class V>
struct is_future_vector : std::false_type {};
template <class T>
struct is_future_vector<std::vector<future<T>>> : std::true_type {};

// A range of futures other than the std::vector the main overloads take.
template <class R>
concept future_range = iterable<std::remove_reference_t<R>> &&
                       is_future<std::remove_cvref_t<iter_reference_t<std::remove_reference_t<R>>>>::value &&
                       !is_future_vector<std::remove_cvref_t<R>>::value;
template <class R>
using future_range_value_t = typename std::remove_cvref_t<iter_reference_t<std::remove_reference_t<R>>>::value_type;
template <class R>
std::vector<future<future_range_value_t<R>>> to_vector(R&& fs) {
  std::vector<future<future_range_value_t<R>>> v;
  for (auto&& f : fs) v.push_back(std::forward<decltype(f)>(f));
  return v;
}

}  // namespace detail

namespace detail {
template <class T>
wait_result<T> wait_until(const std::vector<future<T>>& fs, const std::optional<clock::time_point>& deadline,
                          return_when when) {
  check_handles(fs, "wait");
  const clock::time_point* dl = deadline ? &*deadline : nullptr;
  if (when == all_completed) {
    // Blocking on each in turn costs one sleep at most per future that is
    // not done yet, and no registration on the others.
    for (const future<T>& f : fs)
      if (!access::get(f)->wait_done(dl)) break;
  } else {
    std::vector<state_base*> states;
    states.reserve(fs.size());
    for (const future<T>& f : fs) states.push_back(access::get(f));
    wait_first(states, when, dl);
  }
  return partition(fs, when == all_completed && !deadline);
}
}  // namespace detail

/// Python: concurrent.futures.wait(fs, timeout=None,
/// return_when=ALL_COMPLETED). Blocks until `when` holds, or until `timeout`
/// (nullopt: no limit) has passed, and returns the futures split into done
/// and not done (CF-08). FIRST_COMPLETED: one done; FIRST_EXCEPTION: one
/// finished with an exception (a cancelled one does not count), or all done;
/// ALL_COMPLETED: all done. A timeout returns the sets as they are: it
/// neither throws nor cancels. std::invalid_argument for an empty handle.
template <class T>
wait_result<T> wait(const std::vector<future<T>>& fs, std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
                    return_when when = all_completed) {
  return detail::wait_until(fs, detail::deadline_of(timeout), when);
}
template <class T, class Rep, class Period>
wait_result<T> wait(const std::vector<future<T>>& fs, std::chrono::duration<Rep, Period> timeout,
                    return_when when = all_completed) {
  return detail::wait_until(fs, std::optional<detail::clock::time_point>(detail::deadline_after_or_now(timeout)), when);
}
/// wait() over any input range of future<T> (a set, a list, a view).
template <detail::future_range R>
wait_result<detail::future_range_value_t<R>> wait(R&& fs, std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
                                                  return_when when = all_completed) {
  return wait(detail::to_vector(std::forward<R>(fs)), timeout, when);
}

/// The range as_completed() returns: yields each future once, as it is done.
/// Iterating blocks; begin() and ++ throw corio::timeout_error("<k> (of <n>)
/// futures unfinished") when the deadline passes with k not yielded, which
/// ends the range. The range keeps no reference to a future it has yielded
/// once the iterator moves past it (CF-09).
template <class T>
class as_completed_range {
 public:
  class iterator {
   public:
    using value_type = future<T>;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    iterator() noexcept = default;
    future<T>& operator*() const noexcept { return r_->current_; }
    future<T>* operator->() const noexcept { return &r_->current_; }
    iterator& operator++() {
      r_->advance();
      return *this;
    }
    void operator++(int) { r_->advance(); }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.at_end(); }

   private:
    friend class as_completed_range;
    explicit iterator(as_completed_range* r) noexcept : r_(r) {}
    bool at_end() const noexcept { return r_->at_end_; }
    as_completed_range* r_ = nullptr;
  };

  as_completed_range(std::vector<future<T>> fs, std::optional<detail::clock::time_point> deadline)
      : deadline_(deadline), current_(detail::access::adopt<T>(nullptr)) {
    detail::check_handles(fs, "as_completed");
    detail::state_refs refs;
    refs.v.reserve(fs.size());
    for (future<T>& f : fs) refs.v.push_back(detail::access::release(f));
    q_ = std::make_unique<detail::completion_queue>(std::move(refs));
  }

  /// Waits for the first future (Python runs the generator up to its first
  /// yield on the first next()).
  iterator begin() {
    if (!started_) {
      started_ = true;
      advance();
    }
    return iterator(this);
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  void advance() {
    { future<T> drop(std::move(current_)); }
    if (at_end_) return;
    detail::state_base* s = nullptr;
    try {
      s = q_->next(deadline_ ? &*deadline_ : nullptr);
    } catch (...) {
      // Like the generator that raised: finished, registrations removed.
      at_end_ = true;
      q_.reset();
      throw;
    }
    if (!s) {
      at_end_ = true;
      q_.reset();
      return;
    }
    current_ = detail::access::adopt<T>(static_cast<detail::state<T>*>(s));
  }

  std::unique_ptr<detail::completion_queue> q_;
  std::optional<detail::clock::time_point> deadline_;
  future<T> current_;
  bool started_ = false;
  bool at_end_ = false;
};

/// Python: concurrent.futures.as_completed(fs, timeout=None). A range over
/// `fs` that yields the futures already done first, then each as it
/// finishes; a future given twice is yielded once (CF-09). The timeout counts
/// from this call. Use as `for (auto& f : as_completed(fs, 5s)) ...`.
template <class T>
as_completed_range<T> as_completed(std::vector<future<T>> fs, std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  return as_completed_range<T>(std::move(fs), detail::deadline_of(timeout));
}
template <class T, class Rep, class Period>
as_completed_range<T> as_completed(std::vector<future<T>> fs, std::chrono::duration<Rep, Period> timeout) {
  return as_completed_range<T>(std::move(fs), detail::deadline_after_or_now(timeout));
}
/// as_completed() over any input range of future<T>.
template <detail::future_range R>
as_completed_range<detail::future_range_value_t<R>> as_completed(R&& fs,
                                                                 std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
  return as_completed(detail::to_vector(std::forward<R>(fs)), timeout);
}

}  // namespace corio::futures

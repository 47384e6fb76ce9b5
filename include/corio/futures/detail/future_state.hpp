// The shared state behind corio::futures::future<T>. Not for users.
//
// One block holds the state word, the reference count, the outcome and, for
// a submitted call, the callable with its arguments (work_item.hpp), so a
// submit costs one allocation. The 32-bit state word carries the state
// (PENDING, RUNNING, CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED) and flags;
// it doubles as a small lock (f_locked) that guards the callback and waiter
// lists and the writing of the result, and as the futex that result() sleeps
// on. Readers (done(), a finished result()) never take the lock. Completing a
// future that has no callbacks, waiters or sleepers is one compare-and-swap.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/futex.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <iterator>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace corio::futures {
template <class T>
class future;
}  // namespace corio::futures

namespace corio::futures::detail {

// Futures sleep on their state words and spin on their word locks with the
// threading layer's tools, and take deadlines from its clock.
using threading::detail::backoff;
using threading::detail::clock;
using threading::detail::cpu_relax;
using threading::detail::deadline_after_or_now;
using threading::detail::futex_wait_until;
using threading::detail::futex_wake_all;

struct state_base;
struct access;

// Link of an executor's intrusive work queue: a submitted future is its own
// work item, so queueing it allocates nothing.
struct work_link {
  std::atomic<work_link*> next{nullptr};
};

// How a future ended, as told to a waiter registered on it.
enum class outcome : std::uint8_t { value, exception, cancelled };

// A done callback not run yet. Runs outside the word lock, in registration
// order; fire(n, nullptr) only destroys it. fire() frees the node.
struct callback_node {
  callback_node* next = nullptr;
  void (*fire)(callback_node* self, state_base* s) noexcept = nullptr;
};

// A registration of wait() or as_completed() on one future. Fired under the
// word lock, so a waiter that has unregistered (which takes that lock) knows
// that no completing thread still touches its node.
struct wait_node {
  wait_node* prev = nullptr;
  wait_node* next = nullptr;
  bool linked = false;
  void (*fire)(wait_node* self, outcome how) noexcept = nullptr;
};

// What a state's manage function is asked to do. The typed code behind one
// function pointer: new kinds of executors add operations here (a process
// pool: encode the outcome in the child, complete from it in the parent).
enum class op : std::uint8_t {
  run,      // run the work item's callable and complete the future (arg: run_context* or null)
  discard,  // destroy the callable without running it
  destroy,  // the last reference is gone: destroy everything and free the block
};

using manage_fn = void (*)(state_base*, op, void* arg) noexcept;

struct state_base : work_link {
  static constexpr std::uint32_t st_mask = 7;
  static constexpr std::uint32_t st_pending = 0;
  static constexpr std::uint32_t st_running = 1;
  static constexpr std::uint32_t st_cancelled = 2;
  static constexpr std::uint32_t st_cancelled_notified = 3;
  static constexpr std::uint32_t st_finished = 4;
  static constexpr std::uint32_t f_exception = 1u << 3;  // finished with an exception
  static constexpr std::uint32_t f_locked = 1u << 4;     // the word lock
  static constexpr std::uint32_t f_lists = 1u << 5;      // callbacks or wait nodes registered
  static constexpr std::uint32_t f_sleepers = 1u << 6;   // threads sleep on the word
  static constexpr std::uint32_t f_taken = 1u << 7;      // the value was moved out

  std::atomic<std::uint32_t> word{st_pending};
  std::atomic<std::uint32_t> refs{1};
  manage_fn manage;
  callback_node* callbacks = nullptr;  // newest first; guarded by f_locked
  wait_node* nodes = nullptr;          // guarded by f_locked
  std::exception_ptr exc;              // written under f_locked, before FINISHED is published
  bool mark = false;                   // duplicate detection of wait(); guarded by mark_mutex()
  bool has_work = false;               // the work item's callable is alive; owned by the work reference

  explicit state_base(manage_fn m) noexcept : manage(m) {}
  state_base(const state_base&) = delete;
  state_base& operator=(const state_base&) = delete;
  ~state_base() {
    if (callbacks) destroy_callbacks();
  }

  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) manage(this, op::destroy, nullptr);
  }

  static bool is_done(std::uint32_t w) noexcept { return (w & st_mask) >= st_cancelled; }
  std::uint32_t state() const noexcept { return word.load(std::memory_order_acquire) & st_mask; }
  bool done() const noexcept { return is_done(word.load(std::memory_order_acquire)); }
  bool running() const noexcept { return state() == st_running; }
  bool cancelled() const noexcept {
    const std::uint32_t s = state();
    return s == st_cancelled || s == st_cancelled_notified;
  }
  // How a done future ended.
  outcome outcome_of() const noexcept {
    const std::uint32_t w = word.load(std::memory_order_acquire);
    if ((w & st_mask) != st_finished) return outcome::cancelled;
    return (w & f_exception) ? outcome::exception : outcome::value;
  }

  // Blocks until done or until `deadline` (nullptr: no limit); false on timeout.
  bool wait_done(const clock::time_point* deadline) const noexcept { return done() || wait_slow(deadline); }

  // -- completing -------------------------------------------------------------
  // Takes the word lock if the future can still be completed (PENDING or
  // RUNNING); false if it is done.
  bool lock_if_settable() noexcept {
    std::uint32_t w = word.load(std::memory_order_relaxed);
    backoff b;
    for (;;) {
      if ((w & st_mask) > st_running) return false;
      if (w & f_locked) {
        b.pause();
        w = word.load(std::memory_order_relaxed);
      } else if (word.compare_exchange_weak(w, w | f_locked, std::memory_order_acquire, std::memory_order_relaxed)) {
        return true;
      }
    }
  }
  void unlock() noexcept { word.fetch_and(~f_locked, std::memory_order_release); }
  // With the lock held: publishes the final state and releases the lock,
  // then wakes sleepers, fires waiters and runs the callbacks (CF-05).
  void publish(std::uint32_t final_bits) noexcept {
    std::uint32_t w = word.load(std::memory_order_relaxed);
    if (CORIO_UNLIKELY(w & f_lists)) return publish_slow(final_bits);
    // f_lists only changes under the lock, which we hold; f_sleepers may appear.
    while (!word.compare_exchange_weak(w, (w & ~(st_mask | f_locked | f_sleepers)) | final_bits,
                                       std::memory_order_release, std::memory_order_relaxed)) {
    }
    if (w & f_sleepers) futex_wake_all(&word);
  }
  // Completes a future that carries no value (void result); false if done.
  bool finish_plain() noexcept {
    std::uint32_t w = word.load(std::memory_order_relaxed);
    for (;;) {
      if ((w & st_mask) > st_running) return false;
      if (w & (f_locked | f_lists)) return finish_plain_slow();
      if (word.compare_exchange_weak(w, (w & ~(st_mask | f_sleepers)) | st_finished, std::memory_order_release,
                                     std::memory_order_relaxed))
        break;
    }
    if (w & f_sleepers) futex_wake_all(&word);
    return true;
  }
  // Python: Future.cancel() (CF-02, CF-05).
  bool cancel() noexcept;
  // Python: Future.set_running_or_notify_cancel(); invalid_state_error when
  // neither PENDING nor CANCELLED.
  bool set_running_or_notify_cancel();
  // Python: Future.set_exception() (CF-04): invalid_state_error if done,
  // std::invalid_argument for a null exception.
  void set_exception(std::exception_ptr e);
  // For executors: completes with `e` unless already done.
  bool try_set_exception(std::exception_ptr e) noexcept;

  // -- lists ------------------------------------------------------------------
  // False if the future is already done (the caller then runs the callback).
  bool add_callback(callback_node* n) noexcept;
  // False if the future is already done (nothing was registered).
  bool add_node(wait_node* n) noexcept;
  // Harmless if the node was fired or never linked.
  void remove_node(wait_node* n) noexcept;

  // -- reading a done future ------------------------------------------------------
  // Throws what result() throws for a done future that holds no value:
  // the stored exception, cancelled_error, or invalid_state_error after a
  // take; returns normally if the value is there.
  void check_value() const {
    const std::uint32_t w = word.load(std::memory_order_acquire);
    if (CORIO_UNLIKELY((w & (st_mask | f_exception | f_taken)) != st_finished)) throw_outcome(w);
  }
  // Marks the value taken; invalid_state_error if it already was.
  void mark_taken();
  // Python: Future.exception() on a done future.
  std::exception_ptr exception_of() const;

 private:
  bool wait_slow(const clock::time_point* deadline) const noexcept;
  void publish_slow(std::uint32_t final_bits) noexcept;
  bool finish_plain_slow() noexcept;
  [[noreturn]] void throw_outcome(std::uint32_t w) const;
  void lock_any() noexcept;
  void destroy_callbacks() noexcept;
};

// The state of a future<T>: the base plus the value.
template <class T>
struct state : state_base {
  union {
    T value;
  };

  state() noexcept : state_base(&manage_plain) {}
  explicit state(manage_fn m) noexcept : state_base(m) {}
  ~state() {
    const std::uint32_t w = word.load(std::memory_order_relaxed);
    if ((w & (st_mask | f_exception)) == st_finished) value.~T();
  }

  // With the lock held: builds the value, then publishes it. A throwing
  // constructor leaves the future as it was.
  template <class... U>
  void emplace_and_publish(U&&... v) {
    try {
      ::new (static_cast<void*>(std::addressof(value))) T(std::forward<U>(v)...);
    } catch (...) {
      unlock();
      throw;
    }
    publish(st_finished);
  }

  static void manage_plain(state_base* b, op o, void*) noexcept {
    if (o == op::destroy) delete static_cast<state*>(b);
  }
};

template <>
struct state<void> : state_base {
  state() noexcept : state_base(&manage_plain) {}
  explicit state(manage_fn m) noexcept : state_base(m) {}

  static void manage_plain(state_base* b, op o, void*) noexcept {
    if (o == op::destroy) delete static_cast<state*>(b);
  }
};

// Reports an exception that escaped a done callback (Python logs it with
// LOGGER.exception and goes on, CF-07). Never throws.
void log_callback_exception(const void* future_id, std::exception_ptr e) noexcept;

[[noreturn]] void throw_invalid_state(const char* what);
[[noreturn]] void throw_timeout(const char* what);
[[noreturn]] void throw_empty_handle(const char* what);

// Iterating anything range-like (a container, a view, an array) through
// begin()/end() found by ADL or in std, without requiring std::ranges.
namespace adl {
using std::begin;
using std::end;
template <class R>
auto begin_of(R& r) -> decltype(begin(r)) {
  return begin(r);
}
template <class R>
auto end_of(R& r) -> decltype(end(r)) {
  return end(r);
}
}  // namespace adl
template <class R>
concept iterable = requires(R& r) {
  adl::begin_of(r) != adl::end_of(r);
  *adl::begin_of(r);
};
// What iterating an R yields (a reference, usually).
template <class R>
using iter_reference_t = decltype(*adl::begin_of(std::declval<R&>()));

// The deadline of an optional timeout (nullopt: no limit); a timeout <= 0
// only checks.
template <class Rep, class Period>
std::optional<clock::time_point> deadline_of(const std::chrono::duration<Rep, Period>& d) {
  return deadline_after_or_now(d);
}
template <class Rep, class Period>
std::optional<clock::time_point> deadline_of(const std::optional<std::chrono::duration<Rep, Period>>& d) {
  if (!d) return std::nullopt;
  return deadline_after_or_now(*d);
}

}  // namespace corio::futures::detail

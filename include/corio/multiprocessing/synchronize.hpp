// Python: multiprocessing.synchronize: Lock, RLock, Semaphore,
// BoundedSemaphore, Event, Condition and Barrier shared between processes.
//
// Each object's state lives in shared memory (detail/shared_heap.hpp); the
// C++ object is a handle to it. Copying a handle gives another handle to the
// same lock, as a Python name bound to the same Lock does; a forked child's
// copy is the same lock too, and a spawned child gets one with
// from_handle(x.corio_handle()) (shared_handle.hpp). The state is freed when
// no process holds a handle to it.
//
// They block the calling thread, as Python's do. Timeouts are std::chrono
// durations, saturating (a huge one waits for ever); a negative one throws
// std::invalid_argument, and a bare number does not compile, as in
// corio::threading. From inside an event loop, run the blocking part in a
// worker thread (`co_await corio::to_thread(...)`), whole critical sections
// included: a lock is released by the thread that holds it (docs/guide.md).
//
// A holder that dies does not leave the others stuck: lock and rlock sit on
// robust futexes (a robust, process-shared pthread mutex), so when the
// thread or process holding one ends, the kernel frees it and the next
// acquire takes it and says so (acquired::owner_died()). Python deadlocks
// there (docs/python-mapping.md, departures).
#pragma once

#include <corio/detail/config.hpp>
#include <corio/detail/scoped_guard.hpp>
#include <corio/multiprocessing/detail/shared_heap.hpp>
#include <corio/multiprocessing/detail/sync_state.hpp>
#include <corio/multiprocessing/shared_handle.hpp>
#include <corio/threading/detail/deadline.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <variant>

namespace corio::multiprocessing {

using corio::adopt_lock;
using corio::scoped_guard;

namespace detail {
// Lets sharedctypes place a value's default rlock in the value's own block.
struct sync_access;
using threading::detail::plain_number;
// Bytes of shared state of a lock and an rlock (a process-shared pthread
// mutex and who holds it).
inline constexpr std::size_t lock_state_size = sizeof(lock_state);
inline constexpr std::size_t rlock_state_size = sizeof(rlock_state);
}  // namespace detail

/// What acquiring a lock or an rlock returns: true if the lock was taken.
/// owner_died() is true when it was taken from a holder that died holding
/// it (a thread that ended, or a process that exited or was killed): the
/// kernel freed the lock, and what it protects may have been left half
/// updated. Python has no counterpart: its acquire waits for ever there.
class acquired {
 public:
  enum class outcome : std::uint8_t { not_taken, taken, taken_from_dead_owner };
  constexpr acquired(outcome o = outcome::not_taken) noexcept : o_(o) {}
  // What the lock's implementation reports (not for users).
  constexpr acquired(detail::lock_result r) noexcept : o_(static_cast<outcome>(r)) {}
  /// Whether the lock was taken (so `if (lk.acquire(1s))` reads as in Python).
  constexpr operator bool() const noexcept { return o_ != outcome::not_taken; }
  /// Taken from a holder that died holding it.
  constexpr bool owner_died() const noexcept { return o_ == outcome::taken_from_dead_owner; }

 private:
  outcome o_;
};

/// Python: multiprocessing.Lock. A non-recursive lock that threads of any
/// process holding a handle to it can take (MP-36). Unlike Python's, it is
/// released by the thread that holds it: a release by another thread or
/// process throws, because robustness needs the lock to know its holder
/// (departure). A second acquire by the holder blocks (or fails with
/// blocking=false or a timeout), as in Python.
///
/// The class is `primitive_lock` with the alias `lock`, as in
/// corio::threading: a class cannot have a member named like itself, and
/// the std Lockable member `lock()` is needed for std::unique_lock.
class primitive_lock {
 public:
  /// Python: Lock(). A new lock, unlocked, in shared memory.
  primitive_lock();

  /// Python: Lock.acquire(block=True). Blocks until the lock is taken; with
  /// blocking=false makes one attempt. See acquired for a dead holder.
  acquired acquire(bool blocking = true) {
    if (!blocking) return try_acquire_once();
    return detail::lock_forever(state()->m, "multiprocessing::lock.acquire");
  }
  /// Python: Lock.acquire(timeout=t). Not taken if `timeout` passed first
  /// (zero: one attempt). std::invalid_argument if negative.
  template <class Rep, class Period>
  acquired acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(threading::detail::deadline_after(timeout, "multiprocessing::lock.acquire"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  acquired acquire(N) = delete;
  /// Python: Lock.release(). std::runtime_error("release unlocked lock") if
  /// nobody holds it, and also if another thread holds it (departure).
  void release() {
    detail::lock_state* s = state();
    if (CORIO_UNLIKELY(!detail::held_by_me(s->m))) refuse_release();
    detail::unlock(s->m);
  }
  /// Whether some thread of some process holds it (Python 3.14: locked()).
  bool locked() const noexcept { return state()->m.owner_tid.load(std::memory_order_relaxed) != 0; }
  /// Whether the calling thread holds it (Python: SemLock._is_mine()).
  bool owned_by_me() const noexcept { return detail::held_by_me(state()->m); }

  /// Python: `with lock:` as `auto guard = lk.scoped();`. A lock taken from
  /// a dead holder is taken all the same; call acquire() to be told.
  [[nodiscard]] scoped_guard<primitive_lock> scoped() & {
    acquire();
    return scoped_guard<primitive_lock>(*this);
  }
  // The guard points at this handle: on a temporary it would dangle.
  void scoped() && = delete;
  // std Lockable / TimedLockable (a negative or past timeout: one attempt).
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    if (!(d > d.zero())) return try_lock();
    return acquire(d);
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> tp) {
    return acquire_until(threading::detail::to_steady(tp));
  }

  /// The handle another process maps this lock with (shared_handle.hpp).
  shared_handle corio_handle() const;
  /// The lock a handle names, in this process. std::invalid_argument for a
  /// handle of something else; file_not_found_error if it is gone.
  static primitive_lock from_handle(const shared_handle& h);
  /// Whether both handles refer to the same lock.
  friend bool operator==(const primitive_lock& a, const primitive_lock& b) noexcept { return a.p_ == b.p_; }
  /// Python: repr(lock): `<Lock(owner=None)>`, `<Lock(owner=pid 1234 tid
  /// 1236)>` (Python names the process and thread: MainProcess|Thread-1).
  friend std::ostream& operator<<(std::ostream& os, const primitive_lock& l);

 private:
  friend struct detail::sync_access;
  explicit primitive_lock(detail::shared_place p) noexcept : p_(std::move(p)) {}
  detail::lock_state* state() const noexcept { return std::launder(reinterpret_cast<detail::lock_state*>(p_.addr)); }
  acquired acquire_until(threading::detail::clock::time_point deadline);
  acquired try_acquire_once();
  [[noreturn]] void refuse_release() const;

  detail::shared_place p_;
};

/// Python: multiprocessing.Lock.
using lock = primitive_lock;

class condition;

/// Python: multiprocessing.RLock. The thread that holds it may acquire it
/// again; each acquire needs its own release, and only the last frees it for
/// others (MP-37). The holder is a thread of a process: other threads and
/// processes block or fail. A release by another thread, or of an rlock
/// nobody holds, throws std::runtime_error("cannot release un-acquired
/// lock") (Python: AssertionError; corio::threading raises the same
/// RuntimeError, TQ-09).
class rlock {
 public:
  /// Python: RLock(). A new rlock, unlocked, in shared memory.
  rlock();

  /// Python: RLock.acquire(block=True). At once if the caller holds it.
  acquired acquire(bool blocking = true) {
    if (reenter()) return acquired::outcome::taken;
    if (!blocking) return acquire_until(threading::detail::clock::time_point::min());
    detail::rlock_state* s = state();
    const detail::lock_result r = detail::lock_forever(s->m, "multiprocessing::rlock.acquire");
    s->count.store(1, std::memory_order_relaxed);  // a dead holder's count goes with it
    return r;
  }
  /// Python: RLock.acquire(timeout=t). std::invalid_argument if negative.
  template <class Rep, class Period>
  acquired acquire(std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = threading::detail::deadline_after(timeout, "multiprocessing::rlock.acquire");
    if (reenter()) return acquired::outcome::taken;
    return acquire_until(deadline);
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  acquired acquire(N) = delete;
  /// Python: RLock.release(). std::runtime_error unless the caller holds it.
  void release() {
    detail::rlock_state* s = state();
    if (CORIO_UNLIKELY(!detail::held_by_me(s->m))) refuse_release();
    const std::uint32_t c = s->count.load(std::memory_order_relaxed);
    if (c > 1) {
      s->count.store(c - 1, std::memory_order_relaxed);
      return;
    }
    s->count.store(0, std::memory_order_relaxed);
    detail::unlock(s->m);
  }
  /// Whether some thread of some process holds it.
  bool locked() const noexcept { return state()->m.owner_tid.load(std::memory_order_relaxed) != 0; }
  /// Whether the calling thread holds it (Python: SemLock._is_mine()).
  bool owned_by_me() const noexcept { return detail::held_by_me(state()->m); }
  /// How many times the calling thread holds it (0 if it does not; Python:
  /// SemLock._count()).
  std::size_t recursion_count() const noexcept {
    return owned_by_me() ? state()->count.load(std::memory_order_relaxed) : 0;
  }

  /// Python: `with rlock:` as `auto guard = rl.scoped();`.
  [[nodiscard]] scoped_guard<rlock> scoped() & {
    acquire();
    return scoped_guard<rlock>(*this);
  }
  // The guard points at this handle: on a temporary it would dangle.
  void scoped() && = delete;
  // std Lockable / TimedLockable (a negative or past timeout: one attempt).
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    if (!(d > d.zero())) return try_lock();
    return acquire(d);
  }
  template <class Clock, class Duration>
  bool try_lock_until(std::chrono::time_point<Clock, Duration> tp) {
    return acquire_until(threading::detail::to_steady(tp));
  }

  shared_handle corio_handle() const;
  static rlock from_handle(const shared_handle& h);
  friend bool operator==(const rlock& a, const rlock& b) noexcept { return a.p_ == b.p_; }
  /// Python: repr(rlock): `<RLock(None, 0)>`, `<RLock(pid 1234 tid 1236,
  /// 2)>` (holder and recursion count).
  friend std::ostream& operator<<(std::ostream& os, const rlock& l);

 private:
  friend struct detail::sync_access;
  friend class condition;
  explicit rlock(detail::shared_place p) noexcept : p_(std::move(p)) {}
  detail::rlock_state* state() const noexcept { return std::launder(reinterpret_cast<detail::rlock_state*>(p_.addr)); }
  // Taken again by its holder: one more count. False if the caller does
  // not hold it.
  bool reenter() {
    detail::rlock_state* s = state();
    if (!detail::held_by_me(s->m)) return false;
    const std::uint32_t c = s->count.load(std::memory_order_relaxed);
    if (CORIO_UNLIKELY(c == UINT32_MAX)) overflow();
    s->count.store(c + 1, std::memory_order_relaxed);
    return true;
  }
  acquired acquire_until(threading::detail::clock::time_point deadline);
  [[noreturn]] static void refuse_release();
  [[noreturn]] static void overflow();
  // What a condition wait saves while it lets go of the rlock entirely.
  std::size_t release_save();
  void acquire_restore(std::size_t count);

  detail::shared_place p_;
};

/// Python: multiprocessing.Semaphore. A counter of permits shared between
/// processes: acquire takes one, blocking while there are none; release(n)
/// puts n back (MP-38). The value is at most 2^31 - 1 (SEM_VALUE_MAX). It
/// counts permits, not holders: a permit taken by a process that dies is not
/// given back (as with Python's and POSIX semaphores); a waiter that dies
/// costs nothing.
class semaphore {
 public:
  /// Python: Semaphore(value=1). std::invalid_argument if value < 0 or
  /// above 2^31 - 1.
  explicit semaphore(std::int64_t value = 1);

  /// Python: Semaphore.acquire(block=True).
  bool acquire(bool blocking = true);
  /// Python: Semaphore.acquire(timeout=t). False if no permit came within
  /// `timeout`. std::invalid_argument if negative.
  template <class Rep, class Period>
  bool acquire(std::chrono::duration<Rep, Period> timeout) {
    return acquire_until(threading::detail::deadline_after(timeout, "multiprocessing::semaphore.acquire"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool acquire(N) = delete;
  /// Python: Semaphore.release(), and n at once as threading's release(n).
  /// std::invalid_argument if n == 0, or, for a bounded_semaphore, if the
  /// value would exceed its initial value ("Semaphore released too many
  /// times"); std::overflow_error past 2^31 - 1.
  void release(std::size_t n = 1);
  /// Python: Semaphore.get_value(): the permits left now.
  std::int64_t get_value() const noexcept;

  /// Python: `with sem:` as `auto guard = sem.scoped();`.
  [[nodiscard]] scoped_guard<semaphore> scoped() & {
    acquire();
    return scoped_guard<semaphore>(*this);
  }
  // The guard points at this handle: on a temporary it would dangle.
  void scoped() && = delete;
  // std::counting_semaphore's names (a negative or past timeout: one attempt).
  bool try_acquire() { return acquire(false); }
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
    if (!(d > d.zero())) return try_acquire();
    return acquire(d);
  }
  template <class Clock, class Duration>
  bool try_acquire_until(std::chrono::time_point<Clock, Duration> tp) {
    return acquire_until(threading::detail::to_steady(tp));
  }

  shared_handle corio_handle() const;
  /// Also takes a bounded_semaphore's handle (a semaphore that keeps its
  /// bound).
  static semaphore from_handle(const shared_handle& h);
  friend bool operator==(const semaphore& a, const semaphore& b) noexcept { return a.p_ == b.p_; }
  /// Python: repr(sem): `<Semaphore(value=1)>`, `<BoundedSemaphore(value=1,
  /// maxvalue=2)>`.
  friend std::ostream& operator<<(std::ostream& os, const semaphore& s);

 protected:
  semaphore(std::int64_t value, bool bounded);
  explicit semaphore(detail::shared_place p) noexcept : p_(std::move(p)) {}
  bool bounded() const noexcept;

 private:
  bool acquire_until(threading::detail::clock::time_point deadline);

  detail::shared_place p_;
};

/// Python: multiprocessing.BoundedSemaphore. A semaphore whose release()
/// refuses to go above the initial value (std::invalid_argument, MP-38); the
/// bound is in the shared state, so it holds through a `semaphore&` too.
class bounded_semaphore : public semaphore {
 public:
  /// Python: BoundedSemaphore(value=1).
  explicit bounded_semaphore(std::int64_t value = 1) : semaphore(value, true) {}
  static bounded_semaphore from_handle(const shared_handle& h);

 private:
  explicit bounded_semaphore(detail::shared_place p) noexcept : semaphore(std::move(p)) {}
};

/// Python: multiprocessing.Event. A flag processes can wait for: set() wakes
/// every waiter; clear() does not un-wake those already woken (MP-39). One
/// futex word, no lock: nothing can be left held by a process that dies.
class event {
 public:
  /// Python: Event(). Not set.
  event();

  /// Python: Event.is_set().
  bool is_set() const noexcept;
  /// Python: Event.set(). Wakes every waiter; harmless if already set.
  void set() noexcept;
  /// Python: Event.clear().
  void clear() noexcept;
  /// Python: Event.wait(). Blocks until the flag is set; returns true.
  bool wait() { return wait_deadline(threading::detail::clock::time_point::max()); }
  /// Python: Event.wait(timeout). True if the flag was set before or during
  /// the wait (even if cleared since), false if `timeout` passed first.
  /// std::invalid_argument if negative.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_deadline(threading::detail::deadline_after(timeout, "multiprocessing::event.wait"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool wait(N) = delete;
  /// wait() with an absolute deadline.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
    return wait_deadline(threading::detail::to_steady(deadline));
  }

  shared_handle corio_handle() const;
  static event from_handle(const shared_handle& h);
  friend bool operator==(const event& a, const event& b) noexcept { return a.p_ == b.p_; }
  /// `<corio::multiprocessing::event at 0x...: set>` (`unset`).
  friend std::ostream& operator<<(std::ostream& os, const event& e);

 private:
  explicit event(detail::shared_place p) noexcept : p_(std::move(p)) {}
  bool wait_deadline(threading::detail::clock::time_point deadline);

  detail::shared_place p_;
};

/// Python: multiprocessing.Condition. Over a lock or an rlock given at
/// construction, or an rlock of its own (Python's default). wait() must be
/// called holding the lock: it releases it (entirely, for an rlock held
/// recursively), sleeps until notified or timed out, and holds it again when
/// it returns. notify(n) wakes the n longest-waiting threads, of any process,
/// and wait() returns true only for a notify (MP-39; a notify that races the
/// timeout counts, as in corio::threading).
///
/// wait and notify without holding the lock throw std::runtime_error
/// (Python: AssertionError; threading raises RuntimeError, TQ-10). At most
/// 1024 threads may wait on one condition at a time; one more throws
/// std::runtime_error. A waiter whose process died is skipped by notify, so
/// its wake-up goes to a live one.
class condition {
 public:
  /// Python: Condition(): over a new rlock of its own.
  condition();
  /// Python: Condition(lock).
  explicit condition(primitive_lock lk);
  /// Python: Condition(rlock).
  explicit condition(rlock lk);

  /// Python: Condition.acquire(block): acquires the underlying lock.
  acquired acquire(bool blocking = true) {
    return std::visit([&](auto& l) { return l.acquire(blocking); }, lock_);
  }
  /// Python: Condition.acquire(timeout=t).
  template <class Rep, class Period>
  acquired acquire(std::chrono::duration<Rep, Period> timeout) {
    return std::visit([&](auto& l) { return l.acquire(timeout); }, lock_);
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  acquired acquire(N) = delete;
  /// Python: Condition.release().
  void release() {
    std::visit([](auto& l) { l.release(); }, lock_);
  }
  /// Python: `with cond:` as `auto guard = cond.scoped();`.
  [[nodiscard]] scoped_guard<condition> scoped() & {
    acquire();
    return scoped_guard<condition>(*this);
  }
  // The guard points at this handle: on a temporary it would dangle.
  void scoped() && = delete;
  void lock() { acquire(); }
  void unlock() { release(); }
  bool try_lock() { return acquire(false); }

  /// Python: Condition.wait(). Returns true once notified.
  bool wait() { return wait_deadline(threading::detail::clock::time_point::max()); }
  /// Python: Condition.wait(timeout). False if `timeout` passed without a
  /// notify; the lock is held again either way. std::invalid_argument if
  /// negative.
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_deadline(threading::detail::deadline_after(timeout, "multiprocessing::condition.wait"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  bool wait(N) = delete;
  /// wait() with an absolute deadline.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) {
    return wait_deadline(threading::detail::to_steady(deadline));
  }
  /// Python: Condition.wait_for(predicate): waits until pred() is truthy and
  /// returns its value.
  template <class Pred>
  std::decay_t<std::invoke_result_t<Pred&>> wait_for(Pred pred) {
    auto result = pred();
    while (!result) {
      wait();
      result = pred();
    }
    return result;
  }
  /// Python: Condition.wait_for(predicate, timeout): returns the last value
  /// of pred() (falsy on a timeout).
  template <class Pred, class Rep, class Period>
  std::decay_t<std::invoke_result_t<Pred&>> wait_for(Pred pred, std::chrono::duration<Rep, Period> timeout) {
    const auto deadline = threading::detail::deadline_after(timeout, "multiprocessing::condition.wait_for");
    auto result = pred();
    while (!result) {
      const bool notified = wait_deadline(deadline);
      result = pred();
      if (!notified) break;
    }
    return result;
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <class Pred, detail::plain_number N>
  void wait_for(Pred, N) = delete;

  /// Python: Condition.notify(n): wakes the n longest-waiting threads (fewer
  /// if fewer wait).
  void notify(std::size_t n = 1);
  /// Python: Condition.notify_all().
  void notify_all();

  shared_handle corio_handle() const;
  static condition from_handle(const shared_handle& h);
  friend bool operator==(const condition& a, const condition& b) noexcept { return a.p_ == b.p_; }
  /// Python: repr(cond): `<Condition(<RLock(None, 0)>, 0)>`: the lock's form
  /// and how many threads wait.
  friend std::ostream& operator<<(std::ostream& os, const condition& c);

 private:
  condition(detail::shared_place p, std::variant<primitive_lock, rlock> lk) noexcept
      : p_(std::move(p)), lock_(std::move(lk)) {}
  bool owned() const noexcept {
    return std::visit([](const auto& l) { return l.owned_by_me(); }, lock_);
  }
  bool wait_deadline(threading::detail::clock::time_point deadline);

  detail::shared_place p_;
  std::variant<primitive_lock, rlock> lock_;
};

/// Python: multiprocessing.Barrier. `parties` threads, of any processes,
/// meet at wait(); when the last arrives, its process's `action` (if any)
/// runs once, in that thread, and all are released, each wait() returning a
/// distinct index 0..parties-1 (MP-39, as TQ-13). A timeout, an action that
/// throws, or abort() breaks it: waiting and later wait() calls throw
/// corio::broken_barrier_error until reset(). The action is this process's
/// own (a std::function cannot be shared): each process gives it to its
/// handle (from_handle(h, action)). The default timeout is shared.
class barrier {
 public:
  /// Python: Barrier(parties, action=None, timeout=None).
  /// std::invalid_argument if parties == 0 or the timeout is negative.
  explicit barrier(std::size_t parties, std::function<void()> action = {},
                   std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  /// Python: Barrier.wait(). Waits at most the default timeout; returns
  /// this thread's arrival index.
  std::size_t wait();
  /// Python: Barrier.wait(timeout). A timeout breaks the barrier and throws
  /// broken_barrier_error. std::invalid_argument if negative.
  template <class Rep, class Period>
  std::size_t wait(std::chrono::duration<Rep, Period> timeout) {
    return wait_deadline(threading::detail::deadline_after(timeout, "multiprocessing::barrier.wait"));
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <detail::plain_number N>
  std::size_t wait(N) = delete;
  /// Python: Barrier.reset().
  void reset();
  /// Python: Barrier.abort().
  void abort();
  /// Python: Barrier.parties.
  std::size_t parties() const noexcept;
  /// Python: Barrier.n_waiting.
  std::size_t n_waiting();
  /// Python: Barrier.broken.
  bool broken();

  shared_handle corio_handle() const;
  /// The barrier a handle names, with this process's action.
  static barrier from_handle(const shared_handle& h, std::function<void()> action = {});
  friend bool operator==(const barrier& a, const barrier& b) noexcept { return a.p_ == b.p_; }
  /// `<corio::multiprocessing::barrier at 0x...: waiters=1/3>`, `<...: broken>`.
  friend std::ostream& operator<<(std::ostream& os, const barrier& b);

 private:
  barrier(detail::shared_place p, std::function<void()> action) noexcept
      : p_(std::move(p)), action_(std::make_shared<const std::function<void()>>(std::move(action))) {}
  std::size_t wait_deadline(threading::detail::clock::time_point deadline);

  detail::shared_place p_;
  std::shared_ptr<const std::function<void()>> action_;
};

namespace detail {
// What sharedctypes needs of the locks: a value's default rlock is made in
// the value's own block (one cache line for both).
struct sync_access {
  /// A new rlock whose state is made at `p` (rlock_state_size bytes, zeroed).
  static rlock make_rlock_at(shared_place p);
  /// A new lock whose state is made at `p` (lock_state_size bytes, zeroed).
  static primitive_lock make_lock_at(shared_place p);
  static const shared_place& place_of(const rlock& l) noexcept { return l.p_; }
  static const shared_place& place_of(const primitive_lock& l) noexcept { return l.p_; }
};
}  // namespace detail

}  // namespace corio::multiprocessing

// The shared state of multiprocessing's locks: a robust, process-shared
// pthread mutex and who holds it. Not for users.
//
// Why pthread's: robustness needs the kernel's robust-futex list, which is
// one list per thread that glibc registers (set_robust_list) for its own
// robust mutexes; a second list of ours would replace glibc's, and putting
// our own futexes on glibc's list would depend on its private layout. A
// robust mutex is released by its holder only, which is why
// multiprocessing::lock departs from Python there.
//
// The layouts are here, not in the sources, so that an rlock taken again by
// its holder (as value::get() and set() do inside `with v.get_lock():`)
// costs a few inlined instructions, no call.
#pragma once

#include <corio/multiprocessing/detail/shared_heap.hpp>
#include <corio/threading/detail/deadline.hpp>

#include <pthread.h>

#include <cerrno>

#include <atomic>
#include <cstdint>

namespace corio::multiprocessing::detail {

struct robust_mutex {
  pthread_mutex_t mu;
  // The holder (gettid, getpid), 0 when free; written by the holder only,
  // read by anyone (a thread only ever finds its own tid there if it put it
  // there itself).
  std::atomic<std::uint32_t> owner_tid;
  std::atomic<std::uint32_t> owner_pid;
};

struct lock_state {
  robust_mutex m;
};

struct rlock_state {
  robust_mutex m;
  // How many times the holder holds it; written by the holder only, read
  // by reprs.
  std::atomic<std::uint32_t> count;
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "shared state needs lock-free atomics");

/// Initialises `m` in fresh (zeroed) shared memory: robust, process-shared.
void init(robust_mutex& m);

/// What lock() did.
enum class lock_result { not_taken, taken, taken_from_dead_owner };

/// Takes `m`: one attempt if !blocking, else waits until `deadline`
/// (time_point::max(): for ever), and records the caller as holder. A mutex
/// whose holder died is made consistent and taken. `what` names the object
/// in errors (an unusable mutex: std::runtime_error).
lock_result lock(robust_mutex& m, bool blocking, threading::detail::clock::time_point deadline, const char* what);

/// What a pthread_mutex_*lock call's non-zero result `r` means: EBUSY and
/// ETIMEDOUT not taken; EOWNERDEAD taken over (consistent again, the caller
/// recorded as holder); anything else thrown.
lock_result lock_error(robust_mutex& m, int r, const char* what);

/// Records the caller as the holder of `m`, which it has just taken.
inline void set_holder(robust_mutex& m) noexcept {
  m.owner_pid.store(current_pid(), std::memory_order_relaxed);
  m.owner_tid.store(current_tid(), std::memory_order_relaxed);
}

/// lock(m, true, for ever, what) once the first attempt found `m` held:
/// spins a little while the holder may be about to release, then sleeps.
lock_result lock_contended(robust_mutex& m, const char* what);

/// lock(m, true, for ever, what), with the uncontended path inlined.
inline lock_result lock_forever(robust_mutex& m, const char* what) {
  const int r = ::pthread_mutex_trylock(&m.mu);
  if (CORIO_LIKELY(r == 0)) {
    set_holder(m);
    return lock_result::taken;
  }
  if (r == EBUSY) return lock_contended(m, what);
  return lock_error(m, r, what);
}

/// Releases `m`, which the caller holds.
inline void unlock(robust_mutex& m) noexcept {
  m.owner_tid.store(0, std::memory_order_relaxed);
  m.owner_pid.store(0, std::memory_order_relaxed);
  ::pthread_mutex_unlock(&m.mu);
}

/// Whether the calling thread holds `m`.
inline bool held_by_me(const robust_mutex& m) noexcept {
  return m.owner_tid.load(std::memory_order_relaxed) == current_tid();
}

}  // namespace corio::multiprocessing::detail

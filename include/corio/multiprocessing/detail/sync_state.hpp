// The shared state of multiprocessing's locks: a robust, process-shared
// pthread mutex and who holds it. Not for users.
//
// Why pthread's: robustness needs the kernel's robust-futex list, which is
// one list per thread that glibc registers (set_robust_list) for its own
// robust mutexes; a second list of ours would replace glibc's, and putting
// our own futexes on glibc's list would depend on its private layout. A
// robust mutex is released by its holder only, which is why
// multiprocessing::lock departs from Python there.
#pragma once

#include <corio/multiprocessing/synchronize.hpp>
#include <corio/threading/detail/deadline.hpp>

#include <pthread.h>

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

/// Initialises `m` in fresh (zeroed) shared memory: robust, process-shared.
void init(robust_mutex& m);

/// Takes `m`: one attempt if !blocking, else waits until `deadline`
/// (time_point::max(): for ever), and records the caller as holder. A mutex
/// whose holder died is made consistent and taken. `what` names the object
/// in errors (an unusable mutex: std::runtime_error).
acquired lock(robust_mutex& m, bool blocking, threading::detail::clock::time_point deadline, const char* what);

/// Releases `m`, which the caller holds.
void unlock(robust_mutex& m) noexcept;

/// Whether the calling thread holds `m`.
inline bool held_by_me(const robust_mutex& m) noexcept {
  return m.owner_tid.load(std::memory_order_relaxed) == current_tid();
}

}  // namespace corio::multiprocessing::detail

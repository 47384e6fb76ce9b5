// The shared state of multiprocessing's locks: a futex lock that knows its
// holder, robust against a holder that dies. Not for users.
//
// The lock word is 64 bits: the holder's thread id (bits 0-29), a "waiters"
// bit (31: someone may sleep on it), and the holder's start-time token
// (bits 32-63: the low 32 bits of the thread's start time, in clock ticks
// since boot, as /proc gives it). Taking the lock is one compare-and-swap
// from 0 to the caller's (tid, token); releasing it, one exchange to 0 and a
// futex wake-up if the waiters bit was set. Threads sleep on the word's
// low half (FUTEX_WAIT compares 32 bits).
//
// Robustness: a waiter that has slept a while (1 ms, then up to 100 ms at a
// time) looks the holder up in /proc/<tid>/stat. A thread that is gone, or a
// process that is a zombie, or a tid now used by a thread that started at
// another time (the token differs), means the holder died: the waiter swaps
// the dead holder's word for its own and reports owner_died. An attempt
// that does not wait, and one whose time is up, look the holder up at once.
//
// Why not the kernel's robust futexes (set_robust_list, or glibc's robust
// pthread mutexes on them): the kernel keeps one robust list per thread,
// registered by glibc for its own mutexes, so a lock of ours would either
// replace glibc's list or depend on its private layout; glibc's robust
// mutexes cost about twice the instructions of a plain one (W12c missed its
// target on them), and let only the holder release (Python's Lock may be
// released by anyone). The price here is that a dead holder is noticed
// after a short sleep rather than at once.
#pragma once

#include <corio/detail/config.hpp>
#include <corio/multiprocessing/detail/shared_heap.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/futex.hpp>

#include <atomic>
#include <bit>
#include <cstdint>

namespace corio::multiprocessing::detail {

struct robust_mutex {
  // (token << 32) | waiters | tid; 0 when free.
  std::atomic<std::uint64_t> word;
  // The holder's pid, for text forms only (0 when free, or not known yet).
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

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "shared state needs lock-free atomics");

inline constexpr std::uint64_t lock_tid_mask = 0x3fffffff;
inline constexpr std::uint64_t lock_waiters = 0x80000000;

/// Who holds a lock word (tid and token, without the waiters bit).
constexpr std::uint64_t holder_of(std::uint64_t word) noexcept { return word & ~lock_waiters; }

/// What lock() did.
enum class lock_result { not_taken, taken, taken_from_dead_owner };

/// Takes `m` the slow way: one attempt (and a look at the holder) if
/// !blocking, else sleeps until `deadline` (time_point::max(): for ever),
/// taking the lock over from a holder that died (looked up after each
/// uninterrupted sleep, and once more when the deadline has passed).
lock_result lock_slow(robust_mutex& m, bool blocking, threading::detail::clock::time_point deadline);

/// Takes `m` (see lock_slow), the uncontended path inlined.
inline lock_result lock(robust_mutex& m, bool blocking, threading::detail::clock::time_point deadline) {
  std::uint64_t expected = 0;
  if (CORIO_LIKELY(m.word.compare_exchange_strong(expected, current_holder(), std::memory_order_acquire,
                                                  std::memory_order_relaxed))) {
    m.owner_pid.store(current_pid(), std::memory_order_relaxed);
    return lock_result::taken;
  }
  return lock_slow(m, blocking, deadline);
}

/// Takes `m`, waiting as long as it takes.
inline lock_result lock_forever(robust_mutex& m) {
  return lock(m, true, threading::detail::clock::time_point::max());
}

/// The futex half of the lock word.
inline threading::detail::futex_word* futex_half(robust_mutex& m) noexcept {
  auto* halves = reinterpret_cast<threading::detail::futex_word*>(&m.word);
  return halves + (std::endian::native == std::endian::little ? 0 : 1);
}

/// Releases `m`; the word it held (0: it was not locked, and nothing
/// changed).
inline std::uint64_t unlock(robust_mutex& m) noexcept {
  std::uint64_t w = m.word.load(std::memory_order_relaxed);
  if (CORIO_UNLIKELY(w == 0)) return 0;
  m.owner_pid.store(0, std::memory_order_relaxed);
  w = m.word.exchange(0, std::memory_order_release);
  if (w & lock_waiters) threading::detail::futex_wake_shared(futex_half(m), 1);
  return w;
}

/// Whether the calling thread holds `m`.
inline bool held_by_me(const robust_mutex& m) noexcept {
  return holder_of(m.word.load(std::memory_order_relaxed)) == current_holder();
}

/// The holder's tid (0 if free).
inline std::uint32_t holder_tid(const robust_mutex& m) noexcept {
  return static_cast<std::uint32_t>(m.word.load(std::memory_order_relaxed) & lock_tid_mask);
}

}  // namespace corio::multiprocessing::detail

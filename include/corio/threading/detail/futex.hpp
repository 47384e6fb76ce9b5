// Parking a thread on a 32-bit atomic word (Linux futex), and the short
// busy-waits used before parking or while a word lock is held. Not for
// users; the futures layer parks on the same words.
//
// Facts the primitives rely on:
// - futex_wait sleeps only while the word still holds `expected` (checked
//   atomically by the kernel), so a wake-up between a thread's last look at
//   the word and its sleep is never lost.
// - A sleeper may return for no reason (signals, stale wake-ups aimed at a
//   reused address): every caller re-checks its own condition in a loop.
// - futex_wake never touches the word's memory, so a thread may wake a word
//   whose owner can already have returned and freed it; at worst that is one
//   spurious return somewhere else, which the point above covers.
// - Deadlines are absolute CLOCK_MONOTONIC times, the clock behind
//   std::chrono::steady_clock, so a sleep ends on time whatever wakes it
//   meanwhile.
// Ordering comes from the atomic operations on the word, never from the
// syscall, so ThreadSanitizer sees every happens-before edge.
#pragma once

#include <corio/threading/detail/deadline.hpp>

#include <atomic>
#include <cstdint>
#include <thread>

namespace corio::threading::detail {

using futex_word = std::atomic<std::uint32_t>;
static_assert(sizeof(futex_word) == sizeof(std::uint32_t) && futex_word::is_always_lock_free,
              "a futex needs a plain 32-bit atomic word");

/// Sleeps while `word` holds `expected`, until woken (or a spurious return).
void futex_wait(const futex_word& word, std::uint32_t expected) noexcept;

/// Same, but gives up at `deadline` (time_point::max(): never). False if it
/// returned because the deadline passed.
bool futex_wait_until(const futex_word& word, std::uint32_t expected, clock::time_point deadline) noexcept;

/// Wakes up to `n` threads sleeping on `word`. Does not read or write *word.
void futex_wake(const futex_word* word, int n) noexcept;

/// Wakes every thread sleeping on `word`.
void futex_wake_all(const futex_word* word) noexcept;

// The same operations on a word in memory shared between processes
// (multiprocessing's primitives): without FUTEX_PRIVATE_FLAG, so the kernel
// keys the sleepers by the page, not by this process's address. A sleeper
// passes a bitset and a waker wakes only sleepers whose bitset meets its own
// (FUTEX_WAIT_BITSET / FUTEX_WAKE_BITSET); all ones matches everybody.
inline constexpr std::uint32_t futex_bitset_all = ~std::uint32_t{0};

/// Sleeps while the shared `word` holds `expected`, until woken, `deadline`
/// (time_point::max(): never) or a spurious return. False if the deadline
/// passed.
bool futex_wait_shared(const futex_word& word, std::uint32_t expected, clock::time_point deadline,
                       std::uint32_t bitset = futex_bitset_all) noexcept;

/// Wakes up to `n` sleepers on the shared `word` whose bitset meets `bitset`.
/// Does not read or write *word.
void futex_wake_shared(const futex_word* word, int n, std::uint32_t bitset = futex_bitset_all) noexcept;

/// A pause instruction for short bounded spins.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Busy-wait that backs off: pauses first, then yields the CPU, so a holder
/// that was preempted gets to run (the machine may have fewer cores than
/// threads).
class backoff {
 public:
  void pause() noexcept {
    if (n_ < 16) {
      for (unsigned i = 0; i < (1u << (n_ / 4)); ++i) cpu_relax();
      ++n_;
    } else {
      std::this_thread::yield();
    }
  }

 private:
  unsigned n_ = 0;
};

}  // namespace corio::threading::detail

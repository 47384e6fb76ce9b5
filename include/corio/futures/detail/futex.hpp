// Parking a thread on a 32-bit atomic word (Linux futex), and the short
// busy-wait used before parking or while a word lock is held. Not for users.
//
// A completed future wakes sleepers only when its state word says someone
// sleeps on it, so completing a future nobody waits on makes no system call.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace corio::futures::detail {

using clock = std::chrono::steady_clock;

/// Sleeps while `*word == expected`, until woken or `deadline` (absolute,
/// steady clock; nullptr = no limit). Returns on wake-up, timeout, signal or
/// a changed word: callers re-check their condition in a loop.
void futex_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected, const clock::time_point* deadline) noexcept;
/// Wakes every thread sleeping on `word`.
void futex_wake_all(const std::atomic<std::uint32_t>* word) noexcept;

/// One step of a spin loop: a pause instruction.
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

}  // namespace corio::futures::detail

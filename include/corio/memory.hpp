// Memory the library keeps for coroutine frames and loop objects (no Python
// counterpart; C's malloc_trim and malloc_stats).
//
// Task frames, futures and callback handles come from a per-thread recycling
// pool (one allocation per task, no system call). After a burst (a million
// tasks that have all finished) their blocks wait in the pool for the next
// burst; the loop gives their pages back to the system by itself when it is
// about to wait for 50 ms or more with more than 32 MiB of them free, keeping
// 8 MiB. trim_memory() does it at once.
#pragma once

#include <cstddef>

namespace corio {

/// Gives the pages of the pool's free blocks back to the system, beyond
/// `keep_bytes` of free blocks kept for reuse; returns the bytes released.
/// Blocks cached by other threads stay with them (at most about 1 MiB per
/// size class and thread). Any thread. A no-op under AddressSanitizer,
/// where every frame is its own malloc block.
std::size_t trim_memory(std::size_t keep_bytes = 0) noexcept;

/// What the pool holds (for monitoring and tests).
struct memory_statistics {
  std::size_t reserved_bytes = 0;  ///< taken from the system for blocks so far
  std::size_t free_bytes = 0;      ///< in free blocks shared between threads
  std::size_t released_bytes = 0;  ///< given back by trimming, reused first
};
memory_statistics memory_stats() noexcept;

}  // namespace corio

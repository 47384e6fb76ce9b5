// A per-thread recycling allocator for coroutine frames and other small
// loop objects (future states, callback handles). Not for users.
//
// Why: a task's frame is its only allocation (docs/design.md, principle 4), and
// malloc costs several times more than popping a thread-local free list.
// Blocks come in 16-byte size classes up to kMaxBlock; bigger requests go to
// operator new. Memory is carved from slabs that live until process exit; a
// thread that frees much more than it allocates hands batches back to a shared
// depot, so memory flowing one way between threads is recycled, not hoarded.
// After a burst, pool_trim gives the pages of free blocks back to the system
// (the loop does it when it goes idle), so the peak does not stay resident.
#pragma once

#include <corio/detail/config.hpp>

#include <cstddef>
#include <cstdint>
#include <new>

namespace corio::detail {

struct pool_block {
  pool_block* next;
};

struct pool_thread_cache {
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kMaxBlock = 1024;
  static constexpr std::size_t kClasses = kMaxBlock / kGranule;

  pool_block* head[kClasses];
  std::uint32_t count[kClasses];
  char* bump[kClasses];      // fresh memory not handed out yet, per class
  char* bump_end[kClasses];
  bool armed;  // the thread-exit flush is registered
  bool dead;   // set once the thread's cache has been flushed at thread exit
};

// Trivially destructible so that it is usable during thread teardown; a
// separate guard object flushes it when the thread ends.
extern thread_local pool_thread_cache tl_pool CORIO_TLS_MODEL;

void* pool_refill(std::size_t cls);            // slow path: depot or new slab; arms the thread-exit flush
void pool_overflow(std::size_t cls);           // slow path: give a batch back
void pool_free_slow(void* p, std::size_t cls); // after the thread's cache died
void pool_arm() noexcept;                      // registers the thread-exit flush
// Blocks over kMaxBlock, from ::operator new. Out of line on purpose: GCC 12
// inlines a frame's constant size into pool_allocate, sees ::operator new,
// and warns (-Wmismatched-new-delete) that the promise's operator delete
// frees it.
void* pool_allocate_large(std::size_t n);
void pool_deallocate_large(void* p) noexcept;
inline constexpr std::size_t pool_class(std::size_t n) noexcept {
  return (n + pool_thread_cache::kGranule - 1) / pool_thread_cache::kGranule - 1;
}

// Blocks a thread keeps per class before handing half back to the depot:
// about 1 MiB worth, at least 256.
constexpr std::uint32_t pool_cache_limit(std::size_t cls) noexcept {
  const std::size_t sz = (cls + 1) * pool_thread_cache::kGranule;
  const std::size_t n = (std::size_t{1} << 20) / sz;
  return static_cast<std::uint32_t>(n < 256 ? 256 : n);
}

// -- giving memory back ------------------------------------------------------
// Free blocks go back to the system (madvise DONTNEED) where they cover whole
// pages: first this thread's cached blocks move to the depot, then every
// class's free blocks beyond `keep_bytes` in all are judged. Returns the
// bytes released. Blocks cached by other threads stay (each thread keeps at
// most pool_cache_limit per class). A no-op under AddressSanitizer.
std::size_t pool_trim(std::size_t keep_bytes) noexcept;
// The loop trims when it is about to wait a while and the depot holds more
// than this; it keeps kAutoTrimKeepBytes for the next burst.
inline constexpr std::size_t kAutoTrimAboveBytes = std::size_t{32} << 20;
inline constexpr std::size_t kAutoTrimKeepBytes = std::size_t{8} << 20;
bool pool_trim_due() noexcept;

struct pool_stats {
  std::size_t slab_bytes = 0;        // carved from the system so far
  std::size_t depot_free_bytes = 0;  // free blocks handed back by threads
  std::size_t released_bytes = 0;    // given back to the system, not carved again yet
};
pool_stats pool_statistics() noexcept;

// Allocates n bytes aligned to at least 16 (the default new alignment, which
// coroutine frames rely on).
CORIO_ALWAYS_INLINE void* pool_allocate(std::size_t n) {
#if CORIO_ASAN
  return pool_allocate_large(n);
#else
  if (CORIO_UNLIKELY(n > pool_thread_cache::kMaxBlock || n == 0)) return pool_allocate_large(n);
  const std::size_t cls = pool_class(n);
  pool_thread_cache& c = tl_pool;
  pool_block* b = c.head[cls];
  if (CORIO_LIKELY(b != nullptr)) {
    c.head[cls] = b->next;
    --c.count[cls];
    return b;
  }
  return pool_refill(cls);
#endif
}

CORIO_ALWAYS_INLINE void pool_deallocate(void* p, std::size_t n) noexcept {
#if CORIO_ASAN
  (void)n;
  pool_deallocate_large(p);
#else
  if (CORIO_UNLIKELY(n > pool_thread_cache::kMaxBlock || n == 0)) {
    pool_deallocate_large(p);
    return;
  }
  const std::size_t cls = pool_class(n);
  pool_thread_cache& c = tl_pool;
  if (CORIO_UNLIKELY(!c.armed)) {
    // A thread that only frees (blocks from another thread) must still hand
    // its cache back when it ends.
    if (c.dead) {
      pool_free_slow(p, cls);
      return;
    }
    pool_arm();
  }
  auto* b = static_cast<pool_block*>(p);
  b->next = c.head[cls];
  c.head[cls] = b;
  if (CORIO_UNLIKELY(++c.count[cls] > pool_cache_limit(cls))) pool_overflow(cls);
#endif
}


}  // namespace corio::detail

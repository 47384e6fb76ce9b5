#include <corio/detail/frame_pool.hpp>
#include <corio/detail/fork.hpp>
#include <corio/memory.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

namespace corio::detail {

thread_local pool_thread_cache tl_pool CORIO_TLS_MODEL{};

namespace {

constexpr std::size_t kSlabBytes = 256 * 1024;
// A class that has filled this many slabs (4 MiB) gets 2 MiB slabs, made
// present at once, from then on (docs/design.md, "A task is one allocation").
constexpr std::size_t kSmallSlabsPerClass = 16;
constexpr std::size_t kBigSlabBytes = std::size_t{2} << 20;
constexpr std::size_t kRegionBlocks = 256;  // blocks a thread takes from a slab at once

struct batch {
  pool_block* head;
  std::uint32_t count;
};

// Shared by all threads: slabs (kept until exit, so that blocks freed on any
// thread stay valid memory) and batches of free blocks handed back by threads.
struct depot {
  std::mutex mu;
  std::vector<void*> slabs;
  std::vector<batch> free[pool_thread_cache::kClasses];
  // Carving position of the current slab per class.
  char* carve_pos[pool_thread_cache::kClasses] = {};
  char* carve_end[pool_thread_cache::kClasses] = {};
  std::size_t slab_count[pool_thread_cache::kClasses] = {};
  // Runs of blocks whose pages a trim gave back to the system: carved
  // again, like fresh slab memory, before any new slab is made.
  std::vector<std::pair<char*, char*>> reclaimed[pool_thread_cache::kClasses];
  std::size_t slab_bytes = 0;
  std::size_t free_bytes = 0;  // in `free` batches
};

// depot::free_bytes, readable without the lock (the loop's idle check).
std::atomic<std::size_t> g_depot_free_bytes{0};

constexpr std::size_t block_size(std::size_t cls) noexcept { return (cls + 1) * pool_thread_cache::kGranule; }

void depot_push(depot& d, std::size_t cls, pool_block* head, std::uint32_t count) {
  d.free[cls].push_back({head, count});
  d.free_bytes += count * block_size(cls);
  g_depot_free_bytes.store(d.free_bytes, std::memory_order_relaxed);
}

batch depot_pop(depot& d, std::size_t cls) noexcept {
  batch b = d.free[cls].back();
  d.free[cls].pop_back();
  d.free_bytes -= b.count * block_size(cls);
  g_depot_free_bytes.store(d.free_bytes, std::memory_order_relaxed);
  return b;
}

// A 2 MiB slab, its pages made present at once, or null. Why: a million
// fresh frames touch 25,000 pages, and where a page fault is dear (virtual
// machines) taking them one fault at a time costs more than making the
// tasks; MADV_POPULATE_WRITE (Linux 5.14) makes 512 pages present in one
// call. The slab is marked MADV_NOHUGEPAGE: a transparent huge page would
// save the same faults, but getting one may stall in the kernel's
// compaction, and on the machine W1 is measured on it made W1 twice as slow
// in some states (docs/benchmarks.md, "Variation"). Older kernels ignore
// the populate advice, and the pages come one fault at a time.
char* big_slab() noexcept {
  void* m = ::mmap(nullptr, kBigSlabBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
#ifdef MADV_NOHUGEPAGE
  ::madvise(m, kBigSlabBytes, MADV_NOHUGEPAGE);
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older headers lack it
#endif
  ::madvise(m, kBigSlabBytes, MADV_POPULATE_WRITE);  // advice: EINVAL on older kernels
  return static_cast<char*>(m);
}

depot& the_depot() {
  static depot* d = new depot;  // never destroyed: threads may free blocks during exit
  return *d;
}

struct thread_flush {
  bool armed = false;
  ~thread_flush() {
    if (!armed) return;
    pool_thread_cache& c = tl_pool;
    depot& d = the_depot();
    std::lock_guard lk(d.mu);
    for (std::size_t cls = 0; cls < pool_thread_cache::kClasses; ++cls) {
      // The untouched rest of the thread's region goes back as blocks too.
      const std::size_t sz = (cls + 1) * pool_thread_cache::kGranule;
      while (static_cast<std::size_t>(c.bump_end[cls] - c.bump[cls]) >= sz) {
        auto* b = reinterpret_cast<pool_block*>(c.bump[cls]);
        c.bump[cls] += sz;
        b->next = c.head[cls];
        c.head[cls] = b;
        ++c.count[cls];
      }
      if (c.head[cls]) depot_push(d, cls, c.head[cls], c.count[cls]);
      c.head[cls] = nullptr;
      c.count[cls] = 0;
    }
    c.armed = false;
    c.dead = true;
  }
};
thread_local thread_flush tl_flush;

}  // namespace

void pool_arm() noexcept {
  tl_flush.armed = true;
  tl_pool.armed = true;
}

void* pool_allocate_large(std::size_t n) { return ::operator new(n); }
void pool_deallocate_large(void* p) noexcept { ::operator delete(p); }

void* pool_refill(std::size_t cls) {
  pool_thread_cache& c = tl_pool;
  const std::size_t sz = (cls + 1) * pool_thread_cache::kGranule;
  if (c.dead) return ::operator new(sz);
  // Fresh memory first: bumping a pointer writes nothing into the blocks.
  if (static_cast<std::size_t>(c.bump_end[cls] - c.bump[cls]) >= sz) {
    void* r = c.bump[cls];
    c.bump[cls] += sz;
    return r;
  }
  pool_arm();
  depot& d = the_depot();
  std::lock_guard lk(d.mu);
  if (!d.free[cls].empty()) {
    batch b = depot_pop(d, cls);
    pool_block* first = b.head;
    c.head[cls] = first->next;
    c.count[cls] = b.count - 1;
    return first;
  }
  // A new region for this thread and class: memory a trim gave back, or
  // carved from a shared slab.
  const std::size_t region = kRegionBlocks * sz;
  if (auto& rc = d.reclaimed[cls]; !rc.empty()) {
    auto& [from, to] = rc.back();
    char* r = from;
    const std::size_t take = std::min(region, static_cast<std::size_t>(to - from) / sz * sz);
    from += take;
    if (static_cast<std::size_t>(to - from) < sz) rc.pop_back();
    c.bump[cls] = r + sz;
    c.bump_end[cls] = r + take;
    return r;
  }
  char*& pos = d.carve_pos[cls];
  char*& end = d.carve_end[cls];
  if (pos == nullptr || static_cast<std::size_t>(end - pos) < region) {
    std::size_t bytes = kSlabBytes > 4 * region ? kSlabBytes : 4 * region;
    char* slab = nullptr;
    if (d.slab_count[cls] >= kSmallSlabsPerClass && bytes <= kBigSlabBytes && (slab = big_slab())) {
      bytes = kBigSlabBytes;
    } else {
      slab = static_cast<char*>(::operator new(bytes));
    }
    d.slabs.push_back(slab);
    d.slab_bytes += bytes;
    ++d.slab_count[cls];
    pos = slab;
    end = pos + bytes;
  }
  c.bump[cls] = pos + sz;
  c.bump_end[cls] = pos + region;
  void* r = pos;
  pos += region;
  return r;
}

void pool_overflow(std::size_t cls) {
  pool_thread_cache& c = tl_pool;
  pool_arm();
  // Keep half, hand the other half to the depot as one batch.
  const std::uint32_t give = c.count[cls] / 2;
  pool_block* head = c.head[cls];
  pool_block* tail = head;
  for (std::uint32_t i = 1; i < give; ++i) tail = tail->next;
  c.head[cls] = tail->next;
  tail->next = nullptr;
  c.count[cls] -= give;
  depot& d = the_depot();
  std::lock_guard lk(d.mu);
  depot_push(d, cls, head, give);
}

void pool_free_slow(void* p, std::size_t cls) {
  auto* b = static_cast<pool_block*>(p);
  b->next = nullptr;
  depot& d = the_depot();
  std::lock_guard lk(d.mu);
  depot_push(d, cls, b, 1);
}

// -- trimming ----------------------------------------------------------------------

#if !CORIO_ASAN
namespace {

// Gives back the pages covered entirely by runs of contiguous free blocks of
// one class, beyond `keep` bytes of free blocks left as they are. The
// blocks of a released run leave the free lists; the run is carved again
// when the class needs memory (its pages come back zeroed, which fresh
// carving does not mind). Returns the bytes released.
std::size_t trim_class(depot& d, std::size_t cls, std::size_t& keep, std::size_t page) {
  const std::size_t sz = block_size(cls);
  std::size_t n = 0;
  for (const batch& b : d.free[cls]) n += b.count;
  // Everything that could throw is reserved before the first block leaves
  // the free lists.
  std::vector<char*> blocks;
  blocks.reserve(n);
  d.free[cls].reserve(n / pool_cache_limit(cls) + 2);
  while (!d.free[cls].empty()) {
    batch b = depot_pop(d, cls);
    for (pool_block* p = b.head; p; p = p->next) blocks.push_back(reinterpret_cast<char*>(p));
  }
  std::sort(blocks.begin(), blocks.end());
  std::size_t released = 0;
  pool_block* head = nullptr;
  std::uint32_t count = 0;
  auto keep_block = [&](char* p) {
    auto* b = reinterpret_cast<pool_block*>(p);
    b->next = head;
    head = b;
    if (++count == pool_cache_limit(cls)) {
      depot_push(d, cls, head, count);
      head = nullptr;
      count = 0;
    }
  };
  for (std::size_t i = 0; i < blocks.size();) {
    std::size_t j = i + 1;
    while (j < blocks.size() && blocks[j] == blocks[j - 1] + sz) ++j;
    char* const from = blocks[i];
    char* const to = blocks[j - 1] + sz;
    const auto lo = (reinterpret_cast<std::uintptr_t>(from) + page - 1) / page * page;
    const auto hi = reinterpret_cast<std::uintptr_t>(to) / page * page;
    const std::size_t run_bytes = (j - i) * sz;
    if (keep >= run_bytes || hi <= lo ||
        ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED) != 0) {
      keep -= std::min(keep, run_bytes);
      for (std::size_t k = i; k < j; ++k) keep_block(blocks[k]);
    } else {
      try {
        d.reclaimed[cls].emplace_back(from, to);
        released += hi - lo;
      } catch (...) {
        for (std::size_t k = i; k < j; ++k) keep_block(blocks[k]);  // zeroed now, still good blocks
      }
    }
    i = j;
  }
  if (count) depot_push(d, cls, head, count);
  return released;
}

}  // namespace
#endif

std::size_t pool_trim(std::size_t keep_bytes) noexcept {
#if CORIO_ASAN
  (void)keep_bytes;
  return 0;
#else
  // The calling thread's cached blocks go to the depot first, so that what
  // this thread freed can be judged as a whole.
  pool_thread_cache& c = tl_pool;
  depot& d = the_depot();
  std::lock_guard lk(d.mu);
  if (!c.dead) {
    for (std::size_t cls = 0; cls < pool_thread_cache::kClasses; ++cls) {
      if (c.head[cls]) {
        try {
          depot_push(d, cls, c.head[cls], c.count[cls]);
        } catch (...) {
          continue;  // out of memory for the batch list: the thread keeps them
        }
        c.head[cls] = nullptr;
        c.count[cls] = 0;
      }
    }
  }
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  std::size_t released = 0;
  for (std::size_t cls = 0; cls < pool_thread_cache::kClasses; ++cls) {
    if (d.free[cls].empty()) continue;
    try {
      released += trim_class(d, cls, keep_bytes, page);
    } catch (...) {
      // Out of memory before any block moved: the class stays as it is.
    }
  }
  return released;
#endif
}

bool pool_trim_due() noexcept {
  return g_depot_free_bytes.load(std::memory_order_relaxed) > kAutoTrimAboveBytes;
}

// Held across a fork, so the child's copy of the depot is consistent.
void frame_pool_fork_prepare() noexcept { the_depot().mu.lock(); }
void frame_pool_fork_parent() noexcept { the_depot().mu.unlock(); }
void frame_pool_fork_child() noexcept { the_depot().mu.unlock(); }

pool_stats pool_statistics() noexcept {
  depot& d = the_depot();
  std::lock_guard lk(d.mu);
  pool_stats st;
  st.slab_bytes = d.slab_bytes;
  st.depot_free_bytes = d.free_bytes;
  for (const auto& rc : d.reclaimed)
    for (const auto& [from, to] : rc) st.released_bytes += static_cast<std::size_t>(to - from);
  return st;
}

}  // namespace corio::detail

namespace corio {

std::size_t trim_memory(std::size_t keep_bytes) noexcept { return detail::pool_trim(keep_bytes); }

memory_statistics memory_stats() noexcept {
  const detail::pool_stats s = detail::pool_statistics();
  return {s.slab_bytes, s.depot_free_bytes, s.released_bytes};
}

}  // namespace corio

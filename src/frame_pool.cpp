#include <corio/detail/frame_pool.hpp>

#include <sys/mman.h>

#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

namespace corio::detail {

thread_local pool_thread_cache tl_pool CORIO_TLS_MODEL{};

namespace {

constexpr std::size_t kSlabBytes = 256 * 1024;
// A class that has filled this many slabs (4 MiB) gets huge-page slabs
// from then on (docs/design.md, "A task is one allocation").
constexpr std::size_t kSmallSlabsPerClass = 16;
constexpr std::size_t kHugeSlabBytes = std::size_t{2} << 20;
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
};

// A 2 MiB slab on a 2 MiB boundary, marked for transparent huge pages, or
// null. Why: a million fresh frames touch 30,000 small pages, and where a
// page fault is dear (virtual machines) those faults cost more than making
// the tasks; one huge page replaces 512 of them.
char* huge_slab() noexcept {
  const std::size_t len = 2 * kHugeSlabBytes;
  void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return nullptr;
  auto* base = static_cast<char*>(m);
  const auto addr = reinterpret_cast<std::uintptr_t>(base);
  char* aligned = base + ((kHugeSlabBytes - addr % kHugeSlabBytes) % kHugeSlabBytes);
  if (aligned > base) ::munmap(base, static_cast<std::size_t>(aligned - base));
  char* tail = aligned + kHugeSlabBytes;
  if (tail < base + len) ::munmap(tail, static_cast<std::size_t>(base + len - tail));
#ifdef MADV_HUGEPAGE
  ::madvise(aligned, kHugeSlabBytes, MADV_HUGEPAGE);  // advice only: no THP, small pages
#endif
  return aligned;
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
      if (c.head[cls]) d.free[cls].push_back({c.head[cls], c.count[cls]});
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
  auto& fl = d.free[cls];
  if (!fl.empty()) {
    batch b = fl.back();
    fl.pop_back();
    pool_block* first = b.head;
    c.head[cls] = first->next;
    c.count[cls] = b.count - 1;
    return first;
  }
  // A new region for this thread and class, carved from a shared slab.
  const std::size_t region = kRegionBlocks * sz;
  char*& pos = d.carve_pos[cls];
  char*& end = d.carve_end[cls];
  if (pos == nullptr || static_cast<std::size_t>(end - pos) < region) {
    std::size_t bytes = kSlabBytes > 4 * region ? kSlabBytes : 4 * region;
    char* slab = nullptr;
    if (d.slab_count[cls] >= kSmallSlabsPerClass && bytes <= kHugeSlabBytes && (slab = huge_slab())) {
      bytes = kHugeSlabBytes;
    } else {
      slab = static_cast<char*>(::operator new(bytes));
    }
    d.slabs.push_back(slab);
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
  d.free[cls].push_back({head, give});
}

void pool_free_slow(void* p, std::size_t cls) {
  auto* b = static_cast<pool_block*>(p);
  b->next = nullptr;
  depot& d = the_depot();
  std::lock_guard lk(d.mu);
  d.free[cls].push_back({b, 1});
}

}  // namespace corio::detail

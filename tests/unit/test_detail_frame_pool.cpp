// White-box tests of the per-thread recycling allocator behind coroutine
// frames (corio/detail/frame_pool.hpp).
#include <corio/detail/frame_pool.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

using corio::detail::pool_allocate;
using corio::detail::pool_cache_limit;
using corio::detail::pool_class;
using corio::detail::pool_deallocate;
using corio::detail::pool_thread_cache;

namespace {

// Fills a block with a pattern derived from its address, so overlapping
// blocks show up as a corrupted pattern.
void fill(void* p, std::size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  const auto seed = static_cast<unsigned char>(reinterpret_cast<std::uintptr_t>(p) >> 4);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>(seed + i);
}
bool intact(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  const auto seed = static_cast<unsigned char>(reinterpret_cast<std::uintptr_t>(p) >> 4);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>(seed + i)) return false;
  return true;
}

}  // namespace

TEST(FramePool, size_classes_are_16_byte_granules) {
  EXPECT_EQ(pool_class(1), 0u);
  EXPECT_EQ(pool_class(16), 0u);
  EXPECT_EQ(pool_class(17), 1u);
  EXPECT_EQ(pool_class(32), 1u);
  EXPECT_EQ(pool_class(pool_thread_cache::kMaxBlock), pool_thread_cache::kClasses - 1);
}

TEST(FramePool, a_thread_keeps_at_least_256_blocks_or_about_a_mebibyte_per_class) {
  EXPECT_EQ(pool_cache_limit(0), 65536u);  // 16-byte blocks: 1 MiB worth
  EXPECT_EQ(pool_cache_limit(pool_class(1024)), 1024u);
  for (std::size_t cls = 0; cls < pool_thread_cache::kClasses; ++cls) EXPECT_GE(pool_cache_limit(cls), 256u);
}

TEST(FramePool, blocks_are_16_byte_aligned_and_usable_in_full_for_every_size) {
  std::vector<std::pair<void*, std::size_t>> live;
  for (std::size_t n = 1; n <= 2 * pool_thread_cache::kMaxBlock; n += 7) {
    for (int k = 0; k < 3; ++k) {
      void* p = pool_allocate(n);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u) << "size " << n;
      fill(p, n);
      live.emplace_back(p, n);
    }
  }
  for (auto& [p, n] : live) EXPECT_TRUE(intact(p, n)) << "a block of " << n << " bytes overlaps another";
  for (auto& [p, n] : live) pool_deallocate(p, n);
}

TEST(FramePool, zero_and_oversized_requests_are_served) {
  void* z = pool_allocate(0);
  ASSERT_NE(z, nullptr);
  pool_deallocate(z, 0);
  void* big = pool_allocate(64 * 1024);
  ASSERT_NE(big, nullptr);
  std::memset(big, 0xab, 64 * 1024);
  pool_deallocate(big, 64 * 1024);
}

TEST(FramePool, a_freed_block_is_reused_first) {
#if CORIO_ASAN
  GTEST_SKIP() << "under AddressSanitizer the pool hands every request to operator new";
#else
  void* a = pool_allocate(200);
  pool_deallocate(a, 200);
  void* b = pool_allocate(200);
  EXPECT_EQ(a, b);
  // Any size in the same class gets the same block back.
  pool_deallocate(b, 200);
  void* c = pool_allocate(pool_class(200) * 16 + 1);
  EXPECT_EQ(a, c);
  pool_deallocate(c, pool_class(200) * 16 + 1);
#endif
}

TEST(FramePool, many_allocations_in_random_order_never_overlap) {
  std::mt19937 rng(7);
  std::vector<std::pair<void*, std::size_t>> live;
  for (int step = 0; step < 200000; ++step) {
    if (live.empty() || rng() % 3 != 0) {
      const std::size_t n = 1 + rng() % (pool_thread_cache::kMaxBlock + 200);
      void* p = pool_allocate(n);
      fill(p, std::min<std::size_t>(n, 32));
      live.emplace_back(p, n);
    } else {
      const std::size_t i = rng() % live.size();
      ASSERT_TRUE(intact(live[i].first, std::min<std::size_t>(live[i].second, 32)));
      pool_deallocate(live[i].first, live[i].second);
      live[i] = live.back();
      live.pop_back();
    }
  }
  for (auto& [p, n] : live) {
    EXPECT_TRUE(intact(p, std::min<std::size_t>(n, 32)));
    pool_deallocate(p, n);
  }
}

// 24 MiB of one class: past the 4 MiB of small slabs, into 2 MiB big
// slabs carved in regions. Every block is whole, distinct and aligned.
TEST(FramePool, a_class_that_grows_past_its_small_slabs_gets_whole_distinct_blocks) {
  constexpr std::size_t n = 1000;  // the 1008-byte class
  constexpr std::size_t count = 24 * 1024;
  std::vector<void*> live;
  live.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    void* p = pool_allocate(n);
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
    fill(p, n);
    live.push_back(p);
  }
  std::vector<void*> sorted = live;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 1; i < sorted.size(); ++i)
    ASSERT_GE(static_cast<char*>(sorted[i]) - static_cast<char*>(sorted[i - 1]), static_cast<std::ptrdiff_t>(n));
  for (void* p : live) ASSERT_TRUE(intact(p, n));
  for (void* p : live) pool_deallocate(p, n);
#if !CORIO_ASAN  // there every request goes to operator new
  void* again = pool_allocate(n);  // recycled, not new memory
  EXPECT_TRUE(std::find(live.begin(), live.end(), again) != live.end());
  pool_deallocate(again, n);
#endif
}

TEST(FramePool, blocks_freed_on_another_thread_are_recycled_after_it_exits) {
#if CORIO_ASAN
  GTEST_SKIP() << "under AddressSanitizer the pool hands every request to operator new";
#else
  // A class no other test in this program uses, so the depot holds only ours.
  constexpr std::size_t kSize = 1000;
  constexpr std::size_t kCount = 300;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < kCount; ++i) blocks.push_back(pool_allocate(kSize));
  const std::set<void*> ours(blocks.begin(), blocks.end());

  // The freeing thread caches them; when it ends, its cache goes to the depot.
  std::thread([&] {
    for (void* p : blocks) pool_deallocate(p, kSize);
  }).join();

  // A third thread starts with an empty cache and so is fed from the depot.
  std::size_t recycled = 0;
  std::thread([&] {
    std::vector<void*> got;
    for (std::size_t i = 0; i < kCount; ++i) got.push_back(pool_allocate(kSize));
    for (void* p : got) recycled += ours.count(p);
    for (void* p : got) pool_deallocate(p, kSize);
  }).join();
  EXPECT_EQ(recycled, kCount);
#endif
}

TEST(FramePool, a_thread_that_frees_more_than_it_keeps_hands_blocks_back_while_alive) {
#if CORIO_ASAN
  GTEST_SKIP() << "under AddressSanitizer the pool hands every request to operator new";
#else
  // Blocks flowing one way (allocated here, freed there) must come back
  // while the freeing thread still runs, or a producer/consumer pair would
  // make the pool grow without bound.
  constexpr std::size_t kSize = 880;
  const std::size_t limit = pool_cache_limit(pool_class(kSize));
  const std::size_t count = 3 * limit;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < count; ++i) blocks.push_back(pool_allocate(kSize));
  const std::set<void*> ours(blocks.begin(), blocks.end());

  std::mutex mu;
  std::condition_variable cv;
  bool freed = false, checked = false;
  std::thread freer([&] {
    for (void* p : blocks) pool_deallocate(p, kSize);
    std::unique_lock lk(mu);
    freed = true;
    cv.notify_all();
    cv.wait(lk, [&] { return checked; });  // stay alive: no exit flush
  });
  {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return freed; });
  }
  std::size_t recycled = 0;
  std::thread([&] {
    std::vector<void*> got;
    for (std::size_t i = 0; i < limit; ++i) got.push_back(pool_allocate(kSize));
    for (void* p : got) recycled += ours.count(p);
    for (void* p : got) pool_deallocate(p, kSize);
  }).join();
  {
    std::lock_guard lk(mu);
    checked = true;
  }
  cv.notify_all();
  freer.join();
  EXPECT_EQ(recycled, limit);
#endif
}

namespace {
std::atomic<void*> g_late_block{nullptr};
}

TEST(FramePool, a_block_freed_after_its_thread_flushed_the_cache_is_recycled) {
  // A thread_local object destroyed after the pool's own exit flush frees a
  // block: the pool must still take it back, for any thread to reuse.
  constexpr std::size_t kSize = 720;
  struct late_free {
    void* p = nullptr;
    ~late_free() {
      if (p) pool_deallocate(p, kSize);
    }
  };
  std::thread([] {
    static thread_local late_free lf;  // constructed first, so destroyed last
    lf.p = pool_allocate(kSize);
    g_late_block = lf.p;
  }).join();
#if CORIO_ASAN
  SUCCEED() << "under AddressSanitizer the block went to operator delete";
#else
  void* got = nullptr;
  std::thread([&] { got = pool_allocate(kSize); }).join();
  EXPECT_EQ(got, g_late_block.load()) << "the late block is the depot's newest";
  pool_deallocate(got, kSize);
#endif
}

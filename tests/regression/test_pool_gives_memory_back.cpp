// The frame pool kept every page it ever carved: a burst of a million tasks
// left its peak resident for good. Free blocks that cover whole pages now go
// back to the system, by trim_memory() or by itself when the loop goes idle,
// and what is given back is carved again before new memory is taken.
#include <corio/corio.hpp>
#include <corio/detail/config.hpp>
#include <corio/detail/frame_pool.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

using namespace std::chrono_literals;

namespace {

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string k;
  long v = 0;
  while (f >> k)
    if (k == "VmRSS:") {
      f >> v;
      break;
    }
  return v;
}

corio::task<int> leaf(int x) {
  co_await corio::sleep(0s);
  co_return x + 1;
}

corio::task<long> burst(int n) {
  std::vector<corio::task<int>> ts;
  ts.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ts.push_back(corio::create_task(leaf(i)));
  long sum = 0;
  for (int v : co_await corio::gather(std::move(ts))) sum += v;
  co_return sum;
}

constexpr int kBurst = 300'000;  // about 30 MiB of frames

TEST(PoolGivesMemoryBack, trim_memory_after_a_burst_returns_the_frames_pages) {
  if (CORIO_ASAN) GTEST_SKIP() << "the pool steps aside under AddressSanitizer";
  corio::event_loop loop;
  EXPECT_EQ(loop.run_until_complete(burst(kBurst)), static_cast<long>(kBurst) * (kBurst + 1) / 2);
  const long before = rss_kib();
  const std::size_t released = corio::trim_memory();
  const long after = rss_kib();
  EXPECT_GT(released, std::size_t{20} << 20) << "released " << released << " bytes";
  EXPECT_LT(after, before - 15 * 1024) << "RSS " << before << " KiB -> " << after << " KiB";
  EXPECT_GT(corio::memory_stats().released_bytes, 0u);
  // Given-back memory is carved again: a second burst takes no new slabs.
  const std::size_t reserved = corio::memory_stats().reserved_bytes;
  EXPECT_EQ(loop.run_until_complete(burst(kBurst)), static_cast<long>(kBurst) * (kBurst + 1) / 2);
  EXPECT_EQ(corio::memory_stats().reserved_bytes, reserved);
}

TEST(PoolGivesMemoryBack, an_idle_loop_trims_by_itself_after_a_burst) {
  if (CORIO_ASAN) GTEST_SKIP() << "the pool steps aside under AddressSanitizer";
  corio::event_loop loop;
  loop.run_until_complete(burst(kBurst));
  corio::detail::pool_trim(0);
  loop.run_until_complete(burst(kBurst));
  // The second burst's frames are free in this thread's cache and the
  // depot; a wait of 150 ms lets the loop trim them.
  const long before = rss_kib();
  loop.run_until_complete([]() -> corio::task<> { co_await corio::sleep(150ms); }());
  const long after = rss_kib();
  EXPECT_LT(after, before - 10 * 1024) << "RSS " << before << " KiB -> " << after << " KiB";
  EXPECT_LE(corio::memory_stats().free_bytes, corio::detail::kAutoTrimKeepBytes + (std::size_t{2} << 20));
}

TEST(PoolGivesMemoryBack, blocks_carved_again_after_a_trim_are_whole_and_distinct) {
  if (CORIO_ASAN) GTEST_SKIP() << "the pool steps aside under AddressSanitizer";
  using corio::detail::pool_allocate;
  using corio::detail::pool_deallocate;
  std::vector<void*> a;
  for (int i = 0; i < 200'000; ++i) a.push_back(pool_allocate(80));
  for (void* p : a) pool_deallocate(p, 80);
  corio::detail::pool_trim(0);
  std::vector<unsigned char*> b;
  for (int i = 0; i < 200'000; ++i) {
    auto* p = static_cast<unsigned char*>(pool_allocate(80));
    for (int k = 0; k < 80; ++k) p[k] = static_cast<unsigned char>(i + k);
    b.push_back(p);
  }
  for (int i = 0; i < 200'000; ++i)
    for (int k = 0; k < 80; ++k) ASSERT_EQ(b[i][k], static_cast<unsigned char>(i + k)) << "block " << i << " overlaps";
  for (auto* p : b) pool_deallocate(p, 80);
}

}  // namespace

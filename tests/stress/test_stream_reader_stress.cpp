// Stress: large volumes through corio::stream_reader, fed by a producer that
// honours flow control as a socket transport does (fixed seeds, virtual
// time). Checked: every byte arrives once and in order, the transport is
// paused at 2 x limit, and the buffer stays bounded (a 10 MB line included).
#include <corio/stream_reader.hpp>

#include <corio/locks.hpp>
#include <corio/testing/loop.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "loop_util.hpp"

using namespace std::chrono_literals;
using corio::testing::run_briefly;
using corio::testing::virtual_time;

using corio_test::bounded;
using corio_test::yield_once;

namespace {

// A producer that stops feeding while paused, as a socket transport does.
struct throttled_producer final : corio::detail::read_flow {
  corio::stream_reader r;
  corio::event running;
  std::size_t pauses = 0;
  std::size_t peak_buffered = 0;
  explicit throttled_producer(corio::stream_reader reader) : r(std::move(reader)) {
    running.set();
    r.core().set_transport(this);
  }
  ~throttled_producer() { r.core().set_transport(nullptr); }
  void pause_reading() noexcept override {
    ++pauses;
    running.clear();
  }
  void resume_reading() noexcept override { running.set(); }
  // Feeds `total` bytes of gen(offset, chunk) in chunks of `chunk`, then
  // EOF; yields to the loop after every `burst` chunks.
  template <class Gen>
  corio::task<> feed(std::size_t total, std::size_t chunk, Gen gen, std::size_t burst = 1) {
    std::string buf;
    std::size_t n = 0;
    for (std::size_t off = 0; off < total; off += buf.size()) {
      while (!running.is_set()) co_await running.wait();
      buf = gen(off, std::min(chunk, total - off));
      r.feed_data(buf);
      peak_buffered = std::max(peak_buffered, r.buffered());
      if (++n % burst == 0) co_await yield_once();
    }
    r.feed_eof();
  }
};

char pattern_at(std::size_t i) { return static_cast<char>((i * 131) ^ (i >> 11)); }
std::string pattern(std::size_t off, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = pattern_at(off + i);
  return s;
}

}  // namespace

TEST(StreamReaderStress, feeding_and_consuming_at_the_same_pace_keeps_the_buffer_small) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  std::mt19937 rng(7);
  std::size_t fed = 0, taken = 0, mismatches = 0, peak_capacity = 0;
  auto main = [&]() -> corio::task<> {
    std::array<char, 1500> buf{};
    for (int i = 0; i < 20000; ++i) {
      if (r.buffered() < 3000) {
        const std::size_t n = 1 + rng() % 1400;
        r.feed_data(pattern(fed, n));
        fed += n;
      }
      const std::size_t want = 1 + rng() % buf.size();
      const std::size_t got = co_await r.read_into(std::span<char>(buf.data(), want));
      for (std::size_t k = 0; k < got; ++k) mismatches += buf[k] != pattern_at(taken + k);
      taken += got;
      peak_capacity = std::max(peak_capacity, r.core().heap_capacity());
    }
  };
  loop.run_until_complete(main());
  EXPECT_EQ(taken + r.buffered(), fed);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_LE(peak_capacity, 16384u);  // never more than a few times what is buffered
}

TEST(StreamReaderStress, a_ten_megabyte_line_ends_in_the_limit_error_with_bounded_memory) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;  // 64 KiB limit
  throttled_producer producer(r);
  const std::size_t long_line = 10 << 20;
  const std::string tail = "\nnext line\n";
  std::size_t errors = 0, peak_capacity = 0;
  std::vector<std::string> lines;
  auto consumer = [&]() -> corio::task<> {
    for (;;) {
      try {
        std::string line = co_await r.readline();
        if (line.empty()) break;
        lines.push_back(std::move(line));
      } catch (const std::invalid_argument&) {
        ++errors;
      }
      peak_capacity = std::max(peak_capacity, r.core().heap_capacity());
    }
  };
  auto gen = [&](std::size_t off, std::size_t n) {
    std::string s(n, 'x');
    for (std::size_t i = 0; i < n; ++i)
      if (off + i >= long_line) s[i] = tail[off + i - long_line];
    return s;
  };
  auto main = [&]() -> corio::task<> {
    auto c = corio::create_task(consumer());
    co_await producer.feed(long_line + tail.size(), 16384, gen, 32);  // bursts of 512 KiB
    co_await c;
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_GE(errors, 1u);
  EXPECT_GE(producer.pauses, 1u);
  EXPECT_LE(producer.peak_buffered, 2 * r.limit() + 16384);
  EXPECT_LE(peak_capacity, 4 * r.limit());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "next line\n");
  EXPECT_EQ(r.core().heap_capacity(), 0u);
}

TEST(StreamReaderStress, sixty_four_megabytes_through_read_into_arrive_intact_and_in_order) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r;
  throttled_producer producer(r);
  const std::size_t total = 64 << 20;
  std::size_t taken = 0, mismatches = 0;
  auto consumer = [&]() -> corio::task<> {
    std::array<char, 4096> buf{};
    for (;;) {
      const std::size_t n = co_await r.read_into(buf);
      if (n == 0) break;
      for (std::size_t k = 0; k < n; ++k) mismatches += buf[k] != pattern_at(taken + k);
      taken += n;
    }
  };
  auto main = [&]() -> corio::task<> {
    auto c = corio::create_task(consumer());
    co_await producer.feed(total, 65536, pattern, 4);
    co_await c;
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_EQ(taken, total);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GE(producer.pauses, 1u);
  EXPECT_LE(producer.peak_buffered, 2 * r.limit() + 65536);
}

TEST(StreamReaderStress, length_prefixed_frames_and_lines_in_random_chunks) {
  corio::event_loop loop(virtual_time());
  corio::stream_reader r(1 << 12);
  std::mt19937 rng(11);
  std::string wire;
  std::vector<std::string> frames;
  for (int i = 0; i < 3000; ++i) {
    std::string body(rng() % 3000, '\0');
    for (auto& ch : body) ch = static_cast<char>('a' + rng() % 26);
    if (i % 2 == 0) {
      const auto len = static_cast<std::uint32_t>(body.size());
      wire.append(reinterpret_cast<const char*>(&len), sizeof len);
      wire += body;
    } else {
      body.resize(body.size() % 1000);
      wire += body + "\n";
    }
    frames.push_back(body);
  }
  std::vector<std::string> got;
  auto consumer = [&]() -> corio::task<> {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (i % 2 == 0) {
        const std::string head = co_await r.readexactly(4);
        std::uint32_t len = 0;
        std::memcpy(&len, head.data(), 4);
        got.push_back(co_await r.readexactly(len));
      } else {
        std::string line = co_await r.readline();
        line.pop_back();
        got.push_back(std::move(line));
      }
    }
  };
  auto t = loop.create_task(consumer());
  for (std::size_t off = 0; off < wire.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 5000, wire.size() - off);
    r.feed_data(std::string_view(wire).substr(off, n));
    off += n;
    run_briefly(loop, rng() % 3);
  }
  r.feed_eof();
  loop.run_until_complete(t);
  EXPECT_EQ(got, frames);
  EXPECT_TRUE(r.at_eof());
}

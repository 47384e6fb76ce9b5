// Task and result messages larger than a pipe's buffer (64 KiB). The pool's
// handler thread wrote a worker's next task with a blocking write while the
// worker was blocked writing its previous, large result, which only that
// same thread reads: both waited for ever. A map of 1,000,000 integers in
// chunks of 10,000 (about 90 KB each way) hung on its second chunk.
#include "multiprocessing_util.hpp"

#include <corio/futures/process_pool_executor.hpp>
#include <corio/multiprocessing/pool.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {
// A hang is a failure, not a stuck test: every wait is bounded, and the
// fixture kills what is left.
constexpr auto kBound = 60s;

std::int64_t square(std::int64_t x) { return x * x; }

std::string echo(std::string s) { return s; }

std::int64_t die_at_150000(std::int64_t x) {
  if (x == 150'000) ::raise(SIGKILL);
  return x;
}

std::int64_t slow_every_10000(std::int64_t x) {
  if (x % 10'000 == 0) std::this_thread::sleep_for(20ms);
  return x;
}

// Declared after the pool: on a failure, kills the workers before the pool's
// destructor waits for its handler (which a hang leaves stuck in a write).
struct kill_workers_on_failure {
  ~kill_workers_on_failure() {
    if (::testing::Test::HasFailure()) corio_test::kill_and_reap_all();
  }
};

std::vector<std::int64_t> iota(std::size_t n) {
  std::vector<std::int64_t> xs(n);
  std::iota(xs.begin(), xs.end(), std::int64_t{0});
  return xs;
}
}  // namespace

TEST_F(mp_test, a_map_whose_chunks_and_results_exceed_the_pipe_buffer_completes) {
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  kill_workers_on_failure guard;
  const auto xs = iota(200'000);
  auto r = p.map_async(square, xs, 20'000);  // about 180 KB per chunk, each way
  std::vector<std::int64_t> out;
  ASSERT_NO_THROW(out = r.get(kBound));
  ASSERT_EQ(out.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) ASSERT_EQ(out[i], xs[i] * xs[i]) << "item " << i;
  p.close();
  p.join();
}

TEST_F(mp_test, many_big_string_tasks_queued_ahead_of_their_workers_all_come_back) {
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  kill_workers_on_failure guard;
  std::vector<mp::async_result<std::string>> rs;
  for (int i = 0; i < 12; ++i) rs.push_back(p.apply_async(echo, std::string(300'000, static_cast<char>('a' + i))));
  for (int i = 0; i < 12; ++i) {
    std::string s;
    ASSERT_NO_THROW(s = rs[static_cast<std::size_t>(i)].get(kBound)) << "task " << i;
    EXPECT_EQ(s, std::string(300'000, static_cast<char>('a' + i)));
  }
  p.close();
  p.join();
}

TEST_F(mp_test, the_process_pool_executor_carries_messages_larger_than_a_pipe_both_ways) {
  corio::futures::process_pool_executor ex(2, mp::get_context("fork"));
  kill_workers_on_failure guard;
  std::vector<corio::futures::future<std::string>> fs;
  for (int i = 0; i < 8; ++i) fs.push_back(ex.submit(echo, std::string(200'000, static_cast<char>('k' + i))));
  for (int i = 0; i < 8; ++i) {
    std::string s;
    ASSERT_NO_THROW(s = fs[static_cast<std::size_t>(i)].result(kBound)) << "future " << i;
    EXPECT_EQ(s.size(), 200'000u);
    EXPECT_EQ(s.front(), static_cast<char>('k' + i));
  }
}

// A blocking map sends its arithmetic items straight from the caller's
// vector; these two end a map early while tasks may still be half written
// (run under AddressSanitizer, a read of the freed input would show).
TEST_F(mp_test, a_blocking_map_of_big_chunks_whose_worker_dies_raises_and_the_pool_goes_on) {
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  kill_workers_on_failure guard;
  {
    const auto xs = iota(300'000);
    EXPECT_THROW(p.map(die_at_150000, xs, 30'000), mp::worker_lost_error);
  }
  const auto ys = iota(100'000);
  EXPECT_EQ(p.map(square, ys, 20'000).back(), std::int64_t{99'999} * 99'999);
}

TEST_F(mp_test, a_blocking_map_of_big_chunks_ends_when_another_thread_terminates_the_pool) {
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  kill_workers_on_failure guard;
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    p.terminate();
  });
  {
    const auto xs = iota(1'000'000);
    EXPECT_ANY_THROW(p.map(slow_every_10000, xs, 10'000));  // 100 chunks of 20 ms: not done in 50 ms
  }
  stopper.join();
}

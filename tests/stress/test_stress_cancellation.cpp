// Stress: many tasks cancelled at random moments. Every task must end either
// with its result or cancelled, never both, never neither; nothing may leak
// (counted frames), and nothing may be reported lost.
#include <corio/corio.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

struct handler_log {
  std::vector<corio::exception_context> seen;
  void install(corio::event_loop& loop) {
    loop.set_exception_handler([this](corio::event_loop&, const corio::exception_context& c) { seen.push_back(c); });
  }
  std::string first() const {
    if (seen.empty()) return "";
    return seen[0].message + " / " + seen[0].task + " / " + corio::describe_exception(seen[0].exception);
  }
};

corio::duration ms(unsigned v) { return std::chrono::milliseconds(v); }

// A coroutine awaited inline: sleeps in a few steps.
corio::task<int> nested_sleeps(int id, unsigned a, unsigned b) {
  counted local(id);
  co_await corio::sleep(ms(a));
  co_await corio::sleep(0s);
  co_await corio::sleep(ms(b));
  co_return id;
}

// One of several ways of being suspended, picked by `kind`.
corio::task<int> worker(int id, unsigned kind, unsigned a, unsigned b) {
  counted local(id);
  switch (kind % 4) {
    case 0:
      co_await corio::sleep(ms(a));
      break;
    case 1:
      co_await nested_sleeps(id, a, b);
      break;
    case 2: {
      corio::future<int> f = corio::create_future<int>();
      corio::timer_handle h = corio::get_running_loop().call_later(ms(a), [f]() mutable {
        if (!f.done()) f.set_result(1);
      });
      co_await f;
      h.cancel();
      break;
    }
    case 3: {
      corio::task<int> child = corio::create_task(nested_sleeps(id, a, b));
      co_await child;
      break;
    }
  }
  co_return id;
}

}  // namespace

TEST(StressCancellation, twenty_thousand_tasks_under_random_cancellation_each_finish_or_are_cancelled) {
  counted::reset();
  constexpr int kTasks = 20'000;
  handler_log log;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    log.install(loop);
    std::mt19937 rng(99);
    std::vector<corio::task<int>> tasks;
    tasks.reserve(kTasks);
    std::vector<char> accepted(kTasks, 0);
    for (int i = 0; i < kTasks; ++i) {
      tasks.push_back(loop.create_task(worker(i, rng(), rng() % 1000, rng() % 1000)));
      if (rng() % 50 == 0) accepted[i] |= tasks[i].cancel("before start");
    }
    for (int n = 0; n < kTasks; ++n) {
      const int i = static_cast<int>(rng() % kTasks);
      loop.call_later(ms(rng() % 2100), [&, i] { accepted[i] |= tasks[i].cancel(); });
    }
    const auto all_done = loop.run_until_complete(corio::wait(tasks));
    EXPECT_EQ(all_done.done.size(), static_cast<std::size_t>(kTasks));
    loop.call_later(3s, [&] { loop.stop(); });  // let the stray cancel timers run out
    loop.run_forever();

    std::size_t finished = 0, cancelled = 0;
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(tasks[i].done()) << i;
      if (tasks[i].cancelled()) {
        ++cancelled;
        ASSERT_TRUE(accepted[i]) << "task " << i << " was cancelled without an accepted cancel()";
      } else {
        ++finished;
        ASSERT_FALSE(accepted[i]) << "task " << i << " finished although cancel() returned true";
        ASSERT_EQ(tasks[i].result(), i);
      }
    }
    EXPECT_EQ(finished + cancelled, static_cast<std::size_t>(kTasks));
    EXPECT_GT(finished, 0u);
    EXPECT_GT(cancelled, 0u);
    EXPECT_EQ(loop.pending_task_count(), 0u);
    tasks.clear();
    EXPECT_EQ(counted::alive(), 0u) << "a frame or a local was leaked";
  }
  EXPECT_TRUE(log.seen.empty()) << log.seen.size() << " reports, first: " << log.first();
  EXPECT_EQ(counted::alive(), 0u);
}

namespace {

// Children of the combinators below; some fail.
corio::task<int> leaf(int id, unsigned d, bool fail) {
  counted local(id);
  co_await corio::sleep(ms(d));
  if (fail) throw std::runtime_error("leaf failed");
  co_return id;
}

// Awaits one combinator, picked by `kind`, over a few leaves. Ordinary
// errors are caught (they are part of the game); cancellation passes.
corio::task<int> combinator_worker(int id, std::uint32_t seed) {
  counted local(id);
  std::mt19937 rng(seed);
  auto d = [&] { return static_cast<unsigned>(rng() % 500); };
  auto f = [&] { return rng() % 8 == 0; };
  try {
    switch (rng() % 7) {
      case 0: {
        auto [a, b, c] = co_await corio::gather(leaf(id, d(), f()), leaf(id, d(), f()), leaf(id, d(), f()));
        (void)a, (void)b, (void)c;
        break;
      }
      case 1: {
        auto [a, b] = co_await corio::gather_settled(leaf(id, d(), f()), leaf(id, d(), f()));
        (void)a, (void)b;
        break;
      }
      case 2:
        co_await corio::wait_for(leaf(id, d(), f()), ms(d()));
        break;
      case 3:
        co_await corio::timeout(ms(d()), [&] { return leaf(id, d(), f()); });
        break;
      case 4:
        co_await corio::shield(leaf(id, d(), f()));
        break;
      case 5:
        co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
          tg.create_task(leaf(id, d(), f()));
          tg.create_task(leaf(id, d(), f()));
          co_await leaf(id, d(), false);
        });
        break;
      case 6: {
        // wait() never retrieves exceptions, so these leaves do not fail.
        std::vector<corio::task<int>> ts;
        ts.push_back(corio::create_task(leaf(id, d(), false)));
        ts.push_back(corio::create_task(leaf(id, d(), false)));
        auto r = co_await corio::wait(ts, corio::first_completed, ms(d()));
        for (auto& t : r.pending) t.cancel();
        break;
      }
    }
  } catch (const std::exception&) {
    co_return -1;
  }
  co_return id;
}

}  // namespace

TEST(StressCancellation, combinators_under_random_cancellation_leak_nothing_and_lose_nothing) {
  counted::reset();
  constexpr int kWorkers = 5'000;
  handler_log log;
  {
    corio::event_loop loop(corio::testing::virtual_time());
    log.install(loop);
    std::mt19937 rng(7);
    std::vector<corio::task<int>> workers;
    workers.reserve(kWorkers);
    for (int i = 0; i < kWorkers; ++i) workers.push_back(loop.create_task(combinator_worker(i, rng())));
    for (int n = 0; n < kWorkers; ++n) {
      const int i = static_cast<int>(rng() % kWorkers);
      loop.call_later(ms(rng() % 700), [&, i] { workers[i].cancel(); });
    }
    // Shielded leaves outlive their workers; run until nothing is left.
    loop.call_later(10s, [&] { loop.stop(); });
    loop.run_forever();
    std::size_t cancelled = 0, failed = 0, ok = 0;
    for (int i = 0; i < kWorkers; ++i) {
      ASSERT_TRUE(workers[i].done()) << i;
      if (workers[i].cancelled())
        ++cancelled;
      else if (workers[i].result() == -1)
        ++failed;
      else
        ++ok;
    }
    EXPECT_GT(cancelled, 0u);
    EXPECT_GT(failed, 0u);
    EXPECT_GT(ok, 0u);
    EXPECT_EQ(loop.pending_task_count(), 0u);
    workers.clear();
    EXPECT_EQ(counted::alive(), 0u) << "a frame or a local was leaked";
  }
  EXPECT_TRUE(log.seen.empty()) << log.seen.size() << " reports, first: " << log.first();
  EXPECT_EQ(counted::alive(), 0u);
}

// Stress: synchronization primitives and queues with many waiters and
// cancellations at random moments (fixed seeds, virtual time). Checked:
// mutual exclusion and FIFO order for the lock, the permit bound and the
// permit count for the semaphore, "every item put is got exactly once" for
// the queue, no lost wake-up for the condition, and that every barrier cycle
// lets its parties through together.
#include <corio/corio.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "loop_util.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

using corio_test::bounded;

namespace {

// Runs `main` inline in a task under a (virtual) day's deadline, so that a
// lost wake-up fails the test with timeout_error instead of hanging it: on
// virtual time the loop jumps to the deadline when nothing else can run.
corio::duration ms(unsigned v) { return std::chrono::milliseconds(v); }

// Cancels tasks picked at random at random times, from timer callbacks, so
// that many cancels land in the same loop iteration as a release.
template <class T>
void schedule_random_cancels(corio::event_loop& loop, std::vector<corio::task<T>>& ts, std::mt19937& rng,
                             int count, unsigned horizon_ms) {
  for (int i = 0; i < count; ++i) {
    const std::size_t victim = rng() % ts.size();
    loop.call_later(ms(rng() % horizon_ms), [&ts, victim] { ts[victim].cancel(); });
  }
}

bool strictly_increasing(const std::vector<int>& v) {
  return std::adjacent_find(v.begin(), v.end(), [](int a, int b) { return a >= b; }) == v.end();
}

}  // namespace

TEST(StressSync, a_lock_with_a_thousand_contenders_and_random_cancels_stays_exclusive_and_fifo) {
  constexpr int kTasks = 1000;
  for (unsigned seed : {1u, 2u, 3u}) {
    corio::event_loop loop(corio::testing::virtual_time());
    std::mt19937 rng(seed);
    corio::lock lk;
    int inside = 0, max_inside = 0, bad_releases = 0;
    std::vector<int> order;  // who acquired, in acquisition order
    std::vector<corio::task<>> ts;
    // Not a scoped guard: if two tasks ever held the lock, the second
    // release would throw from the guard's destructor and end the process
    // instead of failing the test.
    auto release = [&] {
      try {
        lk.release();
      } catch (const std::runtime_error&) {
        ++bad_releases;
      }
    };
    auto worker = [&](int id, unsigned hold_ms) -> corio::task<> {
      co_await lk.acquire();
      ++inside;
      max_inside = std::max(max_inside, inside);
      order.push_back(id);
      try {
        co_await corio::sleep(ms(hold_ms));
      } catch (...) {
        --inside;
        release();
        throw;
      }
      --inside;
      release();
      // Right after a release the next waiter has been handed the lock:
      // cancel it (or a neighbour) before it runs, now and then.
      if (rng() % 3 == 0) ts[std::min<std::size_t>(kTasks - 1, order.back() + 1 + rng() % 2)].cancel();
    };
    for (int i = 0; i < kTasks; ++i) ts.push_back(loop.create_task(worker(i, rng() % 3)));
    schedule_random_cancels(loop, ts, rng, kTasks / 3, 1000);
    loop.run_until_complete(bounded([](std::vector<corio::task<>> all) -> corio::task<> {
      co_await corio::gather_settled(std::move(all));
    }(ts)));

    EXPECT_EQ(max_inside, 1) << "seed " << seed;
    EXPECT_EQ(bad_releases, 0) << "seed " << seed << ": the lock was released while unlocked";
    EXPECT_EQ(inside, 0);
    EXPECT_FALSE(lk.locked()) << "seed " << seed;
    EXPECT_TRUE(strictly_increasing(order)) << "seed " << seed << ": survivors must acquire in arrival order";
    std::set<int> acquired(order.begin(), order.end());
    EXPECT_EQ(acquired.size(), order.size()) << "nobody acquires twice";
    int cancelled = 0;
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(ts[i].done());
      if (ts[i].cancelled()) {
        ++cancelled;
      } else {
        EXPECT_TRUE(acquired.count(i)) << "task " << i << " finished without the lock";
      }
    }
    EXPECT_GT(cancelled, 0);
    EXPECT_LT(cancelled, kTasks);
  }
}

TEST(StressSync, a_semaphore_of_ten_with_a_thousand_tasks_and_random_cancels_keeps_its_bound_and_permits) {
  constexpr int kTasks = 1000;
  constexpr int kPermits = 10;
  for (unsigned seed : {4u, 5u, 6u}) {
    corio::event_loop loop(corio::testing::virtual_time());
    std::mt19937 rng(seed);
    corio::semaphore sem(kPermits);
    int inside = 0, max_inside = 0;
    std::vector<int> order;
    std::vector<corio::task<>> ts;
    auto worker = [&](int id, unsigned hold_ms) -> corio::task<> {
      auto g = co_await sem.scoped();
      ++inside;
      max_inside = std::max(max_inside, inside);
      order.push_back(id);
      try {
        co_await corio::sleep(ms(hold_ms));
      } catch (...) {
        --inside;
        throw;
      }
      --inside;
      g.reset();
      // The permit just went to the oldest waiter: cancel it (or a
      // neighbour) before it runs, now and then.
      if (rng() % 3 == 0) ts[std::min<std::size_t>(kTasks - 1, order.back() + 1 + rng() % 2)].cancel();
    };
    for (int i = 0; i < kTasks; ++i) ts.push_back(loop.create_task(worker(i, 1 + rng() % 20)));
    schedule_random_cancels(loop, ts, rng, kTasks / 3, 1000);
    loop.run_until_complete(bounded([](std::vector<corio::task<>> all) -> corio::task<> {
      co_await corio::gather_settled(std::move(all));
    }(ts)));

    EXPECT_LE(max_inside, kPermits) << "seed " << seed;
    EXPECT_EQ(max_inside, kPermits) << "the semaphore was never full: the test lost its teeth";
    EXPECT_EQ(inside, 0);
    EXPECT_EQ(sem.value(), kPermits) << "seed " << seed << ": every permit must come back";
    EXPECT_FALSE(sem.locked());
    EXPECT_TRUE(strictly_increasing(order)) << "seed " << seed << ": permits go out in arrival order";
    std::set<int> acquired(order.begin(), order.end());
    for (int i = 0; i < kTasks; ++i) {
      ASSERT_TRUE(ts[i].done());
      if (!ts[i].cancelled()) {
        EXPECT_TRUE(acquired.count(i)) << "task " << i;
      }
    }
  }
}

TEST(StressSync, a_queue_with_producers_consumers_and_cancelled_puts_and_gets_loses_and_duplicates_nothing) {
  using item = std::unique_ptr<counted>;
  constexpr int kProducers = 8;
  constexpr int kConsumers = 8;
  constexpr int kItemsPerProducer = 250;
  for (unsigned seed : {7u, 8u, 9u}) {
    counted::reset();
    std::vector<int> inserted, got;
    {
      corio::event_loop loop(corio::testing::virtual_time());
      std::mt19937 rng(seed);
      corio::queue<item> q(4);
      auto producer = [&](int p) -> corio::task<> {
        for (int k = 0; k < kItemsPerProducer; ++k) {
          const int id = p * kItemsPerProducer + k;
          // Some puts run out of time while the queue is full: cancelled,
          // the item must not get in (it is destroyed with the put).
          try {
            co_await corio::timeout(ms(rng() % 4), [&]() -> corio::task<> {
              co_await q.put(std::make_unique<counted>(id));
              inserted.push_back(id);
            });
          } catch (const corio::timeout_error&) {
          }
          if (rng() % 4 == 0) co_await corio::sleep(ms(rng() % 3));
        }
      };
      auto consumer = [&]() -> corio::task<> {
        for (;;) {
          try {
            co_await corio::timeout(ms(rng() % 5), [&]() -> corio::task<> {
              item x = co_await q.get();
              got.push_back(x->id);
            });
          } catch (const corio::timeout_error&) {
          }
          if (rng() % 3 == 0) co_await corio::sleep(ms(rng() % 3));
        }
      };
      auto main = [&]() -> corio::task<> {
        std::vector<corio::task<>> producers, consumers;
        for (int p = 0; p < kProducers; ++p) producers.push_back(corio::create_task(producer(p)));
        for (int c = 0; c < kConsumers; ++c) consumers.push_back(corio::create_task(consumer()));
        // Whole consumers are cancelled too, at random moments; half stay.
        for (int c = 0; c < kConsumers / 2; ++c) {
          corio::get_running_loop().call_later(ms(rng() % 500), [&consumers, c] { consumers[c].cancel(); });
        }
        co_await corio::gather(std::move(producers));
        for (auto& c : consumers) c.cancel();
        co_await corio::gather_settled(std::move(consumers));
        // What is left is there for the taking.
        EXPECT_EQ(q.qsize(), inserted.size() - got.size());
        while (!q.empty()) got.push_back(q.get_nowait()->id);
        EXPECT_EQ(q.qsize(), 0u);
      };
      loop.run_until_complete(bounded(main()));
    }
    EXPECT_EQ(counted::alive(), 0u) << "seed " << seed;
    std::vector<int> a = inserted, b = got;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(a, b) << "seed " << seed << ": every item put must be got exactly once";
    EXPECT_TRUE(std::adjacent_find(a.begin(), a.end()) == a.end()) << "an item was inserted twice";
    EXPECT_GT(inserted.size(), 0u);
    EXPECT_LT(inserted.size(), static_cast<std::size_t>(kProducers * kItemsPerProducer))
        << "no put was ever cancelled: the test lost its teeth";
  }
}

TEST(StressSync, queue_handoffs_to_waiters_cancelled_at_random_are_passed_on) {
  // An item handed to a waiting getter, or a slot handed to a waiting
  // putter, whose task is then cancelled before it runs must go to the next
  // waiter (QU-06, QU-07); a lost hand-off leaves a waiter asleep next to an
  // item (or a slot) and the bounded wait below times out.
  constexpr int kWaiters = 100;
  constexpr int kRounds = 500;
  for (unsigned seed : {15u, 16u}) {
    corio::event_loop loop(corio::testing::virtual_time());
    std::mt19937 rng(seed);
    corio::event progress;
    auto wait_progress = [&]() -> corio::task<bool> {
      try {
        co_await corio::wait_for([](corio::event& e) -> corio::task<> { co_await e.wait(); }(progress), 1h);
      } catch (const corio::timeout_error&) {
        co_return false;
      }
      co_return true;
    };

    // Getters on an empty queue.
    corio::queue<int> q;
    std::deque<int> waiting;  // getter ids in the order they wait
    std::vector<int> got;
    std::vector<corio::task<>> getters;
    auto getter = [&](int id) -> corio::task<> {
      waiting.push_back(id);
      int v;
      try {
        v = co_await q.get();
      } catch (...) {
        waiting.erase(std::find(waiting.begin(), waiting.end(), id));
        throw;
      }
      waiting.erase(std::find(waiting.begin(), waiting.end(), id));
      got.push_back(v);
      progress.set();
    };
    // Putters on a full queue.
    corio::queue<int> full(1);
    std::deque<int> waiting_putters;
    std::set<int> cancelled_values;
    std::vector<int> taken;
    std::vector<corio::task<>> putters;
    auto putter = [&](int id) -> corio::task<> {
      waiting_putters.push_back(id);
      try {
        co_await full.put(id);
      } catch (...) {
        waiting_putters.erase(std::find(waiting_putters.begin(), waiting_putters.end(), id));
        throw;
      }
      waiting_putters.erase(std::find(waiting_putters.begin(), waiting_putters.end(), id));
      progress.set();
    };

    int lost_items = 0, lost_slots = 0;
    auto main = [&]() -> corio::task<> {
      for (int i = 0; i < kWaiters; ++i) getters.push_back(corio::create_task(getter(i)));
      full.put_nowait(-1);
      for (int i = 0; i < kWaiters; ++i) putters.push_back(corio::create_task(putter(i)));
      co_await corio::sleep(0s);
      for (int r = 0; r < kRounds; ++r) {
        progress.clear();
        q.put_nowait(r);
        int replace = 1;
        if (rng() % 2 == 0) {
          getters[waiting.front()].cancel();  // the getter just handed r
          ++replace;
        }
        const bool ok = co_await wait_progress();
        if (!ok) {
          ++lost_items;
          break;
        }
        // Newcomers only now: one checking the queue earlier would hide a
        // lost hand-off.
        for (int k = 0; k < replace; ++k) {
          getters.push_back(corio::create_task(getter(static_cast<int>(getters.size()))));
        }
        co_await corio::sleep(0s);
      }
      for (int r = 0; r < kRounds; ++r) {
        progress.clear();
        taken.push_back(full.get_nowait());  // frees the slot for the oldest putter
        int replace = 1;
        if (rng() % 2 == 0) {
          cancelled_values.insert(waiting_putters.front());
          putters[waiting_putters.front()].cancel();
          ++replace;
        }
        const bool ok = co_await wait_progress();
        if (!ok) {
          ++lost_slots;
          break;
        }
        for (int k = 0; k < replace; ++k) {
          putters.push_back(corio::create_task(putter(static_cast<int>(putters.size()))));
        }
        co_await corio::sleep(0s);
      }
      for (auto& t : getters) t.cancel();
      for (auto& t : putters) t.cancel();
      co_await corio::gather_settled(getters);
      co_await corio::gather_settled(putters);
    };
    loop.run_until_complete(bounded(main()));
    EXPECT_EQ(lost_items, 0) << "seed " << seed << ": an item handed to a cancelled getter was lost";
    EXPECT_EQ(lost_slots, 0) << "seed " << seed << ": a slot handed to a cancelled putter was lost";
    std::vector<int> expect(kRounds);
    for (int r = 0; r < kRounds; ++r) expect[r] = r;
    EXPECT_EQ(got, expect) << "seed " << seed << ": each item got once, in order";
    for (int v : taken) EXPECT_EQ(cancelled_values.count(v), 0u) << "a cancelled put inserted " << v;
    EXPECT_EQ(std::set<int>(taken.begin(), taken.end()).size(), taken.size());
  }
}

TEST(StressSync, condition_consumers_cancelled_at_random_never_lose_a_notify_one) {
  // One item at a time, one notify(1) per item; half of the time the waiter
  // that notify picked (the oldest) is cancelled before it runs, and a new
  // consumer joins. A lost wake-up strands the item: the producer's wait for
  // it to be taken then runs into the (virtual) hour.
  constexpr int kItems = 1000;
  constexpr int kConsumers = 50;
  for (unsigned seed : {10u, 11u, 12u}) {
    corio::event_loop loop(corio::testing::virtual_time());
    std::mt19937 rng(seed);
    corio::condition cond;
    std::deque<int> items;
    std::deque<int> waiting;  // consumer ids in the order they wait on cond
    std::vector<int> consumed;
    corio::event taken;
    std::vector<corio::task<>> consumers;
    auto consumer = [&](int id) -> corio::task<> {
      for (;;) {
        auto g = co_await cond.scoped();
        while (items.empty()) {
          waiting.push_back(id);
          try {
            co_await cond.wait();
          } catch (...) {
            waiting.erase(std::find(waiting.begin(), waiting.end(), id));
            throw;
          }
          waiting.erase(std::find(waiting.begin(), waiting.end(), id));
        }
        consumed.push_back(items.front());
        items.pop_front();
        taken.set();
      }
    };
    int lost = 0, cancelled_notified = 0;
    bool replace = false;
    auto main = [&]() -> corio::task<> {
      for (int c = 0; c < kConsumers; ++c) consumers.push_back(corio::create_task(consumer(c)));
      co_await corio::sleep(0s);
      for (int i = 0; i < kItems; ++i) {
        taken.clear();
        {
          auto g = co_await cond.scoped();
          items.push_back(i);
          cond.notify(1);
          if (rng() % 2 == 0 && !waiting.empty()) {
            consumers[waiting.front()].cancel();  // the one just notified
            ++cancelled_notified;
            replace = true;
          }
        }
        try {
          co_await corio::wait_for([](corio::event& e) -> corio::task<> { co_await e.wait(); }(taken), 1h);
        } catch (const corio::timeout_error&) {
          ++lost;
          break;
        }
        // Only now: a newcomer checking `items` would hide a lost wake-up.
        if (std::exchange(replace, false)) {
          consumers.push_back(corio::create_task(consumer(static_cast<int>(consumers.size()))));
        }
        if (rng() % 4 == 0) co_await corio::sleep(ms(rng() % 3));
      }
      for (auto& c : consumers) c.cancel();
      co_await corio::gather_settled(consumers);
    };
    loop.run_until_complete(bounded(main()));
    EXPECT_EQ(lost, 0) << "seed " << seed << ": a notify(1) was lost with " << items.size() << " item(s) left";
    EXPECT_EQ(consumed.size(), static_cast<std::size_t>(kItems)) << "seed " << seed;
    for (int i = 0; i < static_cast<int>(consumed.size()); ++i) {
      if (consumed[i] != i) {
        ADD_FAILURE() << "item " << i << " consumed out of order, twice or never";
        break;
      }
    }
    EXPECT_GT(cancelled_notified, kItems / 4);
    EXPECT_FALSE(cond.locked());
  }
}

TEST(StressSync, a_barrier_with_many_parties_lets_each_cycle_through_together) {
  constexpr std::size_t kParties = 64;
  constexpr int kCycles = 100;
  corio::event_loop loop(corio::testing::virtual_time());
  std::mt19937 rng(13);
  corio::barrier b(kParties);
  std::vector<std::size_t> arrived(kCycles, 0), passed(kCycles, 0);
  std::vector<std::vector<std::size_t>> indices(kCycles);
  int early = 0;
  auto party = [&](unsigned salt) -> corio::task<> {
    std::mt19937 local(salt);
    for (int cycle = 0; cycle < kCycles; ++cycle) {
      if (local() % 3 == 0) co_await corio::sleep(ms(local() % 4));
      ++arrived[cycle];
      const std::size_t i = co_await b.wait();
      if (arrived[cycle] != kParties) ++early;  // passed before everyone came
      ++passed[cycle];
      indices[cycle].push_back(i);
    }
  };
  auto main = [&]() -> corio::task<> {
    std::vector<corio::task<>> ts;
    for (std::size_t p = 0; p < kParties; ++p) ts.push_back(corio::create_task(party(static_cast<unsigned>(rng()))));
    co_await corio::wait_for(corio::gather(std::move(ts)), 1h);
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_EQ(early, 0);
  for (int c = 0; c < kCycles; ++c) {
    EXPECT_EQ(passed[c], kParties) << "cycle " << c;
    std::vector<std::size_t> idx = indices[c];
    std::sort(idx.begin(), idx.end());
    for (std::size_t i = 0; i < idx.size(); ++i) {
      if (idx[i] != i) {
        ADD_FAILURE() << "cycle " << c << ": indices are not 0.." << kParties - 1;
        break;
      }
    }
  }
  EXPECT_EQ(b.n_waiting(), 0u);
  EXPECT_FALSE(b.broken());
}

TEST(StressSync, barrier_waiters_cancelled_at_random_never_break_or_wedge_the_barrier) {
  // Cancelled parties only lower n_waiting (SY-21): with fresh arrivals
  // replacing them, every cycle still trips with exactly `parties` tasks.
  constexpr std::size_t kParties = 8;
  constexpr int kRounds = 200;
  corio::event_loop loop(corio::testing::virtual_time());
  std::mt19937 rng(14);
  corio::barrier b(kParties);
  int trips = 0;
  auto main = [&]() -> corio::task<> {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<corio::task<std::size_t>> ts;
      for (std::size_t p = 0; p + 1 < kParties; ++p) ts.push_back(corio::create_task(b.wait()));
      co_await corio::sleep(0s);
      EXPECT_EQ(b.n_waiting(), kParties - 1);
      const std::size_t k = rng() % 4;
      for (std::size_t i = 0; i < k; ++i) ts[rng() % ts.size()].cancel();
      std::vector<corio::task<std::size_t>> fresh;
      for (std::size_t i = 0; i < kParties; ++i) fresh.push_back(corio::create_task(b.wait()));
      auto rs = co_await corio::gather_settled(std::move(ts));
      // The cycle after this one takes the fresh tasks left over.
      std::vector<std::size_t> idx;
      std::size_t cancelled = 0;
      for (auto& r : rs) {
        if (r.has_value()) {
          idx.push_back(r.value());
        } else {
          EXPECT_TRUE(r.cancelled());
          ++cancelled;
        }
      }
      std::size_t need = kParties - idx.size();  // fresh tasks in this cycle
      std::size_t extra = kParties - need;       // fresh tasks left for the next one
      // Top the next cycle up so that every fresh task gets through.
      std::vector<corio::task<std::size_t>> more;
      for (std::size_t i = 0; i < kParties - extra; ++i) more.push_back(corio::create_task(b.wait()));
      auto fs = co_await corio::wait_for(corio::gather_settled(std::move(fresh)), 1h);
      auto ms2 = co_await corio::wait_for(corio::gather_settled(std::move(more)), 1h);
      std::size_t passed = idx.size();
      for (auto& r : fs) passed += r.has_value() ? 1 : 0;
      for (auto& r : ms2) passed += r.has_value() ? 1 : 0;
      EXPECT_EQ(passed, 2 * kParties) << "round " << round << " (" << cancelled << " cancelled)";
      if (passed == 2 * kParties) ++trips;
      EXPECT_EQ(b.n_waiting(), 0u) << "round " << round;
    }
  };
  loop.run_until_complete(bounded(main()));
  EXPECT_EQ(trips, kRounds);
  EXPECT_FALSE(b.broken());
}

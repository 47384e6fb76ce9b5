// Stress: the thread-safe queues under many producers and consumers mixing
// blocking, timed and nowait calls. Every item must be delivered exactly
// once, join() must return only after every task_done(), shutdown() must
// wake every blocked thread, and timed waits must end on time.
//
// A lost wake-up cannot hang these tests: every blocking call has a bound
// of several seconds (running out fails the test), and a watchdog aborts
// the process if a test as a whole overruns.
#include <corio/threading/queue.hpp>
#include <corio/threading/simple_queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace th = corio::threading;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto bound = 20s;  // a blocked call that waits this long has lost a wake-up
constexpr auto test_limit = std::chrono::seconds(120);
constexpr int producers = 3;
constexpr int consumers = 3;
constexpr int per_producer = 10000;
constexpr int stop = -1;
constexpr int lost = -2;  // get_any ran out of time: a lost wake-up

std::uint32_t seed_for(int who) { return 12345u + static_cast<std::uint32_t>(who) * 7919u; }

struct delivery_log {
  std::vector<std::atomic<int>> seen = std::vector<std::atomic<int>>(static_cast<std::size_t>(producers * per_producer));
  std::atomic<long long> sum{0};
  std::atomic<int> count{0};
  std::atomic<int> order_violations{0};
  std::atomic<int> lost_wakeups{0};

  void check() {
    long long expected_sum = 0;
    for (int i = 0; i < producers * per_producer; ++i) expected_sum += i;
    EXPECT_EQ(count, producers * per_producer);
    EXPECT_EQ(sum, expected_sum);
    int wrong = 0;
    for (auto& s : seen) wrong += s.load() != 1 ? 1 : 0;
    EXPECT_EQ(wrong, 0) << "items delivered zero or several times";
    EXPECT_EQ(lost_wakeups, 0);
  }
};

// Puts with a randomly chosen call each time; retries what may fail.
template <class Q>
void produce(Q& q, int who, delivery_log& log) {
  std::mt19937 rng(seed_for(who));
  for (int i = 0; i < per_producer; ++i) {
    const int item = who * per_producer + i;
    switch (rng() % 4) {
      case 0:
        q.put(item);
        break;
      case 1:
        for (;;) {
          try {
            q.put_nowait(item);
            break;
          } catch (const corio::queue_full&) {
            std::this_thread::yield();
          }
        }
        break;
      default: {
        const auto start = steady::now();
        for (;;) {
          try {
            q.put(item, std::chrono::microseconds(rng() % 2000));
            break;
          } catch (const corio::queue_full&) {
            if (steady::now() - start > bound) {
              ++log.lost_wakeups;
              return;
            }
          }
        }
      }
    }
  }
}

template <class Q>
int get_any(Q& q, std::mt19937& rng) {
  switch (rng() % 4) {
    case 0:
      try {
        return q.get(bound);
      } catch (const corio::queue_empty&) {
        return lost;
      }
    case 1:
      for (;;) {
        try {
          return q.get_nowait();
        } catch (const corio::queue_empty&) {
          std::this_thread::yield();
        }
      }
    default: {
      const auto start = steady::now();
      for (;;) {
        try {
          return q.get(std::chrono::microseconds(rng() % 2000));
        } catch (const corio::queue_empty&) {
          if (steady::now() - start > bound) return lost;
        }
      }
    }
  }
}

// Takes items until the stop item; checks each producer's items arrive in
// order when the queue is FIFO.
template <class Q, bool TaskDone>
void consume(Q& q, int who, delivery_log& log, bool fifo) {
  std::mt19937 rng(seed_for(100 + who));
  std::vector<int> last(producers, -1);
  for (;;) {
    const int item = get_any(q, rng);
    if (item == lost) {
      ++log.lost_wakeups;
      return;
    }
    if constexpr (TaskDone) q.task_done();
    if (item == stop) return;
    ++log.seen[static_cast<std::size_t>(item)];
    log.sum += item;
    ++log.count;
    const int p = item / per_producer;
    if (fifo && item <= last[static_cast<std::size_t>(p)]) ++log.order_violations;
    last[static_cast<std::size_t>(p)] = item;
  }
}

template <class Q>
void run_delivery(Q& q, bool fifo) {
  delivery_log log;
  std::vector<std::thread> threads;
  for (int c = 0; c < consumers; ++c) threads.emplace_back([&, c] { consume<Q, true>(q, c, log, fifo); });
  std::vector<std::thread> prods;
  for (int p = 0; p < producers; ++p) prods.emplace_back([&, p] { produce(q, p, log); });
  for (auto& t : prods) t.join();
  // Every item is in; in a LIFO or priority queue the stop items would
  // overtake them, so wait until all are done before sending those.
  EXPECT_TRUE(q.join(bound));
  for (int c = 0; c < consumers; ++c) q.put(stop);
  for (auto& t : threads) t.join();
  log.check();
  EXPECT_EQ(log.order_violations, 0);
  EXPECT_TRUE(q.join(0s));
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_TRUE(q.empty());
}

}  // namespace

TEST(ThreadingQueueStress, bounded_fifo_delivers_every_item_exactly_once_and_in_order) {
  corio_test::watchdog dog(test_limit, "bounded fifo delivery");
  th::queue<int> q(4);
  run_delivery(q, true);
}

TEST(ThreadingQueueStress, unbounded_fifo_delivers_every_item_exactly_once_and_in_order) {
  corio_test::watchdog dog(test_limit, "unbounded fifo delivery");
  th::queue<int> q;
  run_delivery(q, true);
}

TEST(ThreadingQueueStress, lifo_and_priority_queues_deliver_every_item_exactly_once) {
  corio_test::watchdog dog(test_limit, "lifo and priority delivery");
  th::lifo_queue<int> l(3);
  run_delivery(l, false);
  th::priority_queue<int> p(5);
  run_delivery(p, false);
}

TEST(ThreadingQueueStress, simple_queue_delivers_every_item_exactly_once_and_in_order) {
  corio_test::watchdog dog(test_limit, "simple_queue delivery");
  th::simple_queue<int> q;
  delivery_log log;
  std::vector<std::thread> threads;
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] { consume<th::simple_queue<int>, false>(q, c, log, true); });
  }
  std::vector<std::thread> prods;
  for (int p = 0; p < producers; ++p) {
    prods.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        q.put(p * per_producer + i);
        if (i % 64 == 0) std::this_thread::yield();
      }
    });
  }
  for (auto& t : prods) t.join();
  for (int c = 0; c < consumers; ++c) q.put(stop);
  for (auto& t : threads) t.join();
  log.check();
  EXPECT_EQ(log.order_violations, 0);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingQueueStress, ping_pong_through_one_slot_queues_never_loses_a_wake_up) {
  // Every round trip parks and wakes both threads: the hand-off path.
  corio_test::watchdog dog(test_limit, "ping-pong");
  constexpr int rounds = 10000;
  th::queue<int> ping(1);
  th::queue<int> pong(1);
  th::simple_queue<int> sping;
  th::simple_queue<int> spong;
  std::thread echo([&] {
    for (int i = 0; i < rounds; ++i) pong.put(ping.get(bound) + 1, bound);
    for (int i = 0; i < rounds; ++i) spong.put(sping.get(bound) + 1);
  });
  int v = 0;
  for (int i = 0; i < rounds; ++i) {
    ping.put(v, bound);
    v = pong.get(bound);
  }
  for (int i = 0; i < rounds; ++i) {
    sping.put(v);
    v = spong.get(bound);
  }
  echo.join();
  EXPECT_EQ(v, 2 * rounds);
}

TEST(ThreadingQueueStress, join_returns_only_after_every_task_done) {
  corio_test::watchdog dog(test_limit, "join");
  for (int round = 0; round < 5; ++round) {
    constexpr int items = 2000;
    th::queue<int> q;
    for (int i = 0; i < items; ++i) q.put(i);
    std::atomic<int> done{0};
    std::atomic<int> early{0};
    std::vector<std::thread> joiners;
    for (int j = 0; j < 3; ++j) {
      joiners.emplace_back([&] {
        if (!q.join(bound)) {
          ++early;  // ran out: a lost wake-up
          return;
        }
        if (done.load() != items) ++early;
      });
    }
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
      workers.emplace_back([&] {
        for (;;) {
          try {
            q.get_nowait();
          } catch (const corio::queue_empty&) {
            return;
          }
          ++done;  // before task_done: a joiner must see it
          q.task_done();
        }
      });
    }
    for (auto& t : workers) t.join();
    for (auto& t : joiners) t.join();
    EXPECT_EQ(done, items);
    EXPECT_EQ(early, 0);
  }
}

TEST(ThreadingQueueStress, shutdown_wakes_every_blocked_thread) {
  corio_test::watchdog dog(test_limit, "shutdown");
  std::mt19937 rng(99);
  for (int round = 0; round < 60; ++round) {
    const bool immediate = round % 2 == 1;
    th::queue<int> full(2);
    th::queue<int> empty;
    full.put(1);
    full.put(2);
    std::atomic<int> shut_down{0};
    std::atomic<int> joined{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
      threads.emplace_back([&] {
        try {
          full.put(3, bound);
          ++other;
        } catch (const corio::queue_shut_down&) {
          ++shut_down;
        } catch (...) {
          ++other;
        }
      });
      threads.emplace_back([&] {
        try {
          empty.get(bound);
          ++other;
        } catch (const corio::queue_shut_down&) {
          ++shut_down;
        } catch (...) {
          ++other;
        }
      });
    }
    for (int i = 0; i < 2; ++i) {
      threads.emplace_back([&] {
        if (full.join(bound)) ++joined;
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    full.shutdown(immediate);
    empty.shutdown(immediate);
    if (!immediate) {
      // Getters still drain what is left; then the joiners are released.
      int drained = 0;
      for (;;) {
        try {
          full.get(bound);
          full.task_done();
          ++drained;
        } catch (const corio::queue_shut_down&) {
          break;
        }
      }
      EXPECT_EQ(drained, 2);
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(shut_down, 6);
    EXPECT_EQ(joined, 2);
    EXPECT_EQ(other, 0);
  }
}

TEST(ThreadingQueueStress, timed_waits_end_on_time_under_load) {
  corio_test::watchdog dog(test_limit, "timeouts");
  std::atomic<bool> running{true};
  th::queue<int> busy(8);
  std::vector<std::thread> load;
  for (int i = 0; i < 2; ++i) {
    load.emplace_back([&] {
      while (running) {
        busy.put(1);
        busy.get();
      }
    });
  }
  th::queue<int> idle;
  th::simple_queue<int> idle_simple;
  std::atomic<int> early{0};
  std::atomic<int> late{0};
  std::vector<std::thread> waiters;
  for (int w = 0; w < 4; ++w) {
    waiters.emplace_back([&, w] {
      std::mt19937 rng(seed_for(200 + w));
      for (int i = 0; i < 15; ++i) {
        const auto timeout = std::chrono::microseconds(500 + rng() % 10000);
        const auto start = steady::now();
        try {
          if (w % 2 == 0)
            idle.get(timeout);
          else
            idle_simple.get(timeout);
        } catch (const corio::queue_empty&) {
        }
        const auto took = steady::now() - start;
        if (took < timeout) ++early;
        if (took > timeout + 2s) ++late;
      }
    });
  }
  for (auto& t : waiters) t.join();
  running = false;
  for (auto& t : load) t.join();
  EXPECT_EQ(early, 0);
  EXPECT_EQ(late, 0);
}

TEST(ThreadingQueueStress, getters_timing_out_as_items_arrive_lose_nothing) {
  // Short timeouts expire around the moment a put wakes the getter: the
  // wake-up must win (the item is taken) or the getter must leave the line
  // untouched (the item goes to someone else), never neither.
  corio_test::watchdog dog(test_limit, "timeout races");
  constexpr int items = 10000;
  th::queue<int> q;
  th::simple_queue<int> sq;
  std::atomic<long long> sum{0};
  std::atomic<int> count{0};
  std::vector<std::thread> getters;
  for (int g = 0; g < 4; ++g) {
    getters.emplace_back([&, g] {
      std::mt19937 rng(seed_for(300 + g));
      const auto start = steady::now();
      while (count.load() < 2 * items && steady::now() - start < bound) {
        try {
          const auto t = std::chrono::microseconds(rng() % 200);
          const int v = g % 2 == 0 ? q.get(t) : sq.get(t);
          sum += v;
          ++count;
        } catch (const corio::queue_empty&) {
        }
      }
    });
  }
  std::mt19937 rng(1);
  for (int i = 0; i < items; ++i) {
    q.put(i);
    sq.put(i);
    if (rng() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
  }
  for (auto& t : getters) t.join();
  EXPECT_EQ(count, 2 * items);
  EXPECT_EQ(sum, 2LL * items * (items - 1) / 2);
}

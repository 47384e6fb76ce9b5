// Unit tests for <corio/multiprocessing/synchronize.hpp> and
// <corio/multiprocessing/sharedctypes.hpp> within one process: threads
// contending on the process-shared primitives (these run under
// ThreadSanitizer, unlike the tests that fork), their text forms, and what
// does not compile.
#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/exceptions.hpp>
#include <corio/threading/lock.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "threading_util.hpp"

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;

using corio_test::all_asleep;
using corio_test::eventually;
using corio_test::run_threads;

namespace {

template <class T>
std::string repr(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

template <class T, class A>
concept acquire_takes = requires(T& t, A a) { t.acquire(a); };
template <class T, class A>
concept wait_takes = requires(T& t, A a) { t.wait(a); };
template <class T>
concept scoped_on_a_temporary = requires { T().scoped(); };

}  // namespace

TEST(MultiprocessingSynchronize, a_bare_number_is_not_a_timeout) {
  static_assert(acquire_takes<mp::lock, bool> && acquire_takes<mp::lock, std::chrono::milliseconds>);
  static_assert(!acquire_takes<mp::lock, double> && !acquire_takes<mp::lock, int>);
  static_assert(!acquire_takes<mp::rlock, double> && !acquire_takes<mp::semaphore, long>);
  static_assert(!acquire_takes<mp::condition, float>);
  static_assert(!wait_takes<mp::event, double> && !wait_takes<mp::condition, int> && !wait_takes<mp::barrier, int>);
  static_assert(wait_takes<mp::event, std::chrono::seconds>);
}

TEST(MultiprocessingSynchronize, a_guard_on_a_temporary_handle_does_not_compile) {
  // `mp::lock().scoped()` would point at a handle gone by the end of the
  // statement; `v.get_lock().scoped()` is fine (a reference to the value's).
  static_assert(!scoped_on_a_temporary<mp::lock> && !scoped_on_a_temporary<mp::rlock>);
  static_assert(!scoped_on_a_temporary<mp::semaphore> && !scoped_on_a_temporary<mp::condition>);
  mp::value<int> v(1);
  auto g = v.get_lock().scoped();
  EXPECT_TRUE(v.get_lock().owned_by_me());
}

TEST(MultiprocessingSynchronize, threads_count_exactly_under_a_lock_and_an_rlock) {
  mp::lock lk;
  mp::rlock rl;
  mp::raw_value<long> a(0), b(0);
  run_threads(4, [&](int) {
    for (int i = 0; i < 5000; ++i) {
      {
        auto g = lk.scoped();
        *a += 1;
      }
      auto g = rl.scoped();
      auto again = rl.scoped();  // re-entered
      *b += 1;
    }
  });
  EXPECT_EQ(a.get(), 20000);
  EXPECT_EQ(b.get(), 20000);
  EXPECT_FALSE(lk.locked());
  EXPECT_FALSE(rl.locked());
}

TEST(MultiprocessingSynchronize, value_get_and_set_are_locked_steps) {
  mp::value<long> v(0);
  run_threads(4, [&](int) {
    for (int i = 0; i < 5000; ++i) {
      auto g = v.get_lock().scoped();
      v.set(v.get() + 1);
    }
  });
  EXPECT_EQ(v.get(), 20000);
}

TEST(MultiprocessingSynchronize, semaphore_limits_threads_and_wakes_a_sleeper) {
  mp::semaphore sem(2);
  std::atomic<int> inside{0}, most{0};
  run_threads(6, [&](int) {
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(sem.acquire(30s));
      const int n = ++inside;
      int m = most.load();
      while (n > m && !most.compare_exchange_weak(m, n)) {
      }
      --inside;
      sem.release();
    }
  });
  EXPECT_LE(most.load(), 2);
  EXPECT_EQ(sem.get_value(), 2);

  mp::semaphore zero(0);
  std::vector<std::atomic<std::uint64_t>> tids(1);
  std::thread t([&] {
    tids[0] = corio::threading::get_native_id();
    EXPECT_TRUE(zero.acquire(30s));
  });
  EXPECT_TRUE(all_asleep(tids));
  zero.release();
  t.join();
}

TEST(MultiprocessingSynchronize, condition_wakes_each_notified_thread_and_wait_for_sees_the_predicate) {
  mp::condition cond;
  mp::raw_value<int> stage(0);
  std::vector<int> order;
  std::mutex order_mu;
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) {
    ts.emplace_back([&, i] {
      auto g = cond.scoped();
      *stage += 1;
      EXPECT_TRUE(cond.wait(30s));
      std::lock_guard lg(order_mu);
      order.push_back(i);
    });
    ASSERT_TRUE(eventually([&] {
      auto g = cond.scoped();
      return *stage == i + 1;
    }));
  }
  for (int i = 0; i < 3; ++i) {
    auto g = cond.scoped();
    cond.notify();
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(order.size(), 3u);

  std::thread setter([&] {
    auto g = cond.scoped();
    *stage = 10;
    cond.notify_all();
  });
  {
    auto g = cond.scoped();
    EXPECT_TRUE(cond.wait_for([&] { return *stage == 10; }, 30s));
  }
  setter.join();
}

TEST(MultiprocessingSynchronize, event_and_barrier_between_threads) {
  mp::event e;
  mp::barrier b(3);
  std::atomic<int> passed{0};
  std::vector<std::atomic<std::uint64_t>> tids(3);
  {
    corio_test::thread_bunch bunch(3, [&](int i) {
      tids[static_cast<std::size_t>(i)] = corio::threading::get_native_id();
      EXPECT_TRUE(e.wait(30s));
      b.wait(30s);
      ++passed;
    });
    EXPECT_TRUE(all_asleep(tids));
    e.set();
  }
  EXPECT_EQ(passed.load(), 3);
  EXPECT_FALSE(b.broken());
}

TEST(MultiprocessingSynchronize, text_forms) {
  mp::lock lk;
  EXPECT_EQ(repr(lk), "<Lock(owner=None)>");
  lk.acquire();
  EXPECT_EQ(repr(lk).rfind("<Lock(owner=pid " + std::to_string(::getpid()) + " tid ", 0), 0u) << repr(lk);
  lk.release();
  mp::rlock rl;
  EXPECT_EQ(repr(rl), "<RLock(None, 0)>");
  rl.acquire();
  rl.acquire();
  EXPECT_NE(repr(rl).find(", 2)>"), std::string::npos) << repr(rl);
  rl.release();
  rl.release();
  EXPECT_EQ(repr(mp::semaphore(3)), "<Semaphore(value=3)>");
  mp::bounded_semaphore bs(2);
  bs.acquire();
  EXPECT_EQ(repr(bs), "<BoundedSemaphore(value=1, maxvalue=2)>");
  mp::event e;
  EXPECT_NE(repr(e).find(": unset>"), std::string::npos) << repr(e);
  e.set();
  EXPECT_NE(repr(e).find(": set>"), std::string::npos) << repr(e);
  EXPECT_EQ(repr(mp::condition()), "<Condition(<RLock(None, 0)>, 0)>");
  EXPECT_NE(repr(mp::barrier(3)).find(": waiters=0/3>"), std::string::npos);
}

TEST(MultiprocessingSynchronize, a_condition_has_room_for_1024_waiters_and_says_so_past_that) {
  // The ring of waiting tickets is fixed in shared memory.
  mp::condition cond;
  mp::raw_value<int> sleeping(0);
  std::vector<std::thread> ts;
  for (int i = 0; i < 1024; ++i) {
    ts.emplace_back([&] {
      auto g = cond.scoped();
      *sleeping += 1;
      cond.wait(60s);
    });
  }
  ASSERT_TRUE(eventually([&] {
    auto g = cond.scoped();
    return *sleeping == 1024;
  }, 60s));
  {
    auto g = cond.scoped();
    try {
      cond.wait(1ms);
      ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("more than 1024"), std::string::npos) << e.what();
    }
    cond.notify_all();
  }
  for (auto& t : ts) t.join();
  auto g = cond.scoped();
  EXPECT_FALSE(cond.wait(1ms));  // the ring is free again
}

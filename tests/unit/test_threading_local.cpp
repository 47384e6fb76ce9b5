// Unit tests for <corio/threading/local.hpp>: local<T> (threading.local),
// after CPython's Lib/test/test_threading_local.py where a rule carries over.
#include <corio/threading/local.hpp>

#include <corio/threading/event.hpp>
#include <corio/threading/thread.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "threading_util.hpp"
#include "unit/counted.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::event;
using corio::threading::local;
using corio::threading::thread;
using corio_test::counted;

namespace {

// Runs `f` on a new corio thread and joins it.
template <class F>
void on_another_thread(F f) {
  thread t(std::move(f));
  t.start();
  t.join();
}

struct session {
  explicit session(int n) : id(n) {}
  int id;
  int requests = 0;
};

}  // namespace

TEST(ThreadingLocal, each_thread_sees_its_own_value) {
  // Python's docstring example: mydata.number = 42 in the main thread; a
  // thread sees no attribute, sets 11; the main thread still sees 42.
  local<std::optional<int>> mydata;
  mydata.get() = 42;
  std::optional<int> seen_in_thread = -1;
  on_another_thread([&] {
    seen_in_thread = *mydata;
    *mydata = 11;
  });
  EXPECT_EQ(seen_in_thread, std::nullopt);
  EXPECT_EQ(*mydata, std::optional<int>(42));
}

TEST(ThreadingLocal, the_factory_makes_the_first_value_of_each_thread_in_that_thread) {
  std::atomic<int> made{0};
  local<session> current([&made] { return session(++made); });
  EXPECT_EQ(made.load(), 0);  // nothing until a thread asks
  EXPECT_EQ(current->id, 1);
  current->requests += 2;
  EXPECT_EQ(current->requests, 2);
  EXPECT_EQ(made.load(), 1);  // once per thread
  int id_in_thread = 0;
  on_another_thread([&] {
    id_in_thread = current->id;
    ++current->requests;
  });
  EXPECT_EQ(id_in_thread, 2);
  EXPECT_EQ(current->id, 1);
  EXPECT_EQ(current->requests, 2);
}

TEST(ThreadingLocal, two_local_objects_of_one_type_hold_separate_values) {
  // What a thread_local variable cannot do: one per object, made at run
  // time (a connection per thread for each pool).
  struct pool {
    explicit pool(std::string n) : name(std::move(n)), conn([this] { return name + "-conn"; }) {}
    std::string name;
    local<std::string> conn;
  };
  auto a = std::make_unique<pool>("a");
  auto b = std::make_unique<pool>("b");
  EXPECT_EQ(*a->conn, "a-conn");
  EXPECT_EQ(*b->conn, "b-conn");
  *a->conn = "a-changed";
  EXPECT_EQ(*b->conn, "b-conn");
  std::string in_thread;
  on_another_thread([&] { in_thread = *a->conn + "," + *b->conn; });
  EXPECT_EQ(in_thread, "a-conn,b-conn");
  EXPECT_EQ(*a->conn, "a-changed");
}

TEST(ThreadingLocal, a_value_is_destroyed_when_its_thread_exits) {
  counted::reset();
  local<counted> data;
  std::size_t alive_in_thread = 0;
  on_another_thread([&] {
    data->id = 7;
    alive_in_thread = counted::alive();
  });
  EXPECT_EQ(alive_in_thread, 1u);
  EXPECT_EQ(counted::alive(), 0u);
  (void)data.get();  // the main thread's own
  EXPECT_EQ(counted::alive(), 1u);
}

TEST(ThreadingLocal, values_are_destroyed_with_the_local_object_while_their_threads_run_on) {
  corio_test::watchdog guard(30s, "local destroyed first");
  counted::reset();
  auto data = std::make_unique<local<counted>>();
  event has_value, local_gone;
  thread t([&] {
    (void)data->get();
    has_value.set();
    local_gone.wait();  // exits after the object and its value are gone
  });
  t.start();
  has_value.wait();
  (void)data->get();
  EXPECT_EQ(counted::alive(), 2u);
  data.reset();
  EXPECT_EQ(counted::alive(), 0u);
  local_gone.set();
  t.join();  // its exit must not destroy the value again
  EXPECT_EQ(counted::constructions.load(), 2u);
  EXPECT_EQ(counted::destructions.load(), 2u);
}

TEST(ThreadingLocal, a_thread_not_started_by_corio_gets_its_own_value_too) {
  counted::reset();
  local<counted> data;
  int id = 0;
  std::thread t([&] {
    data->id = 5;
    id = data->id;
  });
  t.join();
  EXPECT_EQ(id, 5);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(ThreadingLocal, a_value_may_be_neither_copyable_nor_movable) {
  local<std::mutex> mu;
  local<std::atomic<int>> n([] { return 3; });
  std::lock_guard g(*mu);
  EXPECT_EQ(n->load(), 3);
  on_another_thread([&] {
    EXPECT_TRUE(mu->try_lock());  // another mutex: not held
    mu->unlock();
  });
}

TEST(ThreadingLocal, const_access_makes_the_value_too) {
  const local<std::string> greeting([] { return std::string("hello"); });
  EXPECT_EQ(greeting.get(), "hello");
  EXPECT_EQ(greeting->size(), 5u);
}

TEST(ThreadingLocal, a_factory_that_uses_the_local_it_fills_throws_logic_error) {
  local<int>* self = nullptr;
  local<int> broken([&self] { return *(*self) + 1; });
  self = &broken;
  EXPECT_THROW((void)broken.get(), std::logic_error);
}

TEST(ThreadingLocal, a_value_destroyed_at_thread_exit_may_use_another_local) {
  counted::reset();
  auto other = std::make_unique<local<counted>>();
  struct uses_other {
    local<counted>* o = nullptr;
    ~uses_other() {
      if (o) (*o)->id = 9;  // makes the thread's value of `other` while the thread exits
    }
  };
  local<uses_other> first;
  on_another_thread([&] { first->o = other.get(); });
  EXPECT_EQ(counted::alive(), 0u);  // made and destroyed at the thread's exit
  EXPECT_EQ(counted::constructions.load(), 1u);
  other.reset();
}

TEST(ThreadingLocal, a_long_lived_thread_keeps_a_table_as_long_as_the_most_locals_alive_at_once) {
  // Slots of destroyed objects are reused, and a thread that looks at a
  // reused slot drops the stale value record then.
  corio_test::watchdog guard(30s, "slots reused");
  std::size_t slots = 0;
  on_another_thread([&] {
    for (int i = 0; i < 1000; ++i) {
      local<int> a, b;
      *a = i;
      *b = i + 1;
      EXPECT_EQ(*a + 1, *b);
    }
    slots = corio::threading::detail::tl_local_table->slots.size();
  });
  EXPECT_LE(slots, 64u);  // not 2000: other tests' objects may hold a few numbers
}

TEST(ThreadingLocal, threads_making_using_and_destroying_locals_at_once) {
  // For TSan and ASan: each value exactly once, whoever goes first.
  corio_test::watchdog guard(60s, "local stress");
  counted::reset();
  constexpr int kThreads = 6;
  constexpr int kRounds = 200;
  auto shared = std::make_unique<local<counted>>();
  std::atomic<int> ready{0};
  event go;
  std::vector<std::unique_ptr<thread>> threads;
  for (int n = 0; n < kThreads; ++n) {
    threads.push_back(std::make_unique<thread>([&, n] {
      (*shared)->id = n;
      ++ready;
      go.wait();
      for (int i = 0; i < kRounds; ++i) {
        local<counted> mine;
        mine->id = i;
        std::thread inner([&] { mine->id = -i; });  // a value in a second thread, gone at its exit
        inner.join();
        EXPECT_EQ(mine->id, i);
      }
    }));
  }
  for (auto& t : threads) t->start();
  ASSERT_TRUE(corio_test::eventually([&] { return ready.load() == kThreads; }));
  go.set();
  shared.reset();  // while the threads run their rounds
  for (auto& t : threads) t->join();
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(counted::constructions.load(), static_cast<std::size_t>(kThreads + 2 * kThreads * kRounds));
}

// Unit tests for <corio/threading/simple_queue.hpp>: simple_queue (Python's
// queue.SimpleQueue).
//
// Every blocking call made by a test has a bound of several seconds, so a
// lost wake-up fails the test instead of hanging it; checks never depend on
// how fast a thread gets to run.
#include <corio/threading/simple_queue.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "threading_util.hpp"
#include "unit/counted.hpp"

using namespace std::chrono_literals;
namespace th = corio::threading;
using corio_test::counted;
using corio_test::later;
using corio_test::on_time;
using corio_test::time_of;

namespace {

constexpr auto bound = 10s;

// An item that calls back into its own queue from its constructor or from
// the destructor of its moved-from shell (which runs inside get()).
enum class on { nothing, put_when_shell_dies, get_when_shell_dies };
struct echo;
struct echo_args {
  th::simple_queue<echo>* q;
  int v;
  on action;
  int* got = nullptr;
};
struct echo {
  th::simple_queue<echo>* q = nullptr;
  int v = 0;
  on action = on::nothing;
  bool shell = false;
  int* got = nullptr;

  explicit echo(int x) : v(x) {}
  explicit echo(echo_args a) : q(a.q), v(a.v), action(a.action), got(a.got) {}
  echo(echo&& o) noexcept : v(o.v) { o.shell = true; }
  ~echo() {
    if (!shell || q == nullptr) return;
    if (action == on::put_when_shell_dies) q->put(v * 10);
    if (action == on::get_when_shell_dies) *got = q->get_nowait().v;
  }
};

struct fragile {
  static inline std::atomic<bool> fail_next_move{false};
  int v;
  explicit fragile(int x) : v(x) {}
  fragile(fragile&& o) : v(o.v) {
    if (fail_next_move.exchange(false)) throw std::runtime_error("move failed");
  }
};

}  // namespace

TEST(ThreadingSimpleQueue, a_new_queue_is_empty) {
  th::simple_queue<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(ThreadingSimpleQueue, items_come_out_first_in_first_out) {
  th::simple_queue<int> q;
  for (int i = 0; i < 100; ++i) q.put(i);
  EXPECT_EQ(q.qsize(), 100u);
  EXPECT_FALSE(q.empty());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(q.get(), i);
  for (int i = 100; i < 150; ++i) q.put_nowait(i);  // behind the ones already taken in
  for (int i = 50; i < 150; ++i) ASSERT_EQ(q.get_nowait(), i);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingSimpleQueue, get_nowait_on_an_empty_queue_throws_queue_empty) {
  th::simple_queue<int> q;
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
  EXPECT_THROW(q.get(false), corio::queue_empty);
  EXPECT_THROW(q.get(0s), corio::queue_empty);
}

TEST(ThreadingSimpleQueue, get_with_a_timeout_on_an_empty_queue_throws_queue_empty_on_time) {
  th::simple_queue<int> q;
  const auto took = time_of([&] { EXPECT_THROW(q.get(50ms), corio::queue_empty); });
  EXPECT_TRUE(on_time(took, 50ms));
}

TEST(ThreadingSimpleQueue, a_negative_timeout_throws_invalid_argument) {
  th::simple_queue<int> q;
  q.put(1);
  try {
    q.get(-1s);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("simple_queue.get()"), std::string::npos) << e.what();
  }
  EXPECT_EQ(q.qsize(), 1u);
}

TEST(ThreadingSimpleQueue, put_constructs_in_place_and_accepts_braces) {
  counted::reset();
  {
    th::simple_queue<counted> q;
    q.put(3);
    EXPECT_EQ(counted::constructions, 1u);
    EXPECT_EQ(counted::moves, 0u);
    EXPECT_EQ(q.get().id, 3);
    EXPECT_EQ(counted::copies, 0u);
  }
  EXPECT_EQ(counted::alive(), 0u);
  th::simple_queue<std::pair<int, std::string>> p;
  p.put({1, "a"});
  EXPECT_EQ(p.get().second, "a");
}

TEST(ThreadingSimpleQueue, move_only_items_go_through) {
  th::simple_queue<std::unique_ptr<int>> q;
  q.put(std::make_unique<int>(4));
  auto p = q.get(1s);
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, 4);
}

TEST(ThreadingSimpleQueue, items_left_in_the_queue_are_destroyed_with_it) {
  counted::reset();
  {
    th::simple_queue<counted> q;
    for (int i = 0; i < 10; ++i) q.put(i);
    q.get();  // moves some into the consumers' list; the rest stay pushed
    for (int i = 0; i < 10; ++i) q.put(i);
  }
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(ThreadingSimpleQueue, get_blocks_until_an_item_is_put) {
  th::simple_queue<int> q;
  std::atomic<bool> put_done{false};
  later producer([&] {
    put_done = true;
    q.put(42);
  });
  EXPECT_EQ(q.get(bound), 42);
  EXPECT_TRUE(put_done);
}

TEST(ThreadingSimpleQueue, many_blocked_getters_each_get_one_item) {
  th::simple_queue<int> q;
  std::atomic<int> sum{0};
  std::vector<std::thread> getters;
  for (int i = 0; i < 4; ++i) getters.emplace_back([&] { sum += q.get(bound); });
  std::this_thread::sleep_for(20ms);
  for (int i = 1; i <= 4; ++i) q.put(i);
  for (auto& t : getters) t.join();
  EXPECT_EQ(sum, 10);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingSimpleQueue, put_may_be_called_from_a_destructor_running_inside_get) {
  th::simple_queue<echo> q;
  q.put(echo_args{&q, 7, on::put_when_shell_dies});
  EXPECT_EQ(q.get().v, 7);  // the shell left in the node put 70 on its way out
  EXPECT_EQ(q.get_nowait().v, 70);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingSimpleQueue, get_may_be_called_from_a_destructor_running_inside_get) {
  th::simple_queue<echo> q;
  int got = 0;
  q.put(echo_args{&q, 1, on::get_when_shell_dies, &got});
  q.put(2);
  EXPECT_EQ(q.get().v, 1);
  EXPECT_EQ(got, 2);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingSimpleQueue, put_may_be_called_from_the_items_constructor_inside_put) {
  struct item {
    int v;
    explicit item(int x) : v(x) {}
  };
  th::simple_queue<item> q;
  // Building the item puts another one into the same queue first.
  struct nested {
    th::simple_queue<item>* q;
    operator item() const {  // NOLINT: converts on purpose
      q->put(1);
      return item(2);
    }
  };
  q.put(nested{&q});
  EXPECT_EQ(q.get().v, 1);
  EXPECT_EQ(q.get().v, 2);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadingSimpleQueue, an_item_whose_move_out_throws_stays_first) {
  th::simple_queue<fragile> q;
  q.put(1);
  q.put(2);
  fragile::fail_next_move = true;
  EXPECT_THROW(q.get(), std::runtime_error);
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(q.get().v, 1);
  EXPECT_EQ(q.get().v, 2);
}

TEST(ThreadingSimpleQueue, a_put_whose_construction_throws_adds_nothing) {
  struct boom {
    operator int() const { throw std::runtime_error("boom"); }  // NOLINT: converts on purpose
  };
  th::simple_queue<int> q;
  EXPECT_THROW(q.put(boom{}), std::runtime_error);
  EXPECT_TRUE(q.empty());
  EXPECT_THROW(q.get_nowait(), corio::queue_empty);
}

TEST(ThreadingSimpleQueue, a_returned_item_is_no_longer_referenced_by_the_queue) {
  th::simple_queue<std::shared_ptr<int>> q;
  auto p = std::make_shared<int>(1);
  std::weak_ptr<int> w = p;
  q.put(std::move(p));
  q.put(std::make_shared<int>(2));
  q.get().reset();
  EXPECT_TRUE(w.expired());
}

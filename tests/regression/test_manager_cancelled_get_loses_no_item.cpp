// An awaitable get pipelined on its connection and cancelled after its
// request went out (by wait_for timing out, say) left the server's get
// waiting: the next item put was taken by that get, and the client read
// its reply and dropped it, so the item was lost. A cancel now follows the
// request: the server ends the get, which takes nothing; and if the get
// took an item before the cancel reached the server, the client gives the
// item back at the head of the queue, without a new unfinished task.
#include "manager_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using corio_test::until_waiting;

namespace {

mp::sync_manager tcp_manager() { return mp::sync_manager(mp::address("127.0.0.1", 0), std::string("cancelled")); }

}  // namespace

TEST_F(mp_test, a_get_cancelled_by_wait_for_after_it_went_out_leaves_the_next_item_to_the_next_get) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  auto probe = mp::client(m.address(), std::string("cancelled"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    auto get = corio::create_task(qp.get_async());
    co_await until_waiting(pc, 1);  // sent, and waiting in the server
    EXPECT_THROW(co_await corio::wait_for(get, 1ms), corio::timeout_error);
    co_await until_waiting(pc, 0);  // the cancel ended the server's get
    co_await qp.put_async(42);
    EXPECT_EQ(co_await corio::wait_for(qp.get_async(), 60s), 42);
    EXPECT_EQ(co_await qp.qsize_async(), 0u);
  }(q, probe));
  m.shutdown();
}

TEST_F(mp_test, an_item_a_cancelled_get_took_before_its_cancel_arrived_goes_back_to_the_head) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  auto probe = mp::client(m.address(), std::string("cancelled"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    auto get = corio::create_task(qp.get_async());
    co_await until_waiting(pc, 1);
    // In one loop turn: the server's get takes 1 and answers before the
    // cancel goes out, and 2 is put behind it.
    qp.put(1);
    get.cancel();
    qp.put(2);
    EXPECT_THROW(co_await get, corio::cancelled_error);
    EXPECT_EQ(co_await corio::wait_for(qp.get_async(), 60s), 1);
    EXPECT_EQ(co_await corio::wait_for(qp.get_async(), 60s), 2);
    EXPECT_EQ(co_await qp.qsize_async(), 0u);
  }(q, probe));
  m.shutdown();
}

constexpr int kRounds = 100;

TEST_F(mp_test, every_item_comes_back_exactly_once_whichever_wins_between_cancel_and_put) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  auto probe = mp::client(m.address(), std::string("cancelled"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    for (int i = 0; i < kRounds; ++i) {
      auto get = corio::create_task(qp.get_async());
      co_await until_waiting(pc, 1);
      if (i % 3 == 0) {
        qp.put(i);  // the get takes it before the cancel: given back
        get.cancel();
      } else if (i % 3 == 1) {
        auto put = corio::create_task(qp.put_async(i));  // races the cancel
        get.cancel();
        co_await put;
      } else {
        get.cancel();  // the cancel goes first
        co_await corio::sleep(0s);
        co_await qp.put_async(i);
      }
      EXPECT_THROW(co_await get, corio::cancelled_error);
      EXPECT_EQ(co_await corio::wait_for(qp.get_async(), 60s), i) << "round " << i;
    }
    EXPECT_EQ(co_await qp.qsize_async(), 0u);
  }(q, probe));
  m.shutdown();
}

TEST_F(mp_test, a_given_back_item_adds_no_unfinished_task_to_a_joinable_queue) {
  auto m = tcp_manager();
  m.start();
  auto q = m.joinable_queue<int>();
  auto probe = mp::client(m.address(), std::string("cancelled"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    auto get = corio::create_task(qp.get_async());
    co_await until_waiting(pc, 1);
    qp.put(5);  // taken by the get, then given back
    get.cancel();
    EXPECT_THROW(co_await get, corio::cancelled_error);
    EXPECT_EQ(co_await corio::wait_for(qp.get_async(), 60s), 5);
    co_await qp.task_done_async();
    co_await corio::wait_for(qp.join_async(), 60s);  // one put, one task_done: joined
    EXPECT_THROW(co_await qp.task_done_async(), std::invalid_argument);
  }(q, probe));
  m.shutdown();
}

TEST_F(mp_test, calls_queued_behind_a_cancelled_get_on_its_connection_still_complete_in_order) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  auto probe = mp::client(m.address(), std::string("cancelled"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    std::vector<corio::task<int>> gets;
    for (int i = 0; i < 4; ++i) gets.push_back(corio::create_task(qp.get_async()));
    co_await until_waiting(pc, 1);  // the first waits, the others are behind it
    gets[0].cancel();  // waiting in the server
    gets[2].cancel();  // read ahead, or still in the socket
    EXPECT_THROW(co_await gets[0], corio::cancelled_error);
    EXPECT_THROW(co_await gets[2], corio::cancelled_error);
    for (int i = 1; i <= 3; ++i) co_await qp.put_async(i);
    EXPECT_EQ(co_await corio::wait_for(gets[1], 60s), 1);
    EXPECT_EQ(co_await corio::wait_for(gets[3], 60s), 2);
    EXPECT_EQ(co_await corio::wait_for(qp.get_async(), 60s), 3);
    co_await until_waiting(pc, 0);
  }(q, probe));
  m.shutdown();
}

TEST_F(mp_test, a_blocking_get_with_a_timeout_still_times_out_and_takes_nothing) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  EXPECT_THROW((void)q.get(true, 10ms), corio::queue_empty);
  q.put(3);
  EXPECT_EQ(q.get(), 3);
  EXPECT_EQ(q.qsize(), 0u);
  m.shutdown();
}

CORIO_MP_TEST_MAIN()

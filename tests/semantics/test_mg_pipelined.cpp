// Awaitable proxy calls issued concurrently from one loop are pipelined on
// one connection per (thread, manager, key) and lane (docs/design.md,
// "Managers"): requests go out back to back, replies come back in request
// order; a call cancelled before its request went out is dropped, a get
// cancelled after takes no item; a lost connection fails
// every call pending on it, naming the manager's address.
#include "manager_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using corio_test::waiting_calls;

namespace {

constexpr int kCalls = 200;

// How many of this process's sockets are connected to 127.0.0.1:port.
std::size_t connections_to(std::uint16_t port) { return corio_test::sockets_connected_to(port).size(); }

mp::sync_manager tcp_manager() { return mp::sync_manager(mp::address("127.0.0.1", 0), std::string("pipelined")); }

}  // namespace

TEST_F(mp_test, concurrent_awaitable_calls_keep_their_order_and_results) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  auto d = m.dict<int, int>();
  corio::run([](mp::queue_proxy<int> qp, mp::dict_proxy<int, int> dp) -> corio::task<void> {
    std::vector<corio::task<void>> puts;
    for (int i = 0; i < kCalls; ++i) puts.push_back(corio::create_task(qp.put_async(i)));
    for (auto& t : puts) co_await t;
    std::vector<corio::task<int>> gets;
    for (int i = 0; i < kCalls; ++i) gets.push_back(corio::create_task(qp.get_async()));
    for (int i = 0; i < kCalls; ++i) EXPECT_EQ(co_await gets[i], i);
    std::vector<corio::task<void>> sets;
    for (int i = 0; i < kCalls; ++i) sets.push_back(corio::create_task(dp.set_async(i, i * i)));
    std::vector<corio::task<int>> reads;
    for (int i = 0; i < kCalls; ++i) reads.push_back(corio::create_task(dp.at_async(i)));
    for (auto& t : sets) co_await t;
    for (int i = 0; i < kCalls; ++i) EXPECT_EQ(co_await reads[i], i * i);  // each read after its set
    EXPECT_THROW(co_await dp.at_async(-1), std::out_of_range);              // an error reply keeps its place
    EXPECT_EQ(co_await dp.size_async(), static_cast<std::size_t>(kCalls));
  }(q, d));
  m.shutdown();
}

TEST_F(mp_test, many_concurrent_awaitable_calls_share_one_connection) {
  auto m = tcp_manager();
  m.start();
  auto d = m.dict<int, int>();
  const std::size_t before = connections_to(m.address().port());
  const std::size_t during = corio::run([](mp::dict_proxy<int, int> dp, std::uint16_t port) -> corio::task<std::size_t> {
    std::vector<corio::task<void>> sets;
    for (int i = 0; i < kCalls; ++i) sets.push_back(corio::create_task(dp.set_async(i, i)));
    for (auto& t : sets) co_await t;
    co_return connections_to(port);
  }(d, m.address().port()));
  EXPECT_EQ(during, before + 1);
  EXPECT_EQ(d.size(), static_cast<std::size_t>(kCalls));
  m.shutdown();
}

TEST_F(mp_test, an_awaitable_call_cancelled_before_its_request_went_out_is_dropped) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  corio::run([](mp::queue_proxy<int> qp) -> corio::task<void> {
    // The lane's connection is still being opened: every request waits.
    auto a = corio::create_task(qp.put_async(1));
    auto b = corio::create_task(qp.put_async(2));
    auto c = corio::create_task(qp.put_async(3));
    co_await corio::sleep(0s);  // each has queued its request
    b.cancel();
    co_await a;
    EXPECT_THROW(co_await b, corio::cancelled_error);
    co_await c;
    EXPECT_EQ(co_await qp.qsize_async(), 2u);
  }(q));
  EXPECT_EQ(q.get(false), 1);
  EXPECT_EQ(q.get(false), 3);
  m.shutdown();
}

TEST_F(mp_test, an_awaitable_get_cancelled_after_its_request_went_out_takes_no_item) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  auto probe = mp::client(m.address(), std::string("pipelined"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    auto first = corio::create_task(qp.get_async());
    for (int i = 0; i < 6000 && waiting_calls(pc) != 1; ++i) co_await corio::sleep(10ms);
    EXPECT_EQ(waiting_calls(pc), 1u);  // sent, and waiting in the server
    auto second = corio::create_task(qp.get_async());
    first.cancel();
    EXPECT_THROW(co_await first, corio::cancelled_error);
    co_await qp.put_async(7);  // the cancelled get takes nothing: the second gets it
    co_await qp.put_async(8);
    EXPECT_EQ(co_await second, 7);
    EXPECT_EQ(co_await qp.get_async(), 8);
    EXPECT_EQ(co_await qp.qsize_async(), 0u);
  }(q, probe));
  m.shutdown();
}

TEST_F(mp_test, replies_owed_go_out_before_a_call_that_waits_on_the_same_connection) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  q.put(1);
  q.put(2);
  corio::run([](mp::queue_proxy<int> qp) -> corio::task<void> {
    // Sent together: the server answers the first two at once, and must
    // send those replies before the third waits for an item.
    auto a = corio::create_task(qp.get_async());
    auto b = corio::create_task(qp.get_async());
    auto c = corio::create_task(qp.get_async());
    EXPECT_EQ(co_await corio::wait_for(a, 60s), 1);
    EXPECT_EQ(co_await corio::wait_for(b, 60s), 2);
    EXPECT_FALSE(c.done());
    co_await qp.put_async(3);
    EXPECT_EQ(co_await corio::wait_for(c, 60s), 3);
  }(q));
  m.shutdown();
}

TEST_F(mp_test, a_lost_connection_fails_every_call_pending_on_it_naming_the_address) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  const std::string where = m.address().to_string();
  auto probe = mp::client(m.address(), std::string("pipelined"));
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc, pid_t server,
                std::string at) -> corio::task<void> {
    std::vector<corio::task<int>> gets;
    for (int i = 0; i < 5; ++i) gets.push_back(corio::create_task(qp.get_async()));
    for (int i = 0; i < 6000 && waiting_calls(pc) != 1; ++i) co_await corio::sleep(10ms);
    EXPECT_EQ(waiting_calls(pc), 1u);  // the first waits, the others are behind it
    EXPECT_EQ(::kill(server, SIGKILL), 0);
    for (auto& g : gets) {
      try {
        (void)co_await g;
        ADD_FAILURE() << "a call on a lost connection succeeded";
      } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find(at), std::string::npos) << e.what();
      }
    }
  }(q, probe, *m.server_pid(), where));
  m.shutdown();  // reaps the dead server
}

TEST_F(mp_test, calls_left_pending_when_a_loop_ends_do_not_hold_up_the_next_loop) {
  auto m = tcp_manager();
  m.start();
  auto q = m.queue<int>();
  corio::run([](mp::queue_proxy<int> qp) -> corio::task<void> {
    // Left running: the loop's end cancels the call and the connection's
    // tasks, some before they started.
    (void)corio::create_task(qp.put_async(1));
    co_return;
  }(q));
  const std::size_t size = corio::run([](mp::queue_proxy<int> qp) -> corio::task<std::size_t> {
    co_await corio::wait_for(qp.put_async(2), 60s);
    co_return co_await corio::wait_for(qp.qsize_async(), 60s);
  }(q));
  EXPECT_GE(size, 1u);
  EXPECT_LE(size, 2u);  // the first put may or may not have reached the server
  m.shutdown();
}

TEST_F(mp_test, loops_on_two_threads_pipeline_on_connections_of_their_own) {
  auto m = tcp_manager();
  m.start();
  auto d = m.dict<int, int>();
  auto fill = [d](int base) {
    corio::run([](mp::dict_proxy<int, int> dp, int from) -> corio::task<void> {
      std::vector<corio::task<void>> sets;
      for (int i = 0; i < kCalls; ++i) sets.push_back(corio::create_task(dp.set_async(from + i, from + i)));
      for (auto& t : sets) co_await t;
      for (int i = 0; i < kCalls; ++i) EXPECT_EQ(co_await dp.at_async(from + i), from + i);
    }(d, base));
  };
  std::thread other(fill, kCalls);
  fill(0);
  other.join();
  EXPECT_EQ(d.size(), static_cast<std::size_t>(2 * kCalls));
  m.shutdown();
}

CORIO_MP_TEST_MAIN()

// An awaitable put on a full bounded queue went on the pipelined
// connection of the calls that answer at once: while it waited for room,
// every later awaitable call of the thread on that manager waited behind
// it, the get_nowait that would have made the room included (a deadlock),
// and a put cancelled while it waited still put its item later. Puts now
// have a lane of their own, and a cancelled one is cancelled in the server.
#include "manager_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using corio_test::until_waiting;

namespace {

const std::string kKey = "full queue";

}  // namespace

TEST_F(mp_test, a_put_async_waiting_on_a_full_queue_holds_up_no_get_nowait_behind_it) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey);
  m.start();
  auto q = m.queue<int>(1);
  auto probe = mp::client(m.address(), kKey);
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    co_await qp.put_async(1);
    auto put = corio::create_task(qp.put_async(2));
    co_await until_waiting(pc, 1);  // the put waits for room
    EXPECT_EQ(co_await corio::wait_for(qp.get_nowait_async(), 30s), 1);
    co_await corio::wait_for(put, 30s);  // the room it made
    EXPECT_EQ(co_await qp.get_async(), 2);
  }(q, probe));
  m.shutdown();
}

TEST_F(mp_test, a_put_async_cancelled_while_the_queue_is_full_puts_nothing) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey);
  m.start();
  auto q = m.queue<int>(1);
  auto probe = mp::client(m.address(), kKey);
  corio::run([](mp::queue_proxy<int> qp, mp::connection& pc) -> corio::task<void> {
    co_await qp.put_async(1);
    auto put = corio::create_task(qp.put_async(2));
    co_await until_waiting(pc, 1);
    EXPECT_THROW(co_await corio::wait_for(put, 1ms), corio::timeout_error);
    co_await until_waiting(pc, 0);  // the cancel ended the server's put
    EXPECT_EQ(co_await qp.get_async(), 1);
    co_await qp.put_async(3);
    EXPECT_EQ(co_await qp.get_async(), 3);
    EXPECT_EQ(co_await qp.qsize_async(), 0u);
  }(q, probe));
  m.shutdown();
}

// A loop future completed from another thread (the classic mistake; the door
// is call_soon_threadsafe) left the awaiting task asleep for ever, and debug
// mode said nothing. Debug mode now checks every loop-bound operation, as
// Python's does through call_soon: the wrong-thread call raises at once,
// naming the operation, and the loop's own thread pays one compare.
#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>

#include "error_util.hpp"

using namespace std::chrono_literals;
using corio_test::error_of;
using corio_test::message_of;

namespace {

corio::loop_options debug_on() {
  corio::loop_options o;
  o.debug = true;
  return o;
}

// Runs `op` on another thread while `loop` runs; returns what it threw.
std::exception_ptr from_another_thread(std::function<void()> op) {
  std::exception_ptr err;
  std::thread th([&] { err = error_of(op); });
  th.join();
  return err;
}

bool is_confinement_error(const std::exception_ptr& e, const char* what) {
  if (!e) {
    ADD_FAILURE() << what << ": nothing was thrown";
    return false;
  }
  const std::string m = message_of(e);
  return m.rfind("Non-thread-safe operation invoked on an event loop other than the current one", 0) == 0 &&
         m.find(what) != std::string::npos;
}

TEST(DebugConfinement, set_result_from_another_thread_raises_in_debug_mode_and_the_waiter_is_not_lost) {
  corio::event_loop loop(debug_on());
  auto fut = loop.create_future<int>();
  std::exception_ptr err;
  auto main = [&]() -> corio::task<int> {
    err = from_another_thread([&] { fut.set_result(42); });
    EXPECT_FALSE(fut.done());
    fut.set_result(7);  // the right thread
    co_return co_await fut;
  };
  EXPECT_EQ(loop.run_until_complete(main()), 7);
  EXPECT_TRUE(is_confinement_error(err, "future.set_result")) << message_of(err);
}

TEST(DebugConfinement, future_and_task_operations_from_another_thread_raise_in_debug_mode) {
  corio::event_loop loop(debug_on());
  loop.run_until_complete([&]() -> corio::task<> {
    auto fut = corio::create_future<int>();
    auto t = corio::create_task([]() -> corio::task<> { co_await corio::sleep(1h); }());
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { fut.set_exception(std::runtime_error("x")); }),
                                     "future.set_exception"));
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { fut.cancel(); }), "future.cancel"));
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { t.cancel(); }), "task.cancel"));
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { fut.add_done_callback([](corio::future<int>&) {}); }),
                                     "add_done_callback"));
    EXPECT_FALSE(fut.done());
    EXPECT_FALSE(t.done());
    t.cancel();
    co_await corio::gather_settled(t);
  }());
}

TEST(DebugConfinement, loop_bound_primitives_used_from_another_thread_raise_in_debug_mode) {
  corio::event_loop loop(debug_on());
  loop.run_until_complete([&]() -> corio::task<> {
    corio::event ev;
    corio::lock lk;
    corio::queue<int> q(1);
    corio::semaphore sem(0);
    corio::condition cond;
    // Bind each to this loop with a waiter, as Python does on first contention.
    auto w1 = corio::create_task([](corio::event& e) -> corio::task<> { co_await e.wait(); }(ev));
    co_await lk.acquire();
    auto w2 = corio::create_task([](corio::lock& l) -> corio::task<> { co_await l.acquire(); l.release(); }(lk));
    auto w3 = corio::create_task([](corio::queue<int>& qq) -> corio::task<> { (void)co_await qq.get(); }(q));
    auto w4 = corio::create_task([](corio::semaphore& s) -> corio::task<> { co_await s.acquire(); }(sem));
    co_await corio::sleep(0s);
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { ev.set(); }), "Event"));
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { lk.release(); }), "Lock"));
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { q.put_nowait(1); }), "Queue"));
    EXPECT_TRUE(is_confinement_error(from_another_thread([&] { sem.release(); }), "Semaphore"));
    (void)cond;
    ev.set();
    lk.release();
    q.put_nowait(1);
    sem.release();
    co_await corio::gather(w1, w2, w3, w4);
  }());
}

TEST(DebugConfinement, without_debug_mode_the_loop_thread_is_not_checked_at_all) {
  corio::event_loop loop;  // CORIO_DEBUG unset in the test environment
  if (loop.get_debug()) GTEST_SKIP() << "CORIO_DEBUG is set";
  auto fut = loop.create_future<int>();
  fut.set_result(1);  // not running: any thread may prepare it
  EXPECT_EQ(loop.run_until_complete(fut), 1);
}

}  // namespace

// A task started with run_coroutine_threadsafe and still pending when its
// loop closed was never destroyed: its own done callback held a handle to it
// (a reference cycle), so its frame's destructors never ran, nothing was
// reported, and the caller's concurrent future stayed pending for ever. Now
// the task is destroyed and reported like any task pending at close (TK-13),
// and the caller's future ends cancelled.
#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

struct probe {
  std::atomic<int>* destroyed;
  ~probe() { ++*destroyed; }
};

corio::task<int> forever(std::atomic<int>* destroyed) {
  probe p{destroyed};
  co_await corio::sleep(1h);
  co_return 1;
}

TEST(RunCoroutineThreadsafeAtClose, a_pending_task_is_destroyed_and_reported_and_the_callers_future_ends_cancelled) {
  std::atomic<int> destroyed{0};
  std::vector<std::string> reports;
  corio::futures::future<int> f;
  {
    corio::event_loop loop;
    loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context& c) { reports.push_back(c.message); });
    std::thread th([&] { f = corio::run_coroutine_threadsafe(forever(&destroyed), loop); });
    th.join();
    loop.run_until_complete([]() -> corio::task<> { co_await corio::sleep(1ms); }());
    ASSERT_FALSE(f.done());
    loop.close();
    EXPECT_EQ(destroyed.load(), 1) << "the task's frame was not destroyed at close";
    EXPECT_EQ(reports, std::vector<std::string>{"Task was destroyed but it is pending!"});
  }
  ASSERT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
}

TEST(RunCoroutineThreadsafeAtClose, a_finished_task_still_delivers_its_result) {
  corio::event_loop loop;
  corio::futures::future<int> f;
  std::thread th([&] { f = corio::run_coroutine_threadsafe([]() -> corio::task<int> { co_return 41; }(), loop); });
  th.join();
  loop.run_until_complete([]() -> corio::task<> { co_await corio::sleep(1ms); }());
  loop.close();
  EXPECT_EQ(f.result(1s), 41);
}

}  // namespace

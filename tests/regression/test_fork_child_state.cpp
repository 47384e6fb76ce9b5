// What a fork child inherits from corio: the parent's loops (whose
// io_uring ring and epoll instance are the parent's), the task it was
// forked from, thread pools whose threads did not come along, the threading
// registry listing threads that do not exist, and signal handlers of loops
// that never run there. Before the fix a child forked inside a running
// loop could not run a loop of its own ("Cannot run the event loop while
// another loop is running"), an inherited loop submitted to the parent's
// ring, an inherited executor took work no thread would run, a child
// waited at exit for the parent's threads, and terminate() did not end a
// child of a program handling SIGTERM.
#include "fork_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/events.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/runners.hpp>
#include <corio/tasks.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/thread.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <string>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {
constexpr auto kBound = 60s;

corio::task<int> forty_two() {
  co_await corio::sleep(1ms);
  co_return 42;
}
}  // namespace

TEST_F(mp_test, a_child_forked_inside_a_running_loop_can_run_a_loop_of_its_own) {
  auto [r, w] = mp::pipe();
  corio::run([](mp::connection& out) -> corio::task<> {
    mp::process p([&out] {
      // Forked from a task: the parent's loop is no longer "running" here.
      out.send(corio::run(forty_two()));
    });
    p.start();
    co_await p.join_async();
    EXPECT_EQ(p.exitcode(), 0);
  }(w));
  EXPECT_EQ(r.recv<int>(), 42);
}

TEST_F(mp_test, a_loop_made_before_the_fork_cannot_be_run_in_the_child_and_says_why) {
  corio::event_loop loop;
  loop.run_until_complete(forty_two());  // its backend is in use
  auto [r, w] = mp::pipe();
  mp::process p([&] {
    try {
      loop.run_until_complete(forty_two());
      w.send(std::string("ran"));
    } catch (const std::runtime_error& e) {
      w.send(std::string(e.what()));
    }
  });
  p.start();
  const std::string msg = r.recv<std::string>();
  p.join(kBound);
  EXPECT_NE(msg.find("was made in process " + std::to_string(::getpid())), std::string::npos) << msg;
  EXPECT_NE(msg.find("make a new one in the child"), std::string::npos) << msg;
  // The parent's loop is untouched.
  EXPECT_EQ(loop.run_until_complete(forty_two()), 42);
}

TEST_F(mp_test, a_thread_pool_made_before_the_fork_refuses_work_in_the_child_and_a_new_one_works) {
  // The child starts threads after a fork of a process with threads, which
  // ThreadSanitizer refuses (it kills the child).
  CORIO_SKIP_FORK_UNDER_TSAN();
  corio::futures::thread_pool_executor pool(2);
  EXPECT_EQ(pool.submit([] { return 1; }).result(), 1);
  auto [r, w] = mp::pipe();
  mp::process p([&] {
    std::string inherited;
    try {
      (void)pool.submit([] { return 2; });
      inherited = "accepted";
    } catch (const std::runtime_error& e) {
      inherited = e.what();
    }
    corio::futures::thread_pool_executor fresh(1);
    w.send(std::pair<std::string, int>(inherited, fresh.submit([] { return 3; }).result()));
    fresh.shutdown();
  });
  p.start();
  ASSERT_TRUE(r.poll(kBound)) << "the child answers";
  const auto [inherited, fresh] = r.recv<std::pair<std::string, int>>();
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_NE(inherited.find("thread_pool_executor was made in process"), std::string::npos) << inherited;
  EXPECT_EQ(fresh, 3);
  EXPECT_EQ(pool.submit([] { return 4; }).result(), 4);
}

TEST_F(mp_test, the_childs_threading_registry_lists_only_itself_and_exit_does_not_wait_for_the_parents_threads) {
  corio::threading::event release;
  corio::threading::thread busy([&release] { release.wait(); });  // non-daemon, running at the fork
  busy.start();
  auto [r, w] = mp::pipe();
  mp::process p([&w] {
    const auto all = corio::threading::enumerate();
    w.send(std::pair<std::size_t, bool>(all.size(),
                                        corio::threading::main_thread() == corio::threading::current_thread()));
  });
  p.start();
  const auto [count, is_main] = r.recv<std::pair<std::size_t, bool>>();
  p.join(kBound);  // the child must not wait for `busy`, which it does not have
  EXPECT_EQ(count, 1u);
  EXPECT_TRUE(is_main);
  EXPECT_EQ(p.exitcode(), 0);
  release.set();
  busy.join();
}

TEST_F(mp_test, terminate_ends_a_child_of_a_program_whose_loop_handles_sigterm) {
  corio::run([]() -> corio::task<> {
    auto& loop = corio::get_running_loop();
    bool got = false;
    loop.add_signal_handler(SIGTERM, [&got] { got = true; });
    auto [r, w] = mp::pipe();
    mp::process p(mp::process_options{}, [](mp::connection c) { (void)c.recv<int>(); }, std::move(r));
    p.start();
    p.terminate();
    co_await corio::wait_for(p.join_async(), kBound);
    EXPECT_EQ(p.exitcode(), -SIGTERM);
    EXPECT_FALSE(got);
    loop.remove_signal_handler(SIGTERM);
  }());
}

CORIO_MP_TEST_MAIN()

// docs/semantics.md section 15, the process pool executor (MP-49 ..
// MP-54), on real worker processes, and its use from a loop
// (run_in_executor, wrap_future). Each test reaps what it started
// (mp_test); tasks that must be running when something happens to them say
// so through a FIFO; every wait is bounded.
//
// Departure (docs/python-mapping.md): MP-53 (workers start at the first
// submit whatever the method).
#include "multiprocessing_util.hpp"

#include <corio/futures/process_pool_executor.hpp>
#include <corio/futures/thread_pool_executor.hpp>
#include <corio/futures/wait.hpp>
#include <corio/runners.hpp>
#include <corio/threads.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
namespace cf = corio::futures;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;

int square(int x) { return x * x; }
int pid_of(int) { return static_cast<int>(::getpid()); }
int raise_value_error(int) { throw std::invalid_argument("bad value in the worker"); }
int exit_in_task(int code) { throw corio::system_exit(code); }
void nothing() {}
int start_a_process() {
  mp::process p(nothing);
  p.start();
  p.join();
  return *p.exitcode();
}
void init_raises() { throw std::runtime_error("initializer failed"); }
int wait_for_fifo(std::string path) {
  // Blocks until the test releases it (report_fifo::release).
  const int fd = ::open((path + ".go").c_str(), O_RDONLY | O_CLOEXEC);
  char c = 0;
  (void)!::read(fd, &c, 1);
  ::close(fd);
  return c;
}

}  // namespace

// -- MP-49 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_49_a_worker_killed_mid_task_breaks_the_executor_and_every_pending_future) {
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    cf::process_pool_executor ex(2, mp::get_context(method));
    corio_test::report_fifo f;
    auto victim = ex.submit(corio_test::report_and_hang, f.path());
    const int pid = f.next_pid();
    ASSERT_GT(pid, 0) << method;
    std::vector<cf::future<int>> pending;
    for (int i = 0; i < 4; ++i) pending.push_back(ex.submit(corio_test::report_and_hang, f.path()));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    try {
      victim.result(kBound);
      FAIL() << method;
    } catch (const cf::broken_process_pool& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("terminated abruptly"), std::string::npos) << what;
      EXPECT_NE(what.find(std::to_string(pid)), std::string::npos) << what;
      EXPECT_NE(what.find("SIGKILL"), std::string::npos) << what;
    }
    for (auto& p : pending) EXPECT_THROW(p.result(kBound), cf::broken_process_pool) << method;
    EXPECT_THROW(ex.submit(square, 2), cf::broken_process_pool) << method;
    EXPECT_THROW(ex.submit(square, 2), cf::broken_executor) << method;
    ex.shutdown();
    EXPECT_TRUE(mp::active_children().empty()) << method;
  }
}

TEST_F(mp_test, MP_49_a_worker_that_exits_during_a_call_breaks_the_executor) {
  cf::process_pool_executor ex(1, mp::get_context("fork"));
  auto f = ex.submit([](int) -> int { ::_exit(3); }, 0);
  try {
    f.result(kBound);
    FAIL();
  } catch (const cf::broken_process_pool& e) {
    EXPECT_NE(std::string(e.what()).find("exited with code 3"), std::string::npos) << e.what();
  }
}

// -- MP-50 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_50_an_initializer_that_raises_breaks_the_executor) {
  cf::process_pool_executor ex(2, mp::get_context("fork"), mp::pool_initializer(init_raises));
  try {
    // The first submit starts the workers: it raises itself if the break
    // came first, or its future fails with it.
    ex.submit(square, 3).result(kBound);
    FAIL();
  } catch (const cf::broken_process_pool& e) {
    EXPECT_NE(std::string(e.what()).find("initializer failed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ex.submit(square, 2), cf::broken_process_pool);
}

// -- MP-51 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_51_an_exception_of_the_call_goes_to_its_future_and_the_executor_stays_usable) {
  for (const char* method : {"fork", "spawn"}) {
    cf::process_pool_executor ex(2, mp::get_context(method));
    auto f = ex.submit(raise_value_error, 1);
    try {
      f.result(kBound);
      FAIL() << method;
    } catch (const std::invalid_argument& e) {
      EXPECT_STREQ(e.what(), "bad value in the worker");
      try {
        std::rethrow_if_nested(e);
        ADD_FAILURE() << "no remote traceback";
      } catch (const mp::remote_traceback&) {
      }
    }
    // SystemExit too: the worker survives it.
    EXPECT_THROW(ex.submit(exit_in_task, 4).result(kBound), corio::system_exit) << method;
    EXPECT_EQ(ex.submit(square, 5).result(kBound), 25) << method;
  }
}

TEST_F(mp_test, MP_51_a_callable_that_cannot_cross_fails_at_submit_and_the_executor_stays_usable) {
  cf::process_pool_executor ex(1, mp::get_context("spawn"));
  const int k = 2;
  EXPECT_THROW(ex.submit([k](int x) { return x + k; }, 1), std::invalid_argument);
  EXPECT_EQ(ex.submit(square, 4).result(kBound), 16);
}

// -- MP-52 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_52_max_tasks_per_child_must_be_positive_cannot_go_with_fork_and_defaults_to_spawn) {
  EXPECT_THROW(cf::process_pool_executor(1, std::nullopt, {}, 0), std::invalid_argument);
  EXPECT_THROW(cf::process_pool_executor(1, mp::get_context("fork"), {}, 1), std::invalid_argument);
  cf::process_pool_executor ex(1, std::nullopt, {}, 2);
  EXPECT_EQ(ex.start_method(), "spawn");
  std::vector<cf::future<int>> fs;
  for (int i = 0; i < 6; ++i) fs.push_back(ex.submit(pid_of, i));
  ex.shutdown();  // completes every submitted task
  std::map<int, int> per_pid;
  for (auto& f : fs) ++per_pid[f.result(0s)];
  EXPECT_EQ(per_pid.size(), 3u);
  for (auto [pid, n] : per_pid) EXPECT_EQ(n, 2);
}

// -- MP-53 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_53_max_workers_must_be_positive_and_workers_are_not_daemonic) {
  EXPECT_THROW(cf::process_pool_executor(0), std::invalid_argument);
  EXPECT_THROW(cf::process_pool_executor(-1), std::invalid_argument);
  cf::process_pool_executor ex(2, mp::get_context("fork"));
  EXPECT_TRUE(ex.worker_pids().empty());  // started at the first submit
  EXPECT_EQ(ex.submit(start_a_process).result(kBound), 0);
  EXPECT_EQ(ex.worker_pids().size(), 2u);
}

TEST_F(mp_test, MP_53_map_ships_batches_of_chunksize_and_yields_in_input_order) {
  for (const char* method : {"fork", "spawn"}) {
    cf::process_pool_executor ex(2, mp::get_context(method));
    std::vector<int> xs(50);
    for (int i = 0; i < 50; ++i) xs[static_cast<std::size_t>(i)] = i;
    for (std::size_t cs : {1u, 7u, 50u}) {
      std::vector<int> got;
      for (int r : ex.map(square, xs, cs)) got.push_back(r);
      ASSERT_EQ(got.size(), 50u);
      for (int i = 0; i < 50; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i * i) << method << " cs=" << cs;
    }
    // Items of one batch run in one worker.
    std::vector<int> pids;
    for (int p : ex.map(pid_of, std::vector<int>(10, 0), 5)) pids.push_back(p);
    EXPECT_EQ(std::set<int>(pids.begin(), pids.begin() + 5).size(), 1u);
    EXPECT_EQ(std::set<int>(pids.begin() + 5, pids.end()).size(), 1u);
    EXPECT_THROW(ex.map(square, xs, 0), std::invalid_argument);
  }
}

// -- MP-54 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_54_the_calls_sent_to_a_worker_are_running_and_cannot_be_cancelled_the_rest_can) {
  // As CPython: one worker, four submits: cancel gives false, false, true,
  // true (a worker is sent the call it runs and the next one).
  cf::process_pool_executor ex(1, mp::get_context("fork"));
  corio_test::report_fifo f;
  auto running = ex.submit(corio_test::report_and_hang, f.path());
  ASSERT_GT(f.next_pid(), 0);
  auto a = ex.submit(square, 1);
  auto b = ex.submit(square, 2);
  auto c = ex.submit(square, 3);
  for (int i = 0; i < 6000 && !a.running(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(a.running());
  EXPECT_FALSE(running.cancel());
  EXPECT_FALSE(a.cancel());
  EXPECT_TRUE(b.cancel());
  EXPECT_TRUE(b.cancelled());
  ex.shutdown(false, true);
  EXPECT_TRUE(c.cancelled());
  ::kill(ex.worker_pids().at(0), SIGKILL);
  EXPECT_THROW(running.result(kBound), cf::broken_process_pool);
  EXPECT_THROW(a.result(kBound), cf::broken_process_pool);
  ex.shutdown();
}

TEST_F(mp_test, MP_54_shutdown_waits_for_running_and_queued_calls) {
  cf::process_pool_executor ex(1, mp::get_context("fork"));
  corio_test::report_fifo f;
  auto first = ex.submit(wait_for_fifo, f.path());
  auto second = ex.submit(square, 9);
  f.release();
  ex.shutdown();
  EXPECT_EQ(first.result(0s), 'x');
  EXPECT_EQ(second.result(0s), 81);
  EXPECT_THROW(ex.submit(square, 1), std::runtime_error);
}

// -- from a loop -----------------------------------------------------------------------

TEST_F(mp_test, run_in_executor_and_wrap_future_work_with_a_process_pool_beside_a_thread_pool) {
  cf::process_pool_executor procs(2, mp::get_context("fork"));
  cf::thread_pool_executor threads(2);
  const auto got = corio::run([&]() -> corio::task<std::vector<int>> {
    auto& loop = corio::get_running_loop();
    auto a = loop.run_in_executor(&procs, square, 6);
    auto b = loop.run_in_executor(&threads, [] { return 7; });
    auto c = corio::wrap_future(procs.submit(square, 8));
    std::vector<int> out;
    out.push_back(co_await a);
    out.push_back(co_await b);
    out.push_back(co_await c);
    co_return out;
  }());
  EXPECT_EQ(got, (std::vector<int>{36, 7, 64}));
}

TEST_F(mp_test, a_call_through_the_executor_base_class_is_refused_with_a_clear_error) {
  cf::process_pool_executor ex(1, mp::get_context("fork"));
  cf::executor& base = ex;
  try {
    base.submit(square, 2);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("process_pool_executor"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ex.submit(square, 2).result(kBound), 4);
}

CORIO_MP_TEST_MAIN()

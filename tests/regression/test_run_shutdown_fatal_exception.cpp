// corio::run called std::terminate when a task answered the shutdown's
// cancellation with a fatal exception (system_exit): runner::close() threw
// out of the runner's destructor. As asyncio.run raises SystemExit, the
// exception now reaches the caller, after the loop is closed.
#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <thread>

using namespace std::chrono_literals;

namespace {

corio::task<> exits_when_cancelled(int code) {
  try {
    co_await corio::sleep(1h);
  } catch (const corio::cancelled_error&) {
    throw corio::system_exit(code);
  }
}

corio::task<int> main_leaving_a_worker(int code) {
  corio::create_task(exits_when_cancelled(code));
  co_await corio::sleep(1ms);
  co_return 5;
}

TEST(RunShutdownFatalException, system_exit_raised_during_shutdown_reaches_the_caller_of_run) {
  try {
    corio::run(main_leaving_a_worker(3));
    FAIL() << "run returned";
  } catch (const corio::system_exit& e) {
    EXPECT_EQ(e.code(), 3);
  }
}

TEST(RunShutdownFatalException, the_shutdown_exception_wins_over_mains_own_exception) {
  auto failing_main = []() -> corio::task<> {
    corio::create_task(exits_when_cancelled(4));
    co_await corio::sleep(1ms);
    throw std::runtime_error("main failed");
  };
  try {
    corio::run(failing_main());
    FAIL() << "run returned";
  } catch (const corio::system_exit& e) {
    EXPECT_EQ(e.code(), 4);
  }
}

TEST(RunShutdownFatalException, a_runner_closed_explicitly_throws_it_and_its_destructor_does_not) {
  corio::runner r;
  EXPECT_EQ(r.run(main_leaving_a_worker(6)), 5);
  EXPECT_THROW(r.close(), corio::system_exit);
  r.close();  // idempotent
}

TEST(RunShutdownFatalException, a_runner_destroyed_without_close_does_not_terminate) {
  testing::internal::CaptureStderr();
  {
    corio::runner r;
    EXPECT_EQ(r.run(main_leaving_a_worker(7)), 5);
  }
  EXPECT_NE(testing::internal::GetCapturedStderr().find("system_exit"), std::string::npos);
}

corio::task<> quiet() { co_await corio::sleep(1ms); }

TEST(RunShutdownFatalException, std_thread_runs_corio_run_directly) {
  std::thread th(corio::run, quiet());
  th.join();
  auto f = [] { return quiet(); };
  std::thread th2(corio::run, f);
  th2.join();
  SUCCEED();
}

}  // namespace

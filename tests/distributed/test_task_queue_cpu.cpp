// CPU functions of the task queue (worker::register_cpu_function), run in
// the worker's own process pool on a real redis-server: results come back
// from another process; an exception is retried then dead-lettered; the
// loop runs other tasks while a CPU function computes; stop() waits for a
// running CPU task; a run over its time limit has its process killed; a
// pool process that dies fails its run, which is retried, and the pool goes
// on. The pool processes are forked (the default start method), and in one
// test spawned.
#include "error_util.hpp"
#include "loop_util.hpp"
#include "fork_util.hpp"
#include "io/io_util.hpp"
#include "multiprocessing_util.hpp"
#include "redis_util.hpp"
#include "subprocess_util.hpp"

#include <corio/distributed/task_queue.hpp>
#include <corio/multiprocessing/pool.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace cd = corio::distributed;
using corio_test::redis_server;
using corio_test::outcome;
using corio_test::run_io;
using corio_test::temp_dir;

cd::task_queue_options options_for(const redis_server& s) {
  cd::task_queue_options o;
  o.redis.port = s.port();
  o.read_block = 50ms;
  o.retry_backoff = 1ms;
  o.time_limit = 20s;
  o.visibility_timeout = 30s;
  o.cpu_processes = 2;
  return o;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void touch(const std::string& path, const std::string& text = {}) { std::ofstream(path) << text; }

// -- the CPU functions: they run in pool processes ---------------------------------

int square(int x) { return x * x; }
long long pid_of_caller(int) { return ::getpid(); }
std::string repeat(std::string s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}
int always_throws(int) { throw std::invalid_argument("the CPU function refuses"); }

// Creates `started`, then waits (bounded: 60 s) for `release` to exist.
int gated(std::string started, std::string release) {
  touch(started);
  for (int i = 0; i < 60000 && !exists(release); ++i) std::this_thread::sleep_for(1ms);
  return exists(release) ? 42 : -1;
}

// Writes its pid to `pid_file`, then computes for ever.
int never_ends(std::string pid_file) {
  touch(pid_file, std::to_string(::getpid()));
  volatile unsigned long spins = 0;
  for (;;) spins = spins + 1;
}

// The first run (no `marker` yet) kills its own process with SIGKILL.
int dies_once(std::string marker) {
  if (!exists(marker)) {
    touch(marker);
    ::raise(SIGKILL);
  }
  return 7;
}

int always_dies(int) {
  ::raise(SIGKILL);
  return 0;
}

TEST(task_queue_cpu, cpu_functions_run_in_pool_processes_and_their_results_come_back) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::worker w(options_for(s));
    w.register_cpu_function("square", square);
    w.register_cpu_function("pid", pid_of_caller);
    w.register_cpu_function("repeat", [](std::string a, int n) { return repeat(std::move(a), n); });
    auto running = corio::create_task(w.run());
    cd::submitter sub(options_for(s));
    std::vector<corio::task<int>> squares;
    for (int i = 0; i < 40; ++i) squares.push_back(sub.submit<int>("square", i));
    auto text = sub.submit<std::string>("repeat", std::string("a\0b", 3), 3);
    auto pid = sub.submit<long long>("pid", 0);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(co_await squares[i], i * i);
    EXPECT_EQ(co_await text, std::string("a\0ba\0ba\0b", 9));
    const long long worker_pid = co_await pid;
    EXPECT_NE(worker_pid, static_cast<long long>(::getpid()));
    EXPECT_GT(worker_pid, 0);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 42 && w.stats().in_flight == 0; }));
    w.stop();
    co_await running;
    EXPECT_EQ(w.stats().failed_runs, 0u);
    // run() stopped the pool: its processes were reaped.
    EXPECT_NE(::kill(static_cast<pid_t>(worker_pid), 0), 0);
  }(server), 60s);
}

TEST(task_queue_cpu, cpu_functions_run_in_spawned_pool_processes_too) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.cpu_context = corio::multiprocessing::get_context("spawn");
    cd::worker w(o);
    w.register_cpu_function("square", square);
    w.register_cpu_function("throws", always_throws);
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    std::vector<corio::task<int>> squares;
    for (int i = 0; i < 10; ++i) squares.push_back(sub.submit<int>("square", i));
    for (int i = 0; i < 10; ++i) EXPECT_EQ(co_await squares[i], i * i);
    const std::exception_ptr e = co_await outcome(sub.submit<int>("throws", 1));
    EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << corio_test::message_of(e);
    w.stop();
    co_await running;
  }(server), 90s);
}

TEST(task_queue_cpu, an_exception_of_a_cpu_function_is_retried_then_dead_lettered) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 3;
    cd::worker w(o);
    w.register_cpu_function("throws", always_throws);
    w.register_cpu_function("square", square);
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    const std::exception_ptr e = co_await outcome(sub.submit<int>("throws", 1));
    EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << corio_test::message_of(e);
    EXPECT_NE(corio_test::message_of(e).find("the CPU function refuses"), std::string::npos);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().retried == 2 && w.stats().dead_lettered == 1; }))
        << "retried " << w.stats().retried << ", dead-lettered " << w.stats().dead_lettered;
    EXPECT_EQ(w.stats().failed_runs, 3u);
    cd::redis_client c(o.redis);
    const cd::redis_reply dead = co_await c.command("XRANGE", "corio:dead", "-", "+");
    EXPECT_EQ(dead.as_array().size(), 1u);
    // An exception leaves its process in the pool, which goes on.
    EXPECT_EQ(co_await sub.submit<int>("square", 9), 81);
    w.stop();
    co_await running;
  }(server), 60s);
}

TEST(task_queue_cpu, the_loop_runs_other_tasks_while_a_cpu_function_computes) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  temp_dir dir;
  run_io([](const redis_server& s, const temp_dir& d) -> corio::task<void> {
    cd::worker w(options_for(s));
    w.register_cpu_function("gated", gated);
    w.register_function("add", [](int a, int b) { return a + b; });
    auto running = corio::create_task(w.run());
    cd::submitter sub(options_for(s));
    const std::string started = d.path() + "/started", release = d.path() + "/release";
    auto blocked = corio::create_task(sub.submit<int>("gated", started, release));
    EXPECT_TRUE(co_await corio_test::eventually([&] { return exists(started); }, 60s));
    // The CPU function cannot return before `release` exists: the loop
    // function's result comes while it runs.
    EXPECT_EQ(co_await sub.submit<int>("add", 2, 3), 5);
    EXPECT_FALSE(blocked.done());
    // The loop function is acknowledged (after its result went out); the
    // CPU one still runs.
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 1 && w.stats().in_flight == 1; }))
        << "done " << w.stats().done << ", in flight " << w.stats().in_flight;
    EXPECT_FALSE(blocked.done());
    touch(release);
    EXPECT_EQ(co_await blocked, 42);
    w.stop();
    co_await running;
  }(server, dir), 90s);
}

TEST(task_queue_cpu, a_stopped_worker_waits_for_its_running_cpu_task_before_run_returns) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  temp_dir dir;
  run_io([](const redis_server& s, const temp_dir& d) -> corio::task<void> {
    cd::worker w(options_for(s));
    w.register_cpu_function("gated", gated);
    auto running = corio::create_task(w.run());
    cd::submitter sub(options_for(s));
    const std::string started = d.path() + "/started", release = d.path() + "/release";
    auto blocked = corio::create_task(sub.submit<int>("gated", started, release));
    EXPECT_TRUE(co_await corio_test::eventually([&] { return exists(started); }, 60s));
    w.stop();
    // Bounded by the task's own wait for `release` (60 s).
    co_await corio::sleep(100ms);
    EXPECT_FALSE(running.done());
    touch(release);
    co_await running;
    EXPECT_EQ(w.stats().done, 1u);
    EXPECT_EQ(co_await blocked, 42);
  }(server, dir), 90s);
}

TEST(task_queue_cpu, a_cpu_function_over_its_time_limit_has_its_process_killed_and_the_pool_goes_on) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  temp_dir dir;
  run_io([](const redis_server& s, const temp_dir& d) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.time_limit = 300ms;
    o.visibility_timeout = 30s;
    o.max_attempts = 1;
    o.cpu_processes = 1;
    cd::worker w(o);
    w.register_cpu_function("never_ends", never_ends);
    w.register_cpu_function("square", square);
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    const std::string pid_file = d.path() + "/pid";
    const std::exception_ptr e = co_await outcome(sub.submit<int>("never_ends", pid_file));
    EXPECT_TRUE(corio_test::holds<corio::timeout_error>(e)) << corio_test::message_of(e);
    EXPECT_NE(corio_test::message_of(e).find("time limit of 300 ms"), std::string::npos) << corio_test::message_of(e);
    EXPECT_EQ(w.stats().failed_runs, 1u);
    pid_t pid = 0;
    std::ifstream(pid_file) >> pid;
    EXPECT_GT(pid, 0);
    // Killed and reaped (by a task of the pool's own, so after the reply).
    EXPECT_TRUE(co_await corio_test::eventually([&] { return pid > 0 && ::kill(pid, 0) != 0; }, 60s));
    // The one process of the pool was replaced.
    EXPECT_EQ(co_await sub.submit<int>("square", 12), 144);
    w.stop();
    co_await running;
  }(server, dir), 60s);
}

TEST(task_queue_cpu, a_pool_process_killed_mid_task_fails_the_run_which_is_retried_on_a_new_process) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  temp_dir dir;
  run_io([](const redis_server& s, const temp_dir& d) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 3;
    cd::worker w(o);
    w.register_cpu_function("dies_once", dies_once);
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    EXPECT_EQ(co_await sub.submit<int>("dies_once", d.path() + "/marker"), 7);
    EXPECT_EQ(w.stats().failed_runs, 1u);
    EXPECT_EQ(w.stats().retried, 1u);
    w.stop();
    co_await running;
  }(server, dir), 60s);
}

TEST(task_queue_cpu, a_cpu_function_whose_process_always_dies_is_dead_lettered_with_worker_lost_error) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 2;
    cd::worker w(o);
    w.register_cpu_function("always_dies", always_dies);
    w.register_cpu_function("square", square);
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    const std::exception_ptr e = co_await outcome(sub.submit<int>("always_dies", 1));
    const std::string m = corio_test::message_of(e);
    EXPECT_TRUE(corio_test::holds<corio::multiprocessing::worker_lost_error>(e)) << m;
    EXPECT_NE(m.find("killed by signal 9 (SIGKILL)"), std::string::npos) << m;
    EXPECT_NE(m.find("(always_dies)"), std::string::npos) << m;
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().dead_lettered == 1; }));
    EXPECT_EQ(w.stats().failed_runs, 2u);
    EXPECT_EQ(co_await sub.submit<int>("square", 5), 25);
    w.stop();
    co_await running;
  }(server), 60s);
}

}  // namespace

CORIO_MP_TEST_MAIN()

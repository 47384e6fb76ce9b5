// The task queue with worker processes and a broker that goes away:
// 10,000 tasks on three workers, each result exactly once and the workers
// stopped by SIGTERM; a worker killed (SIGKILL) mid-task, its task done once
// by another after the visibility timeout; Redis stopped and started again
// during a run, nothing lost.
#include "fork_util.hpp"
#include "io/io_util.hpp"
#include "redis_util.hpp"

#include <corio/distributed/task_queue.hpp>
#include <corio/runners.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace cd = corio::distributed;
using corio_test::children;
using corio_test::redis_server;
using corio_test::run_io;

cd::task_queue_options options_for(std::uint16_t port) {
  cd::task_queue_options o;
  o.redis.port = port;
  o.redis.unavailable_wait = 20s;
  o.redis.backoff_initial = 5ms;
  o.redis.backoff_max = 50ms;
  o.read_block = 50ms;
  o.time_limit = 400ms;
  o.visibility_timeout = 500ms;
  return o;
}

// Tasks taken and not acknowledged (0 before the group exists).
corio::task<long long> pending_count(cd::redis_client& c) {
  try {
    co_return (co_await c.command("XPENDING", "corio:tasks", "corio:workers"))[0].as_integer();
  } catch (const cd::redis_error&) {
    co_return 0;
  }
}

// A worker process: runs until SIGTERM, then records what it did under
// stats:done and exits 0.
int worker_process(std::uint16_t port, std::string name) {
  return corio::run([](std::uint16_t p, std::string n) -> corio::task<int> {
    const cd::task_queue_options o = options_for(p);
    cd::worker w(o, n);
    w.register_function("square", [](int x) { return x * x; });
    corio::get_running_loop().add_signal_handler(SIGTERM, [&w] { w.stop(); });
    cd::redis_client c(o.redis);
    co_await c.command("HSET", "ready", n, 1);  // SIGTERM stops it from now on
    co_await w.run();
    co_await c.command("HSET", "stats:done", n, w.stats().done);
    co_return 0;
  }(port, std::move(name)));
}

// Waits (bounded) until the hash `key` has n fields; how many it has.
corio::task<long long> wait_for_fields(cd::redis_client& c, const char* key, long long n) {
  long long have = 0;
  for (int i = 0; i < 2000; ++i) {
    have = (co_await c.command("HLEN", key)).as_integer();
    if (have >= n) break;
    co_await corio::sleep(5ms);
  }
  co_return have;
}

TEST(task_queue_processes, ten_thousand_tasks_on_three_worker_processes_give_every_result_exactly_once) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  children kids;
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    const std::uint16_t port = server.port();
    pids.push_back(kids.start([port, i] { return worker_process(port, "worker-" + std::to_string(i)); }));
  }
  run_io([](const redis_server& s, const std::vector<pid_t>& workers) -> corio::task<void> {
    const cd::task_queue_options o = options_for(s.port());
    cd::redis_client c(o.redis);
    EXPECT_EQ(co_await wait_for_fields(c, "ready", 3), 3);
    cd::submitter sub(o);
    std::vector<corio::task<int>> results;
    results.reserve(10000);
    for (int i = 0; i < 10000; ++i) results.push_back(sub.submit<int>("square", i));
    for (int i = 0; i < 10000; ++i) EXPECT_EQ(co_await results[i], i * i);
    EXPECT_EQ(sub.pending(), 0u);
    for (pid_t pid : workers) ::kill(pid, SIGTERM);
    // Each worker records its count as it stops.
    EXPECT_EQ(co_await wait_for_fields(c, "stats:done", 3), 3);
    const cd::redis_reply done = co_await c.command("HVALS", "stats:done");
    long long total = 0;
    for (const auto& v : done.as_array()) total += std::stoll(v.as_string());
    EXPECT_EQ(done.as_array().size(), 3u);
    EXPECT_EQ(total, 10000);  // no task ran twice
    EXPECT_EQ((co_await c.command("XPENDING", "corio:tasks", "corio:workers"))[0].as_integer(), 0);
  }(server, pids), 60s);
  for (pid_t pid : pids) EXPECT_EQ(kids.wait(pid, 20s), 0);
}

TEST(task_queue_processes, a_worker_killed_mid_task_has_its_task_done_once_by_another_after_the_visibility_timeout) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  children kids;
  const std::uint16_t port = server.port();
  // This worker takes the task and never finishes it.
  const pid_t doomed = kids.start([port] {
    return corio::run([](std::uint16_t p) -> corio::task<int> {
      cd::worker w(options_for(p), "doomed");
      w.register_function("job", [](int) -> int {
        for (;;) ::pause();
      });
      auto running = corio::create_task(w.run());
      cd::redis_client c(options_for(p).redis);
      // Ready once the group exists (the worker's first command makes it).
      for (int i = 0; i < 2000; ++i) {
        try {
          co_await c.command("XINFO", "GROUPS", "corio:tasks");
          break;
        } catch (const cd::redis_error&) {
        }
        co_await corio::sleep(5ms);
      }
      co_await c.command("HSET", "ready", "doomed", 1);
      co_await running;
      co_return 0;
    }(port));
  });
  run_io([](const redis_server& s, children& k, pid_t victim) -> corio::task<void> {
    const cd::task_queue_options o = options_for(s.port());
    cd::redis_client c(o.redis);
    EXPECT_EQ(co_await wait_for_fields(c, "ready", 1), 1);
    cd::submitter sub(o);
    auto result = sub.submit<int>("job", 41);
    // Wait until the doomed worker holds the task, then kill it.
    bool held = false;
    for (int i = 0; i < 2000 && !held; ++i) {
      held = co_await pending_count(c) == 1;
      if (!held) co_await corio::sleep(5ms);
    }
    EXPECT_TRUE(held);
    k.kill(victim);
    cd::worker w(o, "survivor");
    int runs = 0;
    w.register_function("job", [&runs](int x) {
      ++runs;
      return x + 1;
    });
    auto running = corio::create_task(w.run());
    EXPECT_EQ(co_await result, 42);
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(w.stats().reclaimed, 1u);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 1; }));
    EXPECT_EQ((co_await c.command("XPENDING", "corio:tasks", "corio:workers"))[0].as_integer(), 0);
    w.stop();
    co_await running;
  }(server, kids, doomed));
}

// The task runs while the test signals the worker and waits for it to say
// so: on a loaded sanitizer build that takes longer than options_for's
// 400 ms limit, which would fail the task and queue a retry nobody takes.
cd::task_queue_options graceful_options(std::uint16_t port) {
  cd::task_queue_options o = options_for(port);
  o.time_limit = 30s;
  o.visibility_timeout = 40s;
  return o;
}

TEST(task_queue_processes, sigterm_lets_the_running_task_finish_and_takes_no_new_one) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  redis_server server;
  children kids;
  const std::uint16_t port = server.port();
  const pid_t pid = kids.start([port] {
    return corio::run([](std::uint16_t p) -> corio::task<int> {
      const cd::task_queue_options o = graceful_options(p);
      cd::worker w(o, "graceful");
      cd::redis_client c(o.redis);
      // Says it started (a key), then finishes once the test says so (another
      // key appears), well within the time limit.
      w.register_function("wait_for_go", [&c](int x) -> corio::task<int> {
        co_await c.command("SET", "started", 1);
        for (int i = 0; i < 10000 && (co_await c.command("EXISTS", "go")).as_integer() == 0; ++i)
          co_await corio::sleep(1ms);
        co_return x * 2;
      });
      corio::get_running_loop().add_signal_handler(SIGTERM, [&w, &c] {
        w.stop();
        c.command("SET", "stopping", 1).add_done_callback([](auto& f) { (void)f.exception(); });
      });
      co_await c.command("HSET", "ready", "graceful", 1);
      co_await w.run();
      co_return w.stats().done == 1 ? 0 : 3;
    }(port));
  });
  run_io([](const redis_server& s, pid_t worker) -> corio::task<void> {
    const cd::task_queue_options o = graceful_options(s.port());
    cd::redis_client c(o.redis);
    EXPECT_EQ(co_await wait_for_fields(c, "ready", 1), 1);
    cd::submitter sub(o);
    auto first = sub.submit<int>("wait_for_go", 21);
    // Running, not only taken: a task the worker has read but not started
    // when the stop comes goes back to the queue (its XREADGROUP reply may
    // still be on its way when Redis counts the task pending).
    bool started = false;
    for (int i = 0; i < 2000 && !started; ++i) {
      started = (co_await c.command("EXISTS", "started")).as_integer() == 1;
      if (!started) co_await corio::sleep(5ms);
    }
    EXPECT_TRUE(started);
    ::kill(worker, SIGTERM);
    bool stopping = false;
    for (int i = 0; i < 2000 && !stopping; ++i) {
      stopping = (co_await c.command("EXISTS", "stopping")).as_integer() == 1;
      if (!stopping) co_await corio::sleep(5ms);
    }
    EXPECT_TRUE(stopping);
    auto second = sub.submit<int>("wait_for_go", 1);
    co_await c.command("SET", "go", 1);
    EXPECT_EQ(co_await first, 42);
    // The worker stops without taking the second task: it waits in the queue.
    cd::queue_stats st;
    for (int i = 0; i < 5000; ++i) {  // up to 10 s: sanitizer builds on a loaded machine are slow
      st = co_await cd::get_queue_stats(c);
      if (st.waiting == 1 && st.in_flight == 0) break;  // (the first is acknowledged after its result)
      co_await corio::sleep(2ms);
    }
    EXPECT_EQ(st.waiting, 1);
    EXPECT_EQ(st.in_flight, 0);
    sub.close();
    EXPECT_THROW(co_await second, corio::cancelled_error);
  }(server, pid), 60s);
  EXPECT_EQ(kids.wait(pid, 20s), 0);
}

TEST(task_queue_processes, redis_stopped_and_started_again_during_a_run_loses_no_task) {
  redis_server server(redis_server::options{.appendonly = true});
  run_io([](redis_server& s) -> corio::task<void> {
    const cd::task_queue_options o = options_for(s.port());
    cd::worker w(o);
    w.register_function("slow_square", [](int x) -> corio::task<int> {
      co_await corio::sleep(2ms);
      co_return x * x;
    });
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    cd::redis_client c(o.redis);
    std::vector<corio::task<int>> results;
    for (int i = 0; i < 300; ++i) results.push_back(sub.submit<int>("slow_square", i));
    // Once every task is in the stream, and some have run, the server stops.
    for (int i = 0; i < 2000 && (co_await c.command("XLEN", "corio:tasks")).as_integer() < 300; ++i)
      co_await corio::sleep(2ms);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done >= 20; }));
    s.stop();  // SIGTERM: the append-only log is written out
    // Submitted while the server is away: waits for it.
    for (int i = 300; i < 350; ++i) results.push_back(sub.submit<int>("slow_square", i));
    co_await corio::sleep(50ms);
    s.start();
    for (int i = 0; i < 350; ++i) EXPECT_EQ(co_await results[i], i * i) << i;
    EXPECT_EQ(sub.pending(), 0u);
    // A task whose acknowledgement the stop cut off is taken again after the
    // visibility timeout (its second result is ignored): then none is left.
    long long left = -1;
    for (int i = 0; i < 1000 && left != 0; ++i) {
      left = (co_await c.command("XPENDING", "corio:tasks", "corio:workers"))[0].as_integer();
      if (left != 0) co_await corio::sleep(5ms);
    }
    EXPECT_EQ(left, 0);
    w.stop();
    co_await running;
  }(server), 60s);
}

}  // namespace

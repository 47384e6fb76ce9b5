// corio::distributed's task queue on a real redis-server (redis_util.hpp):
// submit and collect, failures retried then dead-lettered, malformed and
// unknown tasks dead-lettered while the others flow, the time limit, a task
// left by a dead worker taken again after the visibility timeout, and a
// Python program (redis-py and msgpack) submitting to a corio worker.
#include "error_util.hpp"
#include "loop_util.hpp"
#include "io/io_util.hpp"
#include "redis_util.hpp"

#include <corio/distributed/task_queue.hpp>
#include <corio/locks.hpp>
#include <corio/subprocess.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace cd = corio::distributed;
using corio_test::redis_server;
using corio_test::outcome;
using corio_test::run_io;

cd::task_queue_options options_for(const redis_server& s) {
  cd::task_queue_options o;
  o.redis.port = s.port();
  o.read_block = 50ms;
  o.retry_backoff = 1ms;
  o.time_limit = 2s;
  o.visibility_timeout = 3s;
  return o;
}

void register_square(cd::worker& w) {
  w.register_function("square", [](int x) { return x * x; });
}

TEST(task_queue, submitted_tasks_run_on_a_worker_and_their_results_come_back) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::worker w(options_for(s));
    register_square(w);
    w.register_function("concat", [](std::string a, std::string b) -> corio::task<std::string> {
      co_await corio::sleep(1ms);
      co_return a + b;
    });
    auto running = corio::create_task(w.run());
    cd::submitter sub(options_for(s));
    std::vector<corio::task<int>> results;
    for (int i = 0; i < 200; ++i) results.push_back(sub.submit<int>("square", i));
    auto joined = sub.submit<std::string>("concat", std::string("ab"), std::string("\0c", 2));
    for (int i = 0; i < 200; ++i) EXPECT_EQ(co_await results[i], i * i);
    EXPECT_EQ(co_await joined, std::string("ab\0c", 4));
    EXPECT_EQ(sub.pending(), 0u);
    // The result reaches the submitter before the worker's XACK returns.
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 201 && w.stats().in_flight == 0; }));
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, a_poison_task_is_retried_then_dead_lettered_while_the_others_flow) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 3;
    cd::worker w(o);
    register_square(w);
    int runs = 0;
    w.register_function("poison", [&runs](int) -> int {
      ++runs;
      throw std::invalid_argument("poison always throws");
    });
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    auto bad = sub.submit<int>("poison", 1);
    std::vector<corio::task<int>> good;
    for (int i = 0; i < 50; ++i) good.push_back(sub.submit<int>("square", i));
    const std::exception_ptr e = co_await outcome(std::move(bad));
    EXPECT_TRUE(corio_test::holds<std::invalid_argument>(e)) << corio_test::message_of(e);
    EXPECT_NE(corio_test::message_of(e).find("poison always throws"), std::string::npos);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(co_await good[i], i * i);
    EXPECT_EQ(runs, 3);
    // The worker counts each step once Redis has confirmed it, which may be
    // after the submitter saw the result.
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().retried == 2 && w.stats().dead_lettered == 1; }))
        << "retried " << w.stats().retried << ", dead-lettered " << w.stats().dead_lettered;
    cd::redis_client c(o.redis);
    const cd::redis_reply dead = co_await c.command("XRANGE", "corio:dead", "-", "+");
    EXPECT_EQ(dead.as_array().size(), 1u);
    if (dead.as_array().size() == 1) {
      const auto& f = dead[0][1].as_array();
      bool has_error = false;
      for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str == "error") has_error = f[i + 1].str.find("poison always throws") != std::string::npos;
      }
      EXPECT_TRUE(has_error);
    }
    // The acknowledgements of a loop turn go out together after the replies.
    long long pending = -1;
    for (int i = 0; i < 500 && pending != 0; ++i) {
      pending = (co_await c.command("XPENDING", "corio:tasks", "corio:workers"))[0].as_integer();
      if (pending != 0) co_await corio::sleep(10ms);
    }
    EXPECT_EQ(pending, 0);
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, malformed_and_unknown_tasks_are_dead_lettered_and_the_worker_goes_on) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    const cd::task_queue_options o = options_for(s);
    cd::worker w(o);
    register_square(w);
    auto running = corio::create_task(w.run());
    cd::redis_client c(o.redis);
    co_await c.command("XADD", "corio:tasks", "*", "garbage", "\xff\x00");
    co_await c.command("XADD", "corio:tasks", "*", "id", "x1", "fn", "square", "args", "\xc1");  // not msgpack
    cd::submitter sub(o);
    auto unknown = sub.submit<int>("no_such_function", 1);
    auto wrong_args = sub.submit<int>("square", std::string("not an int"));
    auto fine = sub.submit<int>("square", 12);
    EXPECT_EQ(co_await fine, 144);
    const std::exception_ptr e1 = co_await outcome(std::move(unknown));
    EXPECT_TRUE(corio_test::holds<cd::task_failed>(e1)) << corio_test::message_of(e1);
    EXPECT_NE(corio_test::message_of(e1).find("no_such_function"), std::string::npos);
    const std::exception_ptr e2 = co_await outcome(std::move(wrong_args));
    EXPECT_TRUE(corio_test::holds<corio::multiprocessing::codec_error>(e2)) << corio_test::message_of(e2);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().dead_lettered == 4; }));
    EXPECT_EQ((co_await c.command("XLEN", "corio:dead")).as_integer(), 4);
    EXPECT_EQ(w.stats().retried, 0u);  // what cannot decode is not run again
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, a_run_over_the_time_limit_fails_with_timeout_error) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.time_limit = 50ms;
    o.max_attempts = 2;
    cd::worker w(o);
    w.register_function("slow", [](int) -> corio::task<int> {
      co_await corio::sleep(10s);
      co_return 0;
    });
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    const std::exception_ptr e = co_await outcome(sub.submit<int>("slow", 1));
    EXPECT_TRUE(corio_test::holds<corio::timeout_error>(e)) << corio_test::message_of(e);
    EXPECT_EQ(w.stats().failed_runs, 2u);
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, a_task_taken_by_a_worker_that_died_runs_on_another_after_the_visibility_timeout) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.time_limit = 100ms;
    o.visibility_timeout = 300ms;
    cd::redis_client c(o.redis);
    co_await c.command("XGROUP", "CREATE", "corio:tasks", "corio:workers", "0", "MKSTREAM");
    cd::submitter sub(o);
    auto result = sub.submit<int>("square", 9);
    // A worker takes the task and dies before acknowledging it.
    const cd::redis_reply taken = co_await c.command("XREADGROUP", "GROUP", "corio:workers", "dead-worker",
                                                     "COUNT", 10, "BLOCK", 10000, "STREAMS", "corio:tasks", ">");
    EXPECT_EQ(taken[0][1].as_array().size(), 1u);
    cd::worker w(o, "live-worker");
    register_square(w);
    auto running = corio::create_task(w.run());
    EXPECT_EQ(co_await result, 81);
    EXPECT_EQ(w.stats().reclaimed, 1u);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 1; }));
    EXPECT_EQ((co_await c.command("XPENDING", "corio:tasks", "corio:workers"))[0].as_integer(), 0);
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, results_are_stored_by_task_id_with_a_time_to_live) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.result_ttl = 60s;
    cd::worker w(o);
    register_square(w);
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    EXPECT_EQ(co_await sub.submit<int>("square", 5), 25);
    cd::redis_client c(o.redis);
    const cd::redis_reply keys = co_await c.command("KEYS", "corio:result:*");
    EXPECT_EQ(keys.as_array().size(), 1u);
    if (keys.as_array().size() == 1) {
      EXPECT_EQ(corio::multiprocessing::decode<int>((co_await c.command("GET", keys[0].str)).as_string()), 25);
      const long long ttl = (co_await c.command("PTTL", keys[0].str)).as_integer();
      EXPECT_GT(ttl, 0);
      EXPECT_LE(ttl, 60000);
    }
    EXPECT_GT((co_await c.command("PTTL", sub.reply_stream())).as_integer(), 0);
    w.stop();
    co_await running;
  }(server));
}

// The fields of a stream entry ([id, [f1, v1, ...]]) by name.
std::vector<std::string> field_names(const cd::redis_reply& entry) {
  std::vector<std::string> names;
  const auto& kv = entry[1].as_array();
  for (std::size_t i = 0; i < kv.size(); i += 2) names.push_back(kv[i].str);
  return names;
}

TEST(task_queue, without_stored_results_no_result_key_is_written_and_results_still_come_back) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.store_results = false;
    cd::redis_client c(o.redis);
    cd::submitter sub(o);
    auto first = sub.submit<int>("square", 3);
    // A first run's entry carries no `attempt` (absent means 1).
    const cd::redis_reply added = co_await c.command("XREAD", "BLOCK", 10000, "STREAMS", "corio:tasks", "0");
    EXPECT_EQ(field_names(added[0][1][0]), (std::vector<std::string>{"id", "fn", "args", "reply"}));
    cd::worker w(o);
    register_square(w);
    auto running = corio::create_task(w.run());
    std::vector<corio::task<int>> results;
    for (int i = 0; i < 50; ++i) results.push_back(sub.submit<int>("square", i));
    EXPECT_EQ(co_await first, 9);
    for (int i = 0; i < 50; ++i) EXPECT_EQ(co_await results[i], i * i);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 51; }));
    EXPECT_EQ((co_await c.command("KEYS", "corio:result:*")).as_array().size(), 0u);
    EXPECT_EQ((co_await c.command("XLEN", sub.reply_stream())).as_integer(), 51);
    EXPECT_GT((co_await c.command("PTTL", sub.reply_stream())).as_integer(), 0);
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, a_task_with_an_empty_reply_field_is_answered_nowhere_and_retried_without_one) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 2;
    cd::worker w(o);
    w.register_function("fails", [](int) -> int { throw std::runtime_error("always"); });
    auto running = corio::create_task(w.run());
    cd::redis_client c(o.redis);
    co_await c.command("XADD", "corio:tasks", "*", "id", "t1", "fn", "fails", "args",
                       corio::multiprocessing::encode(std::tuple<int>(1)), "reply", "");
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().dead_lettered == 1; }));
    // No stream under the empty key was written to.
    EXPECT_EQ((co_await c.command("EXISTS", "")).as_integer(), 0);
    const cd::redis_reply dead = co_await c.command("XRANGE", "corio:dead", "-", "+");
    EXPECT_EQ(dead.as_array().size(), 1u);
    if (dead.as_array().size() == 1) {
      EXPECT_EQ(field_names(dead[0]), (std::vector<std::string>{"entry", "error", "id", "fn", "args", "attempt"}));
    }
    w.stop();
    co_await running;
  }(server));
}

TEST(task_queue, queue_stats_and_the_command_line_tool_show_waiting_in_flight_retried_and_dead) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 2;
    cd::redis_client c(o.redis);
    {
      const cd::queue_stats empty = co_await cd::get_queue_stats(c);
      EXPECT_EQ(empty.waiting + empty.in_flight + empty.retried + empty.dead_lettered, 0);
    }
    cd::worker w(o);
    w.register_function("poison", [](int) -> int { throw std::runtime_error("no"); });
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    EXPECT_TRUE(corio_test::holds<std::runtime_error>(co_await outcome(sub.submit<int>("poison", 1))));
    w.stop();
    co_await running;
    for (int i = 0; i < 3; ++i) (void)sub.submit_raw("nobody_runs_this", "\x90");  // no worker now
    cd::queue_stats st;
    for (int i = 0; i < 1000; ++i) {
      st = co_await cd::get_queue_stats(c);
      if (st.waiting == 3 && st.dead_lettered == 1) break;
      co_await corio::sleep(2ms);
    }
    EXPECT_EQ(st.waiting, 3);
    EXPECT_EQ(st.in_flight, 0);
    EXPECT_EQ(st.retried, 1);
    EXPECT_EQ(st.dead_lettered, 1);
    corio::process_options po;
    po.stdout = corio::subprocess::pipe;
    std::vector<std::string> args;
    args.push_back("--port");
    args.push_back(std::to_string(s.port()));
    corio::process p = co_await corio::create_subprocess_exec(CORIO_TASKQ_STATS, std::move(args), po);
    const corio::subprocess::communicate_result outs = co_await p.communicate();
    std::string text;
    if (outs.first) text.assign(reinterpret_cast<const char*>(outs.first->data()), outs.first->size());
    EXPECT_EQ(co_await p.wait(), 0);
    EXPECT_NE(text.find("waiting        3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("retried        1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("dead-lettered  1\n"), std::string::npos) << text;
    sub.close();
  }(server));
}

// Acknowledged tasks are not deleted one by one: the workers trim the stream
// below the oldest pending entry every so many acknowledgements and when
// they stop. A trim never drops a task still waiting or running, and the
// queue's depth comes from the group's lag, not from the stream's length.
TEST(task_queue, acknowledged_tasks_are_trimmed_from_the_stream_and_waiting_ones_are_kept) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.concurrency = 1;
    o.visibility_timeout = 60s;  // no reclaim round (nor its trim) during the test
    cd::worker w(o);
    register_square(w);
    corio::event gate;
    w.register_function("gated", [&gate](int x) -> corio::task<int> {
      co_await gate.wait();
      co_return x;
    });
    auto running = corio::create_task(w.run());
    cd::submitter sub(o);
    cd::redis_client c(o.redis);
    std::vector<corio::task<int>> squares;
    for (int i = 0; i < 1200; ++i) squares.push_back(sub.submit<int>("square", i));
    for (int i = 0; i < 1200; ++i) EXPECT_EQ(co_await squares[i], i * i) << i;
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().done == 1200 && w.stats().in_flight == 0; }));
    // One trim after the first 1,000 acknowledgements at the latest.
    long long length = -1;
    for (int i = 0; i < 1000 && length != 200; ++i) {
      length = (co_await c.command("XLEN", "corio:tasks")).as_integer();
      if (length > 200) co_await corio::sleep(5ms);
    }
    EXPECT_LE(length, 200);
    // One task held running, three behind it (concurrency 1), and the
    // acknowledged entries not trimmed yet still in the stream.
    auto held = sub.submit<int>("gated", 7);
    EXPECT_TRUE(co_await corio_test::eventually([&] { return w.stats().in_flight == 1; }));
    std::vector<corio::task<int>> behind;
    for (int i = 0; i < 3; ++i) behind.push_back(sub.submit<int>("square", 10 + i));
    // Once the three are in the stream (entries-added counts every XADD).
    for (int i = 0; i < 1000; ++i) {
      const cd::redis_reply info = co_await c.command("XINFO", "STREAM", "corio:tasks");
      long long added = 0;
      for (std::size_t k = 0; k + 1 < info.as_array().size(); k += 2) {
        if (info[k].as_string() == "entries-added") added = info[k + 1].as_integer();
      }
      if (added == 1204) break;
      co_await corio::sleep(2ms);
    }
    cd::queue_stats st = co_await cd::get_queue_stats(c);
    EXPECT_EQ(st.waiting, 3);
    EXPECT_EQ(st.in_flight, 1);
    gate.set();
    EXPECT_EQ(co_await held, 7);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(co_await behind[i], (10 + i) * (10 + i));
    w.stop();
    co_await running;
    // The last trim, when the worker stopped, left nothing behind.
    EXPECT_EQ((co_await c.command("XLEN", "corio:tasks")).as_integer(), 0);
    EXPECT_EQ((co_await cd::get_queue_stats(c)).waiting, 0);
    // A task added now waits for the next worker; nothing trims it.
    (void)sub.submit_raw("square", "\x91\x03");
    for (int i = 0; i < 1000 && st.waiting != 1; ++i) {
      st = co_await cd::get_queue_stats(c);
      if (st.waiting != 1) co_await corio::sleep(2ms);
    }
    EXPECT_EQ(st.waiting, 1);
    cd::worker next(o);
    register_square(next);
    auto again = corio::create_task(next.run());
    EXPECT_TRUE(co_await corio_test::eventually([&] { return next.stats().done == 1; }));
    next.stop();
    co_await again;
    EXPECT_EQ((co_await c.command("XLEN", "corio:tasks")).as_integer(), 0);
  }(server));
}

// A Python program submits with redis-py and msgpack, as docs/design.md
// describes the layout, and reads the result from its reply stream.
constexpr const char* python_submitter = R"PY(
import sys, msgpack, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
r.xadd("corio:tasks", {"id": "py-1", "fn": "square", "args": msgpack.packb([7]),
                       "reply": "corio:replies:py", "attempt": 1})
r.xadd("corio:tasks", {"id": "py-2", "fn": "fails", "args": msgpack.packb(["why"]),
                       "reply": "corio:replies:py"})  # no attempt: the first run
got, last = {}, "0"
while len(got) < 2:
    for _, entries in r.xread({"corio:replies:py": last}, block=10000) or []:
        for eid, f in entries:
            last = eid
            got[f[b"id"].decode()] = (f[b"status"].decode(), msgpack.unpackb(f[b"result"]))
assert got["py-1"] == ("ok", 49), got
status, err = got["py-2"]
assert status == "error" and err["type"] == "std::runtime_error" and err["message"] == "why", got
print("python ok")
)PY";

TEST(task_queue, a_python_program_with_redis_py_and_msgpack_submits_to_a_corio_worker) {
  redis_server server;
  run_io([](const redis_server& s) -> corio::task<void> {
    cd::task_queue_options o = options_for(s);
    o.max_attempts = 1;
    cd::worker w(o);
    register_square(w);
    w.register_function("fails", [](std::string why) -> int { throw std::runtime_error(why); });
    auto running = corio::create_task(w.run());
    corio::process_options po;
    po.stdout = corio::subprocess::pipe;
    po.stderr = corio::subprocess::stdout;
    // Debian's python3, where python3-redis and python3-msgpack install (not
    // another python3 earlier on PATH). (An initializer list in a co_await
    // expression trips GCC 12.)
    std::vector<std::string> args;
    args.push_back("-c");
    args.push_back(python_submitter);
    args.push_back(std::to_string(s.port()));
    corio::process p = co_await corio::create_subprocess_exec("/usr/bin/python3", std::move(args), po);
    const corio::subprocess::communicate_result outs = co_await p.communicate();
    const auto& out = outs.first;
    std::string text;
    if (out) text.assign(reinterpret_cast<const char*>(out->data()), out->size());
    EXPECT_EQ(co_await p.wait(), 0) << text;
    EXPECT_NE(text.find("python ok"), std::string::npos) << text;
    w.stop();
    co_await running;
  }(server));
}

}  // namespace

// The defaults must satisfy the worker's own rule (visibility_timeout above
// time_limit): a worker made with no options at all is accepted.
TEST(task_queue, a_worker_with_the_default_options_is_accepted) {
  const cd::task_queue_options o;
  EXPECT_GT(o.visibility_timeout, o.time_limit);
  std::string error;
  try {
    cd::worker w;
    EXPECT_FALSE(w.consumer().empty());
  } catch (const std::invalid_argument& e) {
    error = e.what();
  }
  EXPECT_EQ(error, "");
}

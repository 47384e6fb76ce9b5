// W13 managers (docs/benchmarks.md), the peer of bench/python/w13_managers.py
// (CPython's multiprocessing.managers with fork). Process start-up (the
// manager's server, the workers connecting) is not timed.
//
//   --mode dict    W13a: this process does N operations (default 100,000) on
//                  a dict held by a manager's server process, alternating a
//                  store d[k] = k and a load d[k] (N/2 of each).
//   --mode queue   W13b: a base_manager server on 127.0.0.1 (a free port)
//                  with an authkey serves a task queue and a result queue
//                  (register_queue, the classic distributed-queue pattern);
//                  this process puts N small tasks (default 100,000), 2
//                  worker processes connected over TCP take each, square it
//                  and put (n, n*n) back, and this process collects them all.
//                  End to end, from the first put to the last result.
//   --mode pipelined  W13b with awaitable calls: the master puts and gets
//                  through a window of outstanding put_async and get_async
//                  calls (kWindow), each worker keeps a window of get_async
//                  calls and puts its results with put_async, so concurrent
//                  calls are pipelined on one connection per lane.
//   --mode rtt     W13b latency: the same, one task at a time (put, wait for
//                  its result), N round trips (default 10,000).
//   --mode rtt-pipelined  the same with awaitable calls: the master sends
//                  the put and the get of a task together, and each worker
//                  keeps one get outstanding and sends its result's put
//                  with its next get.
//
// `--pin cpu0` runs every process on CPU 0 (the children inherit it), as
// `taskset -c 0` would: on this VM waking a process on the other, idle
// vCPU costs more than the software does.
//
// Usage: w13_managers [--mode dict|queue|pipelined|rtt|rtt-pipelined] [N] [--pin cpu0]
#include "ipc_util.hpp"
#include "proc_stat.hpp"

#include <corio/multiprocessing.hpp>
#include <corio/runners.hpp>

#include <sys/resource.h>

#include <cstdint>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace mp = corio::multiprocessing;

namespace {

const std::string kAuthkey = "corio-bench-w13";

void run_dict(std::int64_t n) {
  mp::sync_manager m;
  m.start();
  auto d = m.dict<std::int64_t, std::int64_t>();
  const pid_t server = m.server_pid().value_or(-1);
  const std::int64_t half = n / 2;
  const double s0 = bench::cpu_of(server);
  bench::stopwatch sw;
  std::int64_t sum = 0;
  for (std::int64_t k = 0; k < half; ++k) {
    d.set(k, k);
    sum += d.at(k);
  }
  const double wall = sw.wall_s(), cpu = sw.cpu_s();
  const double server_cpu = bench::cpu_of(server) - s0;
  bench::check(sum == half * (half - 1) / 2 && static_cast<std::int64_t>(d.size()) == half, "every value stored and read back");
  m.shutdown();
  bench::line("W13a manager_dict")
      .str("impl", "corio")
      .num("N", n)
      .str("pin", bench::pin_tag())
      .num("ops_per_s", double(n) / wall)
      .num("us_per_op", wall * 1e6 / double(n))
      .num("wall_s", wall)
      .num("client_cpu_s", cpu)
      .num("server_cpu_s", server_cpu)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

using result = std::pair<std::int64_t, std::int64_t>;

void worker(mp::address address) {
  mp::base_manager m(address, kAuthkey);
  m.connect();
  auto tasks = m.make<mp::queue_proxy<std::int64_t>>("get_task_queue");
  auto results = m.make<mp::queue_proxy<result>>("get_result_queue");
  for (std::int64_t t; (t = tasks.get()) >= 0;) results.put({t, t * t});
}

// Outstanding awaitable calls per lane and process in --mode pipelined.
constexpr std::size_t kWindow = 64;

// Awaits the oldest of `calls` once more than kWindow are outstanding.
template <class T>
corio::task<void> bound(std::deque<corio::task<T>>& calls) {
  while (calls.size() > kWindow) {
    co_await calls.front();
    calls.pop_front();
  }
}

corio::task<void> pipelined_worker(mp::queue_proxy<std::int64_t> tasks, mp::queue_proxy<result> results,
                                   std::size_t window) {
  std::deque<corio::task<std::int64_t>> gets;
  std::deque<corio::task<void>> puts;
  for (std::size_t i = 0; i < window; ++i) gets.push_back(corio::create_task(tasks.get_async()));
  bool stopping = false;
  while (!gets.empty()) {
    const std::int64_t t = co_await gets.front();
    gets.pop_front();
    if (t < 0) {
      stopping = true;  // the gets still outstanding take a stop each
      continue;
    }
    if (!stopping) gets.push_back(corio::create_task(tasks.get_async()));
    puts.push_back(corio::create_task(results.put_async({t, t * t})));
    co_await bound(puts);
  }
  for (auto& p : puts) co_await p;
}

void worker_pipelined(mp::address address, std::size_t window) {
  mp::base_manager m(address, kAuthkey);
  m.connect();
  auto tasks = m.make<mp::queue_proxy<std::int64_t>>("get_task_queue");
  auto results = m.make<mp::queue_proxy<result>>("get_result_queue");
  corio::run(pipelined_worker(tasks, results, window));
}

corio::task<void> pipelined_puts(mp::queue_proxy<std::int64_t> tasks, std::int64_t n) {
  std::deque<corio::task<void>> puts;
  for (std::int64_t i = 0; i < n; ++i) {
    puts.push_back(corio::create_task(tasks.put_async(i)));
    co_await bound(puts);
  }
  for (auto& p : puts) co_await p;
}

corio::task<std::int64_t> pipelined_master(mp::queue_proxy<std::int64_t> tasks, mp::queue_proxy<result> results,
                                           std::int64_t n) {
  auto putting = corio::create_task(pipelined_puts(tasks, n));
  std::deque<corio::task<result>> gets;
  std::int64_t sum = 0, asked = 0;
  for (; asked < n && gets.size() < kWindow; ++asked) gets.push_back(corio::create_task(results.get_async()));
  while (!gets.empty()) {
    sum += (co_await gets.front()).second;
    gets.pop_front();
    if (asked < n) {
      gets.push_back(corio::create_task(results.get_async()));
      ++asked;
    }
  }
  co_await putting;
  co_return sum;
}

// One task at a time, its put and the get of its result sent together.
corio::task<std::int64_t> pipelined_round_trips(mp::queue_proxy<std::int64_t> tasks, mp::queue_proxy<result> results,
                                                std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto put = corio::create_task(tasks.put_async(i));
    sum += (co_await results.get_async()).second;
    co_await put;
  }
  co_return sum;
}

void run_queue(std::int64_t n, bool rtt, bool pipelined = false) {
  mp::base_manager m(mp::address("127.0.0.1", 0), kAuthkey);
  m.register_queue("get_task_queue");
  m.register_queue("get_result_queue");
  m.start();
  auto tasks = m.make<mp::queue_proxy<std::int64_t>>("get_task_queue");
  auto results = m.make<mp::queue_proxy<result>>("get_result_queue");
  std::deque<mp::process> ws;  // a process does not move
  // Gets each pipelined worker keeps outstanding.
  const std::size_t window = rtt ? 1 : kWindow;
  for (int i = 0; i < 2; ++i) {
    if (pipelined)
      ws.emplace_back(worker_pipelined, m.address(), window);
    else
      ws.emplace_back(worker, m.address());
  }
  for (auto& w : ws) w.start();
  // Both workers connected and waiting before the clock starts.
  tasks.put(0);
  tasks.put(0);
  (void)results.get();
  (void)results.get();
  const pid_t server = m.server_pid().value_or(-1);
  const double s0 = bench::cpu_of(server);
  double w0 = 0;
  for (auto& w : ws) w0 += bench::cpu_of(*w.pid());
  bench::stopwatch sw;
  std::int64_t sum = 0;
  if (pipelined && rtt) {
    sum = corio::run(pipelined_round_trips(tasks, results, n));
  } else if (pipelined) {
    sum = corio::run(pipelined_master(tasks, results, n));
  } else if (rtt) {
    for (std::int64_t i = 0; i < n; ++i) {
      tasks.put(i);
      sum += results.get().second;
    }
  } else {
    for (std::int64_t i = 0; i < n; ++i) tasks.put(i);
    for (std::int64_t i = 0; i < n; ++i) sum += results.get().second;
  }
  const double wall = sw.wall_s(), cpu = sw.cpu_s();
  const double server_cpu = bench::cpu_of(server) - s0;
  double workers_cpu = -w0;
  for (auto& w : ws) workers_cpu += bench::cpu_of(*w.pid());
  std::int64_t want = 0;
  for (std::int64_t i = 0; i < n; ++i) want += i * i;
  bench::check(sum == want, "every task's square came back once");
  // A pipelined worker has up to `window` gets outstanding, each takes a stop.
  const std::size_t stops = ws.size() * (pipelined ? window : 1);
  for (std::size_t i = 0; i < stops; ++i) tasks.put(-1);
  for (auto& w : ws) {
    w.join();
    bench::check(w.exitcode() == 0, "the workers exit with 0");
  }
  m.shutdown();
  auto line = bench::line(rtt ? "W13b remote_queue_rtt" : "W13b remote_queue");
  line.str("impl", pipelined ? "corio:pipelined" : "corio").num("N", n).str("pin", bench::pin_tag()).num("workers", std::int64_t{2});
  if (rtt) {
    line.num("us_per_roundtrip", wall * 1e6 / double(n));
  } else {
    line.num("items_per_s", double(n) / wall).num("us_per_item", wall * 1e6 / double(n));
  }
  if (pipelined) line.num("window", static_cast<std::int64_t>(window));
  line.num("wall_s", wall)
      .num("master_cpu_s", cpu)
      .num("server_cpu_s", server_cpu)
      .num("workers_cpu_s", workers_cpu)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

}  // namespace

int main(int argc, char** argv) {
  mp::freeze_support();
  std::string mode = "dict";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
      mode = argv[++i];
    } else {
      rest.push_back(argv[i]);
    }
  }
  bench::check(mode == "dict" || mode == "queue" || mode == "pipelined" || mode == "rtt" || mode == "rtt-pipelined",
               "--mode is dict, queue, pipelined, rtt or rtt-pipelined");
  const std::int64_t n =
      bench::parse_ipc_args(static_cast<int>(rest.size()), rest.data(), mode.starts_with("rtt") ? 10'000 : 100'000).n;
  if (mode == "dict") {
    run_dict(n);
  } else {
    run_queue(n, mode.starts_with("rtt"), mode == "pipelined" || mode == "rtt-pipelined");
  }
}

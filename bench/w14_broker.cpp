// W14 broker_queue (docs/benchmarks.md): N tasks n -> n*n go from a
// submitter in this process through a private redis-server to 2 worker
// processes, each running a corio::distributed::worker on its own loop, and
// their results come back. Timed from the first submit to the last result;
// process and redis-server start are not timed. Every result must come back
// exactly once with the right value.
//
//   w14_broker [N=100000] [--aof] [--result-key on|off]
//     --aof: --appendonly yes --appendfsync everysec
//     --result-key: task_queue_options::store_results of the workers (default: on, the default)
#include "bench_util.hpp"
#include "proc_stat.hpp"

#include <corio/testing/redis_server.hpp>

#include <corio/distributed/task_queue.hpp>
#include <corio/corio.hpp>

#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace cd = corio::distributed;

constexpr int kWorkers = 2;
bool store_results = cd::task_queue_options{}.store_results;  // set by main() before the fork

cd::task_queue_options options_for(std::uint16_t port) {
  cd::task_queue_options o;
  o.redis.port = port;
  o.name = "w14";
  o.concurrency = 256;  // tasks in flight per worker: enough to fill batches of reads and writes
  o.read_block = 100ms;
  o.time_limit = 10s;  // below the visibility timeout (30 s), as the worker requires
  o.store_results = store_results;
  return o;
}

// A worker process: runs until SIGTERM.
int worker_process(std::uint16_t port, int k) {
  return corio::run([](std::uint16_t p, int id) -> corio::task<int> {
    const cd::task_queue_options o = options_for(p);
    std::string name = "w";
    name += std::to_string(id);
    cd::worker w(o, std::move(name));
    w.register_function("square", [](long long x) { return x * x; });
    corio::get_running_loop().add_signal_handler(SIGTERM, [&w] { w.stop(); });
    {
      cd::redis_client c(o.redis);
      co_await c.command("INCR", "w14:ready");  // SIGTERM stops it from now on
    }
    co_await w.run();
    co_return 0;
  }(port, k));
}

struct timed {
  double wall_s = 0, master_cpu_s = 0;
};

corio::task<timed> master(std::uint16_t port, long long n) {
  const cd::task_queue_options o = options_for(port);
  cd::redis_client c(o.redis);
  for (int i = 0; i < 20000; ++i) {  // workers connected (bounded: 100 s)
    const cd::redis_reply r = co_await c.command("GET", "w14:ready");
    if (!r.is_nil() && std::stoi(r.as_string()) >= kWorkers) break;
    bench::check(i + 1 < 20000, "workers ready within 100 s");
    co_await corio::sleep(5ms);
  }
  cd::submitter s(o);
  co_await c.command("PING");
  bench::stopwatch sw;
  std::vector<corio::task<long long>> results;
  results.reserve(static_cast<std::size_t>(n));
  for (long long i = 0; i < n; ++i) results.push_back(s.submit<long long>("square", i));
  long long got = 0;
  bool right = true;
  for (long long i = 0; i < n; ++i) {
    const long long r = co_await results[static_cast<std::size_t>(i)];
    right = right && r == i * i;
    ++got;
  }
  timed t{sw.wall_s(), sw.cpu_s()};
  bench::check(right && got == n && s.pending() == 0, "every result came back once with n*n");
  co_return t;
}

}  // namespace

int main(int argc, char** argv) {
  long long n = 100000;
  bool aof = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--aof") == 0) {
      aof = true;
    } else if (std::strcmp(argv[i], "--result-key") == 0 && i + 1 < argc &&
               (std::strcmp(argv[i + 1], "on") == 0 || std::strcmp(argv[i + 1], "off") == 0)) {
      store_results = std::strcmp(argv[++i], "on") == 0;
    } else {
      char* end = nullptr;
      n = std::strtoll(argv[i], &end, 10);
      if (*end || n < 1) {
        std::fprintf(stderr, "usage: %s [N] [--aof] [--result-key on|off]\n", argv[0]);
        return 2;
      }
    }
  }
  corio::testing::redis_server server({.appendonly = aof});
  std::vector<pid_t> workers;
  for (int k = 0; k < kWorkers; ++k) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    bench::check(pid >= 0, "fork");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::_exit(worker_process(server.port(), k));
    }
    workers.push_back(pid);
  }
  const double redis_cpu0 = bench::cpu_of(server.pid());
  std::vector<double> worker_cpu0;
  for (pid_t w : workers) worker_cpu0.push_back(bench::cpu_of(w));
  // cpu_of() of the workers before the first submit: they may still be starting, which is not timed.
  const timed t = corio::run(master(server.port(), n));
  const double redis_cpu = bench::cpu_of(server.pid()) - redis_cpu0;
  double workers_cpu = 0;
  long rss = bench::peak_rss_kb();
  for (std::size_t k = 0; k < workers.size(); ++k) {
    workers_cpu += bench::cpu_of(workers[k]) - worker_cpu0[k];
    rss = std::max(rss, bench::peak_rss_kb_of(workers[k]));
  }
  bool clean = true;
  for (pid_t w : workers) ::kill(w, SIGTERM);
  for (pid_t w : workers) {
    int status = 0;
    ::waitpid(w, &status, 0);
    clean = clean && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  server.stop();
  bench::check(clean, "the workers stopped cleanly on SIGTERM");
  bench::line("W14 broker_queue")
      .str("impl", "corio")
      .num("N", static_cast<std::int64_t>(n))
      .str("pin", "none")
      .num("workers", std::int64_t{kWorkers})
      .str("durability", aof ? "aof_everysec" : "none")
      .str("result_key", store_results ? "on" : "off")
      .num("tasks_per_s", double(n) / t.wall_s)
      .num("wall_s", t.wall_s)
      .num("master_cpu_s", t.master_cpu_s)
      .num("workers_cpu_s", workers_cpu)
      .num("redis_cpu_s", redis_cpu)
      .num("peak_rss_kb", static_cast<std::int64_t>(rss))
      .print();
  return 0;
}

// W14 floor (docs/benchmarks.md): the hand-written Redis Streams task loop
// in plain hiredis (blocking calls), to show what Redis itself does on this
// machine. The master XADDs N tasks {n: i} to w14:tasks, pipelined 100 at a
// time; 2 forked workers XREADGROUP ... COUNT 100 BLOCK 100 in one consumer
// group and answer each batch with one pipeline: an XADD of {n, r: n*n} to
// w14:results per task and one XACK; the master then XREADs the results
// (COUNT 1000) until it has N and checks that each n came back once with
// n*n. Timed from the first XADD to the last result read.
//
//   w14_floor [N=100000] [--aof]
#include "bench_util.hpp"
#include "proc_stat.hpp"

#include <corio/testing/redis_server.hpp>

#include <hiredis/hiredis.h>
#include <sys/wait.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kWorkers = 2;
constexpr int kBatch = 100;

void die(const char* what, redisContext* c) {
  std::fprintf(stderr, "w14_floor: %s: %s\n", what, c ? c->errstr : "no context");
  std::exit(1);
}

redisContext* connect(std::uint16_t port) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (!c || c->err) die("connect", c);
  return c;
}

redisReply* checked(redisContext* c, void* r) {
  auto* rep = static_cast<redisReply*>(r);
  if (!rep) die("command", c);
  if (rep->type == REDIS_REPLY_ERROR) {
    std::fprintf(stderr, "w14_floor: redis error: %s\n", rep->str);
    std::exit(1);
  }
  return rep;
}

void get_replies(redisContext* c, int k) {
  for (int i = 0; i < k; ++i) {
    void* r = nullptr;
    if (redisGetReply(c, &r) != REDIS_OK) die("reply", c);
    freeReplyObject(checked(c, r));
  }
}

// The value of field `name` in an entry's [f1, v1, f2, v2, ...].
const char* field(const redisReply* kv, const char* name) {
  for (size_t i = 0; i + 1 < kv->elements; i += 2)
    if (std::strcmp(kv->element[i]->str, name) == 0) return kv->element[i + 1]->str;
  std::fprintf(stderr, "w14_floor: an entry has no field %s\n", name);
  std::exit(1);
}

[[noreturn]] void worker(std::uint16_t port, int k) {
  redisContext* c = connect(port);
  const std::string name = "w" + std::to_string(k);
  freeReplyObject(checked(c, redisCommand(c, "INCR w14:ready")));
  std::vector<const char*> argv(3 + kBatch);
  std::vector<size_t> lens(3 + kBatch);
  char nbuf[32], rbuf[32];
  for (;;) {
    redisReply* r =
        checked(c, redisCommand(c, "XREADGROUP GROUP g %s COUNT %d BLOCK 100 STREAMS w14:tasks >", name.c_str(), kBatch));
    if (r->type == REDIS_REPLY_NIL) {
      freeReplyObject(r);
      redisReply* e = checked(c, redisCommand(c, "EXISTS w14:stop"));
      const bool stop = e->integer != 0;
      freeReplyObject(e);
      if (stop) break;
      continue;
    }
    const redisReply* entries = r->element[0]->element[1];
    const int m = static_cast<int>(entries->elements);
    argv[0] = "XACK";
    argv[1] = "w14:tasks";
    argv[2] = "g";
    lens[0] = 4;
    lens[1] = 9;
    lens[2] = 1;
    for (int i = 0; i < m; ++i) {
      const redisReply* e = entries->element[i];
      const long long x = std::atoll(field(e->element[1], "n"));
      std::snprintf(nbuf, sizeof nbuf, "%lld", x);
      std::snprintf(rbuf, sizeof rbuf, "%lld", x * x);
      redisAppendCommand(c, "XADD w14:results * n %s r %s", nbuf, rbuf);
      argv[3 + i] = e->element[0]->str;
      lens[3 + i] = e->element[0]->len;
    }
    redisAppendCommandArgv(c, 3 + m, argv.data(), lens.data());
    get_replies(c, m + 1);
    freeReplyObject(r);
  }
  redisFree(c);
  ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  long long n = 100000;
  bool aof = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--aof") == 0) {
      aof = true;
    } else {
      char* end = nullptr;
      n = std::strtoll(argv[i], &end, 10);
      if (*end || n < 1) {
        std::fprintf(stderr, "usage: %s [N] [--aof]\n", argv[0]);
        return 2;
      }
    }
  }
  corio::testing::redis_server server({.appendonly = aof});
  redisContext* c = connect(server.port());
  freeReplyObject(checked(c, redisCommand(c, "XGROUP CREATE w14:tasks g 0 MKSTREAM")));
  std::vector<pid_t> workers;
  for (int k = 0; k < kWorkers; ++k) {
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    bench::check(pid >= 0, "fork");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      redisFree(c);
      worker(server.port(), k);
    }
    workers.push_back(pid);
  }
  for (int i = 0;; ++i) {  // workers connected (bounded: 100 s)
    redisReply* r = checked(c, redisCommand(c, "GET w14:ready"));
    const int ready = r->type == REDIS_REPLY_STRING ? std::atoi(r->str) : 0;
    freeReplyObject(r);
    if (ready >= kWorkers) break;
    bench::check(i < 10000, "workers ready within 100 s");
    ::usleep(10000);
  }
  const double redis_cpu0 = bench::cpu_of(server.pid());
  std::vector<double> worker_cpu0;
  for (pid_t w : workers) worker_cpu0.push_back(bench::cpu_of(w));
  bench::stopwatch sw;
  for (long long i = 0; i < n;) {
    int k = 0;
    for (; k < kBatch && i < n; ++k, ++i) redisAppendCommand(c, "XADD w14:tasks * n %lld", i);
    get_replies(c, k);
  }
  std::vector<unsigned char> seen(static_cast<std::size_t>(n), 0);
  long long got = 0;
  bool right = true;
  std::string last = "0-0";
  while (got < n) {
    redisReply* r = checked(c, redisCommand(c, "XREAD COUNT 1000 BLOCK 1000 STREAMS w14:results %s", last.c_str()));
    if (r->type == REDIS_REPLY_NIL) {
      freeReplyObject(r);
      continue;
    }
    const redisReply* entries = r->element[0]->element[1];
    for (size_t i = 0; i < entries->elements; ++i) {
      const redisReply* e = entries->element[i];
      const long long x = std::atoll(field(e->element[1], "n"));
      const long long sq = std::atoll(field(e->element[1], "r"));
      right = right && x >= 0 && x < n && !seen[static_cast<std::size_t>(x)] && sq == x * x;
      if (x >= 0 && x < n) seen[static_cast<std::size_t>(x)] = 1;
      ++got;
    }
    if (entries->elements > 0) last = entries->element[entries->elements - 1]->element[0]->str;
    freeReplyObject(r);
  }
  const double wall = sw.wall_s(), master_cpu = sw.cpu_s();
  const double redis_cpu = bench::cpu_of(server.pid()) - redis_cpu0;
  double workers_cpu = 0;
  long rss = bench::peak_rss_kb();
  for (std::size_t k = 0; k < workers.size(); ++k) {
    workers_cpu += bench::cpu_of(workers[k]) - worker_cpu0[k];
    rss = std::max(rss, bench::peak_rss_kb_of(workers[k]));
  }
  freeReplyObject(checked(c, redisCommand(c, "SET w14:stop 1")));
  bool clean = true;
  for (pid_t w : workers) {
    int status = 0;
    ::waitpid(w, &status, 0);
    clean = clean && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  redisFree(c);
  server.stop();
  bench::check(right && got == n, "every result came back once with n*n");
  bench::check(clean, "the workers stopped cleanly");
  bench::line("W14 broker_queue")
      .str("impl", "floor:c_hiredis")
      .num("N", static_cast<std::int64_t>(n))
      .str("pin", "none")
      .num("workers", std::int64_t{kWorkers})
      .str("durability", aof ? "aof_everysec" : "none")
      .num("tasks_per_s", double(n) / wall)
      .num("wall_s", wall)
      .num("master_cpu_s", master_cpu)
      .num("workers_cpu_s", workers_cpu)
      .num("redis_cpu_s", redis_cpu)
      .num("peak_rss_kb", static_cast<std::int64_t>(rss))
      .print();
  return 0;
}

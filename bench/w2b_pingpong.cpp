// W2b switch (docs/benchmarks.md): two tasks ping-pong N round trips,
// through a fresh pair of futures per round trip (--mode future) or through
// two events (--mode event), as the Python peer does (w2b_pingpong.py, in
// the peers' checkout). One line per mode; default: both.
#include "bench_util.hpp"

#include <corio/corio.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace {

struct times {
  double wall_s, cpu_s;
};

// What travels through a request future, as in the Python script: the
// future to reply on and the next request (Python: a (reply, nxt) tuple;
// None there, null here, ends the exchange). A message lives in ping's frame
// until its reply arrives, by which time pong is done with it.
struct message;
using request = corio::future<message*>;
struct message {
  corio::future<void> reply;
  request next;
};

corio::task<> pong(request req) {
  for (;;) {
    message* msg = co_await req;
    if (msg == nullptr) co_return;
    req = msg->next;
    msg->reply.set_result();
  }
}

corio::task<> ping(request req, std::int64_t n) {
  corio::event_loop& loop = corio::get_running_loop();
  for (std::int64_t i = 0; i < n; ++i) {
    message msg{loop.create_future<void>(), loop.create_future<message*>()};
    req.set_result(&msg);
    co_await msg.reply;
    req = std::move(msg.next);
  }
  req.set_result(nullptr);
}

corio::task<times> pingpong_future(std::int64_t n) {
  request first = corio::create_future<message*>();
  bench::stopwatch sw;
  co_await corio::gather(ping(first, n), pong(first));
  co_return times{sw.wall_s(), sw.cpu_s()};
}

// Python's default mode: set, wait for the other side's event, clear.
corio::task<> ping_event(corio::event& e_ping, corio::event& e_pong, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    e_ping.set();
    co_await e_pong.wait();
    e_pong.clear();
  }
}

corio::task<> pong_event(corio::event& e_ping, corio::event& e_pong, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    co_await e_ping.wait();
    e_ping.clear();
    e_pong.set();
  }
}

corio::task<times> pingpong_event(std::int64_t n) {
  corio::event e_ping, e_pong;
  bench::stopwatch sw;
  co_await corio::gather(ping_event(e_ping, e_pong, n), pong_event(e_ping, e_pong, n));
  co_return times{sw.wall_s(), sw.cpu_s()};
}

void report(const char* mode, std::int64_t n, const times& t) {
  const double dn = double(n);
  bench::line("W2b pingpong")
      .str("mode", mode)
      .str("impl", std::string("corio:") + mode)
      .num("N", n)
      .num("ns_per_roundtrip", t.wall_s * 1e9 / dn)
      .num("roundtrips_per_s", dn / t.wall_s)
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

}  // namespace

// Usage: w2b_pingpong [N] [--mode future|event|all]
int main(int argc, char** argv) {
  std::string mode = "all";
  char* args[2] = {argv[0], nullptr};
  int nargs = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
      mode = argv[++i];
    } else if (nargs < 2) {
      args[nargs++] = argv[i];
    }
  }
  if (mode != "all" && mode != "future" && mode != "event") {
    std::fprintf(stderr, "usage: %s [N] [--mode future|event|all]\n", argv[0]);
    return 2;
  }
  const std::int64_t n = bench::arg_n(nargs, args, 1'000'000);
  if (mode != "event") report("future", n, corio::run(pingpong_future(n)));
  if (mode != "future") report("event", n, corio::run(pingpong_event(n)));
}

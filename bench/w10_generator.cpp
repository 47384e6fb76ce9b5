// W10 generator (docs/benchmarks.md): the grep pipeline. The line
// "python is nice" is sent N times through grep("python") into a null sink,
// built three ways as the Python peer builds it (w10_generator.py, in the
// peers' checkout): generator coroutines driven by send()
// (impl=corio:generator), objects with a virtual send (impl=corio:object),
// closures in std::function (impl=corio:closure).
//
// A fourth measurement, impl=corio:delegate, times next() on a generator
// whose values come from `depth` levels of yield_from down, to show that the
// cost of an element does not grow with the depth.
//
// Every variant does the same work per line: the line's address is hidden
// from the optimiser before each send (so the search cannot be hoisted out
// of the loop), grep really searches it with std::string_view::find, and the
// sink hands the line to an opaque asm statement and counts it (checked).
//
// Usage: w10_generator [N] [--variant generator|object|closure|delegate|all] [--depth D]
//   --variant all (the default) prints every variant, delegate at depths 0,
//   1, 10, 100, 1000, 10000; --depth picks one depth for --variant delegate.
#include "bench_util.hpp"

#include <corio/generator.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kLine = "python is nice";
constexpr std::string_view kPattern = "python";

struct times {
  double wall_s, cpu_s;
};

// Sends the line n times through `send`.
template <class Send>
times drive(Send&& send, std::int64_t n) {
  bench::stopwatch sw;
  for (std::int64_t i = 0; i < n; ++i) {
    const char* p = kLine.data();
    bench::opaque(p);
    send(std::string_view(p, kLine.size()));
  }
  return {sw.wall_s(), sw.cpu_s()};
}

void report(const char* impl, std::int64_t n, const times& t, const char* figure = "ns_per_send",
            int depth = -1) {
  const double dn = double(n);
  bench::line l("W10 generator");
  l.str("impl", impl);
  if (depth >= 0) l.num("depth", std::int64_t{depth});
  l.num("N", n)
      .num(figure, t.wall_s * 1e9 / dn)
      .num("wall_s", t.wall_s)
      .num("cpu_s", t.cpu_s)
      .num("peak_rss_kb", std::int64_t{bench::peak_rss_kb()})
      .print();
}

// -- generator coroutines (Python: gen_null, gen_grep) ------------------------------

using line_sink = corio::generator<void, std::string_view>;

line_sink gen_null(std::int64_t& seen) {
  for (;;) {
    std::string_view* item = co_yield {};
    if (item) bench::escape(*item);
    ++seen;
  }
}

line_sink gen_grep(std::string_view pattern, line_sink& target) {
  for (;;) {
    std::string_view* line = co_yield {};
    if (line && line->find(pattern) != std::string_view::npos) target.send(*line);
  }
}

times run_generator(std::int64_t n, std::int64_t& seen) {
  line_sink sink = gen_null(seen);
  sink.next();  // Python's @coroutine decorator primes each stage
  line_sink grep = gen_grep(kPattern, sink);
  grep.next();
  return drive([&](std::string_view l) { grep.send(l); }, n);
}

// -- objects with a virtual send (Python: ObjNull, ObjGrep) --------------------------

struct receiver {
  virtual ~receiver() = default;
  virtual void send(std::string_view item) = 0;
};

struct obj_null final : receiver {
  std::int64_t seen = 0;
  void send(std::string_view item) override {
    bench::escape(item);
    ++seen;
  }
};

struct obj_grep final : receiver {
  obj_grep(std::string_view p, receiver* t) : pattern(p), target(t) {}
  void send(std::string_view line) override {
    if (line.find(pattern) != std::string_view::npos) target->send(line);
  }
  std::string_view pattern;
  receiver* target;
};

times run_object(std::int64_t n, std::int64_t& seen) {
  obj_null sink;
  receiver* target = &sink;
  bench::opaque(target);  // dispatched as Python dispatches: by the object's class at run time
  obj_grep grep(kPattern, target);
  receiver* head = &grep;
  bench::opaque(head);
  const times t = drive([&](std::string_view l) { head->send(l); }, n);
  seen = sink.seen;
  return t;
}

// -- closures (Python: closure_null, closure_grep) ------------------------------------

using line_fn = std::function<void(std::string_view)>;

line_fn closure_null(std::int64_t& seen) {
  return [&seen](std::string_view item) {
    bench::escape(item);
    ++seen;
  };
}

line_fn closure_grep(std::string_view pattern, line_fn target) {
  return [pattern, target = std::move(target)](std::string_view line) {
    if (line.find(pattern) != std::string_view::npos) target(line);
  };
}

times run_closure(std::int64_t n, std::int64_t& seen) {
  line_fn send = closure_grep(kPattern, closure_null(seen));
  return drive(send, n);
}

// -- delegation depth ---------------------------------------------------------------

corio::generator<std::int64_t> nest(int depth, std::int64_t n) {
  if (depth == 0) {
    for (std::int64_t i = 0; i < n; ++i) co_yield i;
  } else {
    co_yield corio::yield_from(nest(depth - 1, n));
  }
}

// n + 1 values come up from `depth` levels down; the first builds the chain
// and is not timed.
times run_delegate(std::int64_t n, int depth) {
  auto g = nest(depth, n + 1);
  bench::check(g.next() == std::optional<std::int64_t>(0), "the first value is 0");
  std::int64_t sum = 0;
  bench::stopwatch sw;
  for (;;) {
    std::optional<std::int64_t> v = g.next();
    if (!v) break;
    sum += *v;
  }
  const times t{sw.wall_s(), sw.cpu_s()};
  bench::check(sum == n * (n + 1) / 2, "every value arrived once");
  return t;
}

bool variant_is(const std::string& v, const char* name) { return v == "all" || v == name; }

}  // namespace

int main(int argc, char** argv) {
  std::string variant = "all";
  int depth = -1;
  char* args[2] = {argv[0], nullptr};
  int nargs = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--variant") == 0 && i + 1 < argc) {
      variant = argv[++i];
    } else if (std::strcmp(argv[i], "--depth") == 0 && i + 1 < argc) {
      depth = std::atoi(argv[++i]);
    } else if (nargs < 2) {
      args[nargs++] = argv[i];
    }
  }
  if (variant != "all" && variant != "generator" && variant != "object" && variant != "closure" &&
      variant != "delegate") {
    std::fprintf(stderr, "usage: %s [N] [--variant generator|object|closure|delegate|all] [--depth D]\n", argv[0]);
    return 2;
  }
  const std::int64_t n = bench::arg_n(nargs, args, 10'000'000);

  const struct {
    const char* name;
    times (*run)(std::int64_t n, std::int64_t& seen);
  } pipelines[] = {{"generator", run_generator}, {"object", run_object}, {"closure", run_closure}};
  for (const auto& p : pipelines) {
    if (!variant_is(variant, p.name)) continue;
    std::int64_t seen = 0;
    const times t = p.run(n, seen);
    bench::check(seen == n, "the sink saw every line");
    std::string impl = "corio:";
    impl += p.name;
    report(impl.c_str(), n, t);
  }
  if (variant_is(variant, "delegate")) {
    if (depth >= 0) {
      report("corio:delegate", n, run_delegate(n, depth), "ns_per_next", depth);
    } else {
      for (int d : {0, 1, 10, 100, 1000, 10000}) report("corio:delegate", n, run_delegate(n, d), "ns_per_next", d);
    }
  }
}

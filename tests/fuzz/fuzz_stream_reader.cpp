// libFuzzer target for corio::stream_reader (make fuzz).
//
// The input is a script run on one virtual-time loop: feed chunks of bytes
// (mostly from a small alphabet, so separators are common), let the loop
// run, queue reads for a consumer task (read(n), read(-1), readline,
// readuntil with a 1-3 byte separator, readexactly, read_into), cancel the
// read in progress, start a second reader beside it, feed EOF or set an
// exception. A fake transport checks the pause/resume protocol.
//
// Invariants checked after every step:
//  - every byte a read returns, or readline drops, is the next byte fed: no
//    byte is lost, duplicated or reordered, and what is buffered is exactly
//    the bytes fed and not yet consumed;
//  - each result is what its method promises (a line ends at its first
//    "\n" within the limit, readexactly gives n bytes, ...);
//  - only the documented exceptions come out, each in its case;
//  - a cancelled read consumes nothing; pause and resume alternate, and a
//    paused transport means more than `limit` bytes are buffered.
#include <corio/stream_reader.hpp>

#include <corio/queues.hpp>
#include <corio/testing/loop.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what, int line) {
  std::fprintf(stderr, "fuzz_stream_reader: invariant broken at line %d: %s\n", line, what);
  std::abort();
}
#define CHECK(c)                   \
  do {                             \
    if (!(c)) fail(#c, __LINE__); \
  } while (0)

// FUZZ_TRACE=1 prints each step of a script (to replay a crash by hand).
const bool g_trace = std::getenv("FUZZ_TRACE") != nullptr;
#define TRACE(...)                                  \
  do {                                              \
    if (g_trace) std::fprintf(stderr, __VA_ARGS__); \
  } while (0)

struct injected_error : std::runtime_error {
  injected_error() : std::runtime_error("injected") {}
};

struct script {
  const std::uint8_t* p;
  std::size_t n;
  std::size_t i = 0;
  std::uint8_t next() { return i < n ? p[i++] : 0; }
  bool done() const { return i >= n; }
};

char byte_of(std::uint8_t c) { return c >= 0xF0 ? static_cast<char>(c) : "ab\r\n"[c & 3]; }

struct flow final : corio::detail::read_flow {
  bool paused = false;
  void pause_reading() noexcept override {
    CHECK(!paused);
    paused = true;
  }
  void resume_reading() noexcept override {
    CHECK(paused);
    paused = false;
  }
};

enum class kind : std::uint8_t { read, read_all, readline, readuntil, readexactly, read_into, stop };
struct read_op {
  kind k = kind::stop;
  std::size_t n = 0;
  std::string sep;
};

struct state {
  corio::stream_reader r;
  std::string fed;      // every byte fed, in order
  std::size_t pos = 0;  // bytes consumed so far
  bool injected = false;
  bool intruders = false;
  flow fl;
  bool with_flow = false;

  explicit state(std::size_t limit) : r(limit) {}
  std::string_view rest() const { return std::string_view(fed).substr(pos); }
  // The bytes a read returned are the next ones fed.
  void taken(std::string_view d) {
    CHECK(rest().substr(0, d.size()) == d);
    pos += d.size();
  }
  void check() const {
    CHECK(pos + r.buffered() == fed.size());
    CHECK(std::string_view(r.core().data(), r.core().size()) == rest());
    if (with_flow) {
      CHECK(fl.paused == r.core().paused());
      if (fl.paused) CHECK(r.buffered() > r.limit());
    }
  }
  // Right after a feed: above 2 * limit the transport is paused, unless a
  // read waits for more (a read cancelled since counts from the next feed).
  void check_fed() const {
    check();
    if (with_flow && !r.core().waiting() && r.buffered() > r.limit() && r.buffered() - r.limit() > r.limit())
      CHECK(fl.paused);
  }
};

bool already_waiting(const std::runtime_error& e) {
  return std::string_view(e.what()).find("called while another coroutine is already waiting") != std::string_view::npos;
}

corio::task<> run_op(state& s, read_op op) {
  const std::size_t limit = s.r.limit();
  TRACE("op %d n=%zu sep=%zu buffered=%zu\n", static_cast<int>(op.k), op.n, op.sep.size(), s.r.buffered());
  try {
    switch (op.k) {
      case kind::read:
      case kind::read_all: {
        const std::ptrdiff_t n = op.k == kind::read_all ? -1 : static_cast<std::ptrdiff_t>(op.n);
        std::string d = co_await s.r.read(n);
        s.taken(d);
        if (n > 0) CHECK(d.size() <= op.n && (!d.empty() || s.r.at_eof()));
        if (n == 0) CHECK(d.empty());
        if (n < 0) CHECK(s.r.at_eof());
        break;
      }
      case kind::read_into: {
        std::string buf(op.n, '\0');
        const std::size_t got = co_await s.r.read_into(buf);
        CHECK(got <= op.n && (got != 0 || op.n == 0 || s.r.at_eof()));
        s.taken(std::string_view(buf).substr(0, got));
        break;
      }
      case kind::readexactly: {
        std::string d = co_await s.r.readexactly(op.n);
        CHECK(d.size() == op.n);
        s.taken(d);
        break;
      }
      case kind::readline: {
        const std::size_t before = s.pos;
        try {
          std::string d = co_await s.r.readline();
          if (!d.empty() && d.back() == '\n') {
            CHECK(d.find('\n') == d.size() - 1 && d.size() - 1 <= limit);
          } else {
            CHECK(d.find('\n') == std::string::npos && s.r.at_eof());
          }
          s.taken(d);
        } catch (const std::invalid_argument&) {
          // Dropped: a line longer than the limit, or limit+ bytes without "\n".
          const std::size_t dropped = s.fed.size() - s.r.buffered() - before;
          const std::string_view d = s.rest().substr(0, dropped);
          if (!d.empty() && d.back() == '\n')
            CHECK(d.find('\n') == d.size() - 1 && d.size() - 1 > limit);
          else
            CHECK(d.find('\n') == std::string_view::npos && d.size() > limit);
          s.pos += dropped;
        }
        break;
      }
      case kind::readuntil: {
        try {
          std::string d = co_await s.r.readuntil(op.sep);
          CHECK(d.size() >= op.sep.size() && d.find(op.sep) == d.size() - op.sep.size());
          CHECK(d.size() - op.sep.size() <= limit);
          s.taken(d);
        } catch (const corio::limit_overrun_error& e) {
          // Nothing consumed; `consumed` says where the separator starts, or
          // how far it is known to be absent.
          const std::string_view buf = s.rest();
          const std::size_t at = buf.find(op.sep);
          CHECK(e.consumed() > limit);
          if (std::string_view(e.what()).find("is found") != std::string_view::npos)
            CHECK(at == e.consumed());
          else
            CHECK(at == std::string_view::npos && e.consumed() == buf.size() + 1 - op.sep.size());
        } catch (const corio::incomplete_read_error& e) {
          CHECK(!e.expected() && e.partial().find(op.sep) == std::string::npos);
          s.taken(e.partial());
          CHECK(s.r.at_eof());
        }
        break;
      }
      case kind::stop:
        break;
    }
  } catch (const corio::incomplete_read_error& e) {
    CHECK(op.k == kind::readexactly && e.expected() == op.n && e.partial().size() < op.n);
    s.taken(e.partial());
    CHECK(s.r.at_eof());
  } catch (const injected_error&) {
    CHECK(s.injected);
  } catch (const std::runtime_error& e) {
    CHECK(s.intruders && already_waiting(e));
  } catch (const corio::cancelled_error&) {
    s.check();  // nothing consumed
    throw;
  } catch (...) {
    fail("unexpected exception", __LINE__);
  }
  TRACE("op %d done, buffered=%zu paused=%d\n", static_cast<int>(op.k), s.r.buffered(), s.fl.paused);
  s.check();
}

corio::task<> consume(state& s, corio::queue<read_op>& ops, corio::any_task& current) {
  for (;;) {
    read_op op = co_await ops.get();
    if (op.k == kind::stop) break;
    auto t = corio::create_task(run_op(s, std::move(op)));
    current = t;
    try {
      co_await t;
    } catch (const corio::cancelled_error&) {
    }
    current = corio::any_task();
  }
}

read_op parse_op(script& sc) {
  read_op op;
  const std::uint8_t c = sc.next();
  op.k = static_cast<kind>(c % 6);
  op.n = sc.next() % 48;
  if (op.k == kind::readuntil) {
    op.sep.resize(1 + sc.next() % 3);
    for (auto& ch : op.sep) ch = byte_of(sc.next());
  }
  return op;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  script sc{data, size};
  corio::event_loop loop(corio::testing::virtual_time());
  const std::uint8_t head = sc.next();
  state s(1 + head % 24);
  s.with_flow = (head & 0x80) != 0;
  if (s.with_flow) s.r.core().set_transport(&s.fl);
  corio::queue<read_op> ops;
  corio::any_task current;
  std::vector<corio::task<>> intruders;
  auto consumer = loop.create_task(consume(s, ops, current));

  while (!sc.done()) {
    const std::uint8_t c = sc.next();
    TRACE("step %d: buffered=%zu waiting=%d paused=%d\n", c % 8, s.r.buffered(), s.r.core().waiting(), s.fl.paused);
    switch (c % 8) {
      case 0:
      case 1:
      case 2: {
        std::size_t n = sc.next() % 40;
        if (n == 39) n = 100 + sc.next();
        std::string chunk(n, '\0');
        for (auto& ch : chunk) ch = byte_of(sc.next());
        if (s.r.core().eof()) {
          bool refused = false;
          try {
            s.r.feed_data(chunk);
          } catch (const corio::invalid_state_error&) {
            refused = true;
          }
          CHECK(refused || chunk.empty());
        } else {
          s.r.feed_data(chunk);
          s.fed += chunk;
          if (!chunk.empty()) s.check_fed();  // an empty feed changes nothing
        }
        break;
      }
      case 3:
        corio::testing::run_briefly(loop, 1 + sc.next() % 3);
        break;
      case 4:
      case 5:
        ops.put_nowait(parse_op(sc));
        break;
      case 6:
        if (current) current.cancel();
        break;
      case 7: {
        const std::uint8_t x = sc.next();
        if (x == 0) {
          s.r.feed_eof();
        } else if (x == 1) {
          s.injected = true;
          s.r.set_exception(std::make_exception_ptr(injected_error()));
        } else if (x == 2) {
          s.intruders = true;
          intruders.push_back(loop.create_task(run_op(s, parse_op(sc))));
        } else {
          corio::testing::run_briefly(loop);
        }
        break;
      }
    }
    s.check();
  }
  s.r.feed_eof();
  ops.put_nowait(read_op{});
  loop.run_until_complete(consumer);
  for (auto& t : intruders) {
    if (!t.done()) loop.run_until_complete(t);
  }
  s.check();
  if (!s.injected) {
    // Drain: what is left is the rest of what was fed.
    std::string tail = loop.run_until_complete([](state& st) -> corio::task<std::string> {
      co_return co_await st.r.read(-1);
    }(s));
    s.taken(tail);
    CHECK(s.pos == s.fed.size() && s.r.at_eof());
  }
  if (s.with_flow) s.r.core().set_transport(nullptr);
  return 0;
}

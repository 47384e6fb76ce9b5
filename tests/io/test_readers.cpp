// Unit tests for event_loop::add_reader / add_writer / remove_reader /
// remove_writer (<corio/events.hpp>), on both backends.
#include <corio/contextvars.hpp>
#include <corio/events.hpp>

#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
#include <thread>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::open_fd_count;
using corio_test::eventually;
using corio_test::run_io;

namespace {

// A non-blocking pipe, closed at the end of the scope.
struct pipe_pair {
  int r = -1;
  int w = -1;
  pipe_pair() {
    int p[2];
    if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    r = p[0];
    w = p[1];
  }
  pipe_pair(const pipe_pair&) = delete;
  pipe_pair& operator=(const pipe_pair&) = delete;
  ~pipe_pair() {
    ::close(r);
    ::close(w);
  }
  void put(const char* s) const { ASSERT_EQ(::write(w, s, std::strlen(s)), static_cast<ssize_t>(std::strlen(s))); }
  std::string drain() const {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(r, buf, sizeof buf);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
};

corio::task<void> iterations(int n) {
  for (int i = 0; i < n; ++i) co_await corio::sleep(0s);
}

TEST(Readers, CalledOncePerIterationWhileReadable) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    pipe_pair p;
    int calls = 0;
    loop.add_reader(p.r, [&] { ++calls; });  // reads nothing: stays readable
    co_await iterations(5);
    EXPECT_EQ(calls, 0);  // nothing to read yet
    p.put("x");
    EXPECT_TRUE(co_await eventually([&] { return calls >= 1; }));
    const int at = calls;
    co_await iterations(20);
    // Level-triggered like Python's selectors: again and again, but at most
    // once per loop iteration.
    EXPECT_GE(calls, at + 10);
    EXPECT_LE(calls, at + 21);
    EXPECT_EQ(p.drain(), "x");
    co_await iterations(3);
    const int drained_at = calls;
    co_await iterations(10);
    co_await corio::sleep(2ms);
    EXPECT_EQ(calls, drained_at);  // not readable: not called
    p.put("y");
    EXPECT_TRUE(co_await eventually([&] { return calls > drained_at; }));
    EXPECT_TRUE(loop.remove_reader(p.r));
  }());
}

// Python: add_reader's Handle copies the context at registration; each call
// runs in that copy, and what a call sets is there for the next one.
TEST(Readers, CallbacksRunInTheContextOfTheirRegistration) {
  static corio::context_var<std::string> who("who", "nobody");
  static corio::context_var<int> seen("seen", 0);
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    pipe_pair p;
    std::vector<std::string> whos;
    std::vector<int> counts;
    who.set("registrar");
    loop.add_reader(p.r, [&] {
      p.drain();
      whos.push_back(who.get());
      counts.push_back(seen.get());
      seen.set(seen.get() + 1);
    });
    who.set("changed after");
    p.put("a");
    EXPECT_TRUE(co_await eventually([&] { return whos.size() == 1; }));
    p.put("b");
    EXPECT_TRUE(co_await eventually([&] { return whos.size() == 2; }));
    EXPECT_TRUE(loop.remove_reader(p.r));
    EXPECT_EQ(whos, (std::vector<std::string>{"registrar", "registrar"}));
    EXPECT_EQ(counts, (std::vector<int>{0, 1}));
    EXPECT_EQ(seen.get(), 0);  // the callbacks' sets stayed in their copy
  }());
}

TEST(Readers, ACallbackThatReadsSeesEachChunk) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    pipe_pair p;
    std::string got;
    loop.add_reader(p.r, [&](const pipe_pair* pp) { got += pp->drain(); }, &p);
    for (const char* s : {"a", "bc", "def"}) {
      p.put(s);
      const std::size_t want = got.size() + std::strlen(s);
      EXPECT_TRUE(co_await eventually([&] { return got.size() == want; }));
    }
    EXPECT_EQ(got, "abcdef");
    EXPECT_TRUE(loop.remove_reader(p.r));
  }());
}

TEST(Readers, RemovalStopsCallbacks) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    pipe_pair p;
    p.put("x");  // readable throughout
    int calls = 0;
    loop.add_reader(p.r, [&] { ++calls; });
    EXPECT_TRUE(co_await eventually([&] { return calls >= 2; }));
    EXPECT_TRUE(loop.remove_reader(p.r));
    EXPECT_FALSE(loop.remove_reader(p.r));
    const int at = calls;
    co_await iterations(10);
    co_await corio::sleep(2ms);
    EXPECT_EQ(calls, at);

    // Removed while its callback is queued, or its poll in flight: never called.
    int late = 0;
    loop.add_reader(p.r, [&] { ++late; });
    co_await corio::sleep(0s);  // the readiness is seen, the callback queued
    EXPECT_TRUE(loop.remove_reader(p.r));
    loop.add_reader(p.r, [&] { ++late; });
    EXPECT_TRUE(loop.remove_reader(p.r));
    co_await iterations(10);
    EXPECT_LE(late, 1);
    const int late_at = late;
    co_await iterations(10);
    EXPECT_EQ(late, late_at);

    // A callback may remove itself.
    int once = 0;
    loop.add_reader(p.r, [&] {
      ++once;
      loop.remove_reader(p.r);
    });
    co_await iterations(10);
    EXPECT_EQ(once, 1);
    EXPECT_FALSE(loop.remove_reader(p.r));
  }());
}

TEST(Readers, ReplacingTheCallback) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    pipe_pair p;
    std::string log;
    loop.add_reader(p.r, [&] { log += "first;"; });
    loop.add_reader(p.r, [&] {
      log += "second;";
      p.drain();
    });
    p.put("x");
    EXPECT_TRUE(co_await eventually([&] { return !log.empty(); }));
    co_await iterations(3);
    EXPECT_EQ(log, "second;");
    // Replaced from inside the callback: the new one runs next time.
    log.clear();
    loop.add_reader(p.r, [&] {
      log += "third;";
      loop.add_reader(p.r, [&] {
        log += "fourth;";
        p.drain();
      });
    });
    p.put("y");
    EXPECT_TRUE(co_await eventually([&] { return log.find("fourth;") != std::string::npos; }));
    EXPECT_EQ(log, "third;fourth;");
    EXPECT_TRUE(loop.remove_reader(p.r));
  }());
}

TEST(Readers, WriterCalledWhileWritable) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    pipe_pair p;
    // Fill the pipe: not writable any more.
    const std::string chunk(65536, 'z');
    while (::write(p.w, chunk.data(), chunk.size()) > 0) {
    }
    int writable = 0;
    loop.add_writer(p.w, [&] { ++writable; });
    co_await iterations(5);
    co_await corio::sleep(2ms);
    EXPECT_EQ(writable, 0);
    p.drain();
    EXPECT_TRUE(co_await eventually([&] { return writable >= 2; }));
    // A reader and a writer on one fd are independent.
    pipe_pair q;
    int reads = 0, writes = 0;
    loop.add_reader(q.r, [&] { ++reads; });
    loop.add_writer(q.w, [&] { ++writes; });
    // (A writable fd's writer runs every iteration: the loop never sleeps.)
    EXPECT_TRUE(co_await eventually([&] { return writes >= 1; }));
    EXPECT_EQ(reads, 0);
    EXPECT_TRUE(loop.remove_writer(q.w));
    EXPECT_FALSE(loop.remove_writer(q.r));
    EXPECT_TRUE(loop.remove_reader(q.r));
    EXPECT_TRUE(loop.remove_writer(p.w));
    EXPECT_FALSE(loop.remove_writer(p.w));
  }());
}

TEST(Readers, ACallbackThatThrowsIsReportedAndKeepsWatching) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    int reported = 0;
    loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context&) { ++reported; });
    pipe_pair p;
    p.put("x");
    int calls = 0;
    loop.add_reader(p.r, [&] {
      ++calls;
      throw std::runtime_error("reader failed");
    });
    EXPECT_TRUE(co_await eventually([&] { return calls >= 3; }));
    EXPECT_GE(reported, 2);
    EXPECT_TRUE(loop.remove_reader(p.r));
    loop.set_exception_handler({});
  }());
}

TEST(Readers, BadArgumentsAndClosedLoops) {
  corio::event_loop loop;
  EXPECT_THROW(loop.add_reader(-1, [] {}), std::invalid_argument);
  EXPECT_THROW(loop.add_writer(-5, [] {}), std::invalid_argument);
  EXPECT_FALSE(loop.remove_reader(-1));
  EXPECT_FALSE(loop.remove_reader(0));
  loop.close();
  pipe_pair p;
  EXPECT_THROW(loop.add_reader(p.r, [] {}), std::runtime_error);
  EXPECT_FALSE(loop.remove_reader(p.r));
  EXPECT_FALSE(loop.remove_writer(p.w));
}

TEST(Readers, ClosingTheLoopWithReadersRegisteredLeaksNothing) {
  const int before = open_fd_count();
  auto token = std::make_shared<int>(0);
  {
    pipe_pair p, q, r;
    corio::event_loop loop;
    // Added before the loop runs: started by the loop, from its own thread.
    loop.add_reader(p.r, [token] { ++*token; });
    loop.add_writer(q.w, [token] { ++*token; });
    loop.run_until_complete([]() -> corio::task<void> { co_await corio::sleep(2ms); }());
    EXPECT_GT(*token, 0);  // q.w is writable
    // One in flight, one removed with its cancel not yet seen, one queued.
    loop.add_reader(r.r, [token] { ++*token; });
    loop.remove_writer(q.w);
    r.put("x");
    loop.run_until_complete([]() -> corio::task<void> { co_await corio::sleep(0s); }());
    loop.add_writer(r.w, [token] { ++*token; });
    EXPECT_GT(token.use_count(), 1);
    loop.close();
    EXPECT_EQ(token.use_count(), 1);  // every callback is gone
  }
  {
    // A loop that never ran, with a reader waiting for it.
    pipe_pair p;
    corio::event_loop loop;
    loop.add_reader(p.r, [token] { ++*token; });
  }
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_EQ(open_fd_count(), before);
}

TEST(Readers, ALoopInAnotherThread) {
  pipe_pair p;
  corio::event_loop loop;
  std::thread::id ran;
  loop.add_reader(p.r, [&] {
    ran = std::this_thread::get_id();
    p.drain();
    loop.remove_reader(p.r);
    loop.stop();
  });
  std::atomic<bool> started{false};
  loop.call_soon([&] { started = true; });
  std::thread t([&] { loop.run_forever(); });
  const std::thread::id worker = t.get_id();
  while (!started) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(2ms);
  p.put("wake");
  t.join();
  EXPECT_EQ(ran, worker);
}

}  // namespace

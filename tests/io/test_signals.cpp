// Unit tests for event_loop::add_signal_handler / remove_signal_handler
// (<corio/events.hpp>) and for Ctrl-C in corio::run (EL-28), on both
// backends.
#include <corio/contextvars.hpp>
#include <corio/events.hpp>

#include <corio/exceptions.hpp>
#include <corio/runners.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::eventually;
using corio_test::run_io;

namespace {

struct sigaction disposition_of(int sig) {
  struct sigaction sa {};
  ::sigaction(sig, nullptr, &sa);
  return sa;
}

bool is_default(int sig) {
  const struct sigaction sa = disposition_of(sig);
  return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

volatile std::sig_atomic_t g_plain_caught = 0;
extern "C" void plain_handler(int) { g_plain_caught = 1; }

// Sets SIGINT (or another signal) back to its default for the test.
struct default_disposition {
  int sig;
  explicit default_disposition(int s) : sig(s) { std::signal(sig, SIG_DFL); }
  ~default_disposition() { std::signal(sig, SIG_DFL); }
};

TEST(Signals, HandlerRunsLaterOnTheLoopThread) {
  default_disposition d(SIGUSR1);
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    int calls = 0;
    std::thread::id where;
    loop.add_signal_handler(SIGUSR1, [&] {
      ++calls;
      where = std::this_thread::get_id();
    });
    EXPECT_FALSE(is_default(SIGUSR1));
    ::raise(SIGUSR1);
    EXPECT_EQ(calls, 0);  // not inside the signal handler: through the ready queue
    EXPECT_TRUE(co_await eventually([&] { return calls == 1; }));
    EXPECT_EQ(where, std::this_thread::get_id());
    ::kill(::getpid(), SIGUSR1);
    EXPECT_TRUE(co_await eventually([&] { return calls == 2; }));
    // Each caught signal is one call (Python: one wakeup byte per signal).
    ::raise(SIGUSR1);
    ::raise(SIGUSR1);
    EXPECT_TRUE(co_await eventually([&] { return calls == 4; }));
    co_await corio::sleep(5ms);
    EXPECT_EQ(calls, 4);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
    EXPECT_TRUE(is_default(SIGUSR1));
  }());
}

// Python: add_signal_handler's Handle copies the context at registration.
TEST(Signals, HandlerRunsInTheContextOfItsRegistration) {
  static corio::context_var<std::string> who("who", "nobody");
  default_disposition d(SIGUSR2);
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    std::string seen;
    who.set("registrar");
    loop.add_signal_handler(SIGUSR2, [&] { seen = who.get(); });
    who.set("changed after");
    ::raise(SIGUSR2);
    EXPECT_TRUE(co_await eventually([&] { return !seen.empty(); }));
    EXPECT_EQ(seen, "registrar");
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
  }());
}

TEST(Signals, CaughtWhileTheLoopIsBusyWithoutSleeping) {
  default_disposition d(SIGUSR1);
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    bool got = false;
    loop.add_signal_handler(SIGUSR1, [&] { got = true; });
    ::raise(SIGUSR1);
    int spins = 0;
    while (!got && spins < 100000) {
      co_await corio::sleep(0s);  // always something ready: the loop never waits
      ++spins;
    }
    EXPECT_TRUE(got);
    EXPECT_LT(spins, 10);
    loop.remove_signal_handler(SIGUSR1);
  }());
}

TEST(Signals, RemoveAndCloseRestoreThePreviousDisposition) {
  struct sigaction plain {};
  plain.sa_handler = &plain_handler;
  ::sigemptyset(&plain.sa_mask);
  ASSERT_EQ(::sigaction(SIGUSR2, &plain, nullptr), 0);
  {
    corio::event_loop loop;
    int calls = 0;
    loop.add_signal_handler(SIGUSR2, [&] { ++calls; });
    EXPECT_NE(disposition_of(SIGUSR2).sa_handler, &plain_handler);
    loop.add_signal_handler(SIGUSR2, [&] { calls += 10; });  // replacing keeps what to restore
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
    EXPECT_EQ(disposition_of(SIGUSR2).sa_handler, &plain_handler);
    g_plain_caught = 0;
    ::raise(SIGUSR2);
    EXPECT_EQ(g_plain_caught, 1);

    loop.add_signal_handler(SIGUSR2, [&] { ++calls; });
    loop.close();  // Python: close() removes the loop's signal handlers
    EXPECT_EQ(disposition_of(SIGUSR2).sa_handler, &plain_handler);
    EXPECT_EQ(calls, 0);
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
  }
  std::signal(SIGUSR2, SIG_DFL);
}

TEST(Signals, ReplacingTheHandlerAndPassingArguments) {
  default_disposition d(SIGUSR1);
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    std::string log;
    loop.add_signal_handler(SIGUSR1, [&] { log += "first;"; });
    loop.add_signal_handler(SIGUSR1, [&](const std::string& s, int n) { log += s + std::to_string(n) + ";"; },
                            std::string("second"), 2);
    ::raise(SIGUSR1);
    EXPECT_TRUE(co_await eventually([&] { return !log.empty(); }));
    EXPECT_EQ(log, "second2;");
    // A handler that throws is reported (EL-10) and stays installed.
    int reported = 0;
    loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context&) { ++reported; });
    loop.add_signal_handler(SIGUSR1, [] { throw std::runtime_error("handler failed"); });
    ::raise(SIGUSR1);
    EXPECT_TRUE(co_await eventually([&] { return reported == 1; }));
    ::raise(SIGUSR1);
    EXPECT_TRUE(co_await eventually([&] { return reported == 2; }));
    loop.set_exception_handler({});
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
  }());
}

TEST(Signals, InvalidSignalsAndClosedLoops) {
  corio::event_loop loop;
  for (int sig : {0, -1, NSIG, 1000}) {
    EXPECT_THROW(loop.add_signal_handler(sig, [] {}), std::invalid_argument) << sig;
    EXPECT_THROW(loop.remove_signal_handler(sig), std::invalid_argument) << sig;
  }
  try {
    loop.add_signal_handler(SIGKILL, [] {});
    ADD_FAILURE() << "SIGKILL accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos) << e.what();
  }
  EXPECT_THROW(loop.add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
  EXPECT_FALSE(loop.remove_signal_handler(SIGKILL));  // Python: False, not an error
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
  loop.close();
  EXPECT_THROW(loop.add_signal_handler(SIGUSR1, [] {}), std::runtime_error);
  EXPECT_THROW(loop.add_signal_handler(SIGKILL, [] {}), std::invalid_argument);  // checked first, as in Python
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
}

TEST(Signals, OneSignalBelongsToOneLoopAtATime) {
  default_disposition d(SIGUSR2);
  corio::event_loop a;
  corio::event_loop b;
  a.add_signal_handler(SIGUSR2, [] {});
  try {
    b.add_signal_handler(SIGUSR2, [] {});
    ADD_FAILURE() << "two loops own SIGUSR2";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("SIGUSR2"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(b.remove_signal_handler(SIGUSR2));
  b.add_signal_handler(SIGUSR1, [] {});  // other signals are free
  EXPECT_TRUE(a.remove_signal_handler(SIGUSR2));
  b.add_signal_handler(SIGUSR2, [] {});
  EXPECT_TRUE(b.remove_signal_handler(SIGUSR2));
  EXPECT_TRUE(b.remove_signal_handler(SIGUSR1));
  std::signal(SIGUSR1, SIG_DFL);
}

TEST(Signals, LoopsInOtherThreadsHandleTheirOwnSignals) {
  default_disposition d1(SIGUSR1);
  default_disposition d2(SIGUSR2);
  // Two loops, each in its own thread, each owning a signal; the handlers
  // are added before the loops run.
  corio::event_loop l1;
  corio::event_loop l2;
  std::thread::id ran1, ran2;
  l1.add_signal_handler(SIGUSR1, [&] {
    ran1 = std::this_thread::get_id();
    l1.stop();
  });
  l2.add_signal_handler(SIGUSR2, [&] {
    ran2 = std::this_thread::get_id();
    l2.stop();
  });
  std::atomic<int> started{0};
  auto body = [&started](corio::event_loop& l) {
    l.call_soon([&started] { ++started; });
    l.run_forever();
  };
  std::thread t1(body, std::ref(l1));
  std::thread t2(body, std::ref(l2));
  const std::thread::id id1 = t1.get_id(), id2 = t2.get_id();
  while (started.load() < 2) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(5ms);  // both asleep in their backends
  ::kill(::getpid(), SIGUSR2);       // process-directed: any thread may catch it
  ::kill(::getpid(), SIGUSR1);
  t1.join();
  t2.join();
  EXPECT_EQ(ran1, id1);
  EXPECT_EQ(ran2, id2);
  EXPECT_TRUE(l1.remove_signal_handler(SIGUSR1));
  EXPECT_TRUE(l2.remove_signal_handler(SIGUSR2));
}

// -- EL-28: Ctrl-C in corio::run ----------------------------------------------------------

TEST(RunSigint, SigintCancelsTheMainTaskAndRunThrowsKeyboardInterrupt) {
  default_disposition d(SIGINT);
  bool cleanup = false;
  bool finished = false;
  EXPECT_THROW(corio::run([](bool& c, bool& f) -> corio::task<void> {
                 EXPECT_FALSE(is_default(SIGINT));  // the runner's handler
                 ::raise(SIGINT);
                 try {
                   co_await corio::sleep(10s);
                   f = true;
                 } catch (const corio::cancelled_error&) {
                   c = true;  // the main task sees the cancellation and cleans up
                   throw;
                 }
               }(cleanup, finished)),
               corio::keyboard_interrupt);
  EXPECT_TRUE(cleanup);
  EXPECT_FALSE(finished);
  EXPECT_TRUE(is_default(SIGINT));  // restored when run() returned
}

TEST(RunSigint, AMainTaskThatHandlesTheCancelReturnsNormally) {
  default_disposition d(SIGINT);
  const int r = corio::run([]() -> corio::task<int> {
    ::raise(SIGINT);
    try {
      co_await corio::sleep(10s);
    } catch (const corio::cancelled_error&) {
      corio::current_task().uncancel();  // Python: the task may decline
      co_return 42;
    }
    co_return 0;
  }());
  EXPECT_EQ(r, 42);
  EXPECT_TRUE(is_default(SIGINT));
}

TEST(RunSigint, ASecondSigintRaisesKeyboardInterruptAtOnce) {
  default_disposition d(SIGINT);
  bool second_cleanup_cancelled = false;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(corio::run([](bool& c) -> corio::task<void> {
                 ::raise(SIGINT);
                 bool cancelled = false;
                 try {
                   co_await corio::sleep(10s);
                 } catch (const corio::cancelled_error&) {
                   cancelled = true;
                 }
                 if (!cancelled) co_return;
                 // A cleanup that would hang: the second Ctrl-C ends the run.
                 ::raise(SIGINT);
                 try {
                   co_await corio::sleep(10s);
                 } catch (const corio::cancelled_error&) {
                   c = true;  // the runner's shutdown cancels what is left
                   throw;
                 }
               }(second_cleanup_cancelled)),
               corio::keyboard_interrupt);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_TRUE(second_cleanup_cancelled);
  EXPECT_TRUE(is_default(SIGINT));
}

TEST(RunSigint, AUserSigintHandlerTakesPrecedence) {
  default_disposition d(SIGINT);
  bool got = false;
  const int r = corio::run([](bool& g) -> corio::task<int> {
    corio::event_loop& loop = corio::get_running_loop();
    loop.add_signal_handler(SIGINT, [&g] { g = true; });
    ::raise(SIGINT);
    for (int i = 0; i < 5000 && !g; ++i) co_await corio::sleep(1ms);
    co_await corio::sleep(5ms);  // and no cancellation came
    co_return 7;
  }(got));
  EXPECT_TRUE(got);
  EXPECT_EQ(r, 7);
  EXPECT_TRUE(is_default(SIGINT));  // the loop's close gave it back
}

TEST(RunSigint, TheProgramsOwnSigintHandlerIsLeftAlone) {
  default_disposition d(SIGINT);
  struct sigaction plain {};
  plain.sa_handler = &plain_handler;
  ::sigemptyset(&plain.sa_mask);
  ASSERT_EQ(::sigaction(SIGINT, &plain, nullptr), 0);
  g_plain_caught = 0;
  const int r = corio::run([]() -> corio::task<int> {
    EXPECT_EQ(disposition_of(SIGINT).sa_handler, &plain_handler);
    ::raise(SIGINT);
    co_await corio::sleep(5ms);
    co_return 1;
  }());
  EXPECT_EQ(r, 1);
  EXPECT_EQ(g_plain_caught, 1);
  EXPECT_EQ(disposition_of(SIGINT).sa_handler, &plain_handler);
}

TEST(RunSigint, NoHandlerOffTheMainThread) {
  default_disposition d(SIGINT);
  bool was_default = false;
  std::thread t([&] {
    corio::run([](bool& w) -> corio::task<void> {
      w = is_default(SIGINT);
      co_await corio::sleep(0s);
    }(was_default));
  });
  t.join();
  EXPECT_TRUE(was_default);
}

}  // namespace

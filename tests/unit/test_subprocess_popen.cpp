// Unit tests for <corio/subprocess/popen.hpp> beyond the rules (those are
// in tests/semantics/test_ss_*.cpp): the faults a program meets when it
// runs other programs. Every child is reaped before a test ends; the ones
// that could outlive a failed assertion end when their stdin closes (the
// popen destructor closes it first).
#include <corio/subprocess/popen.hpp>

#include <corio/os_errors.hpp>
#include <corio/subprocess/run.hpp>

#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "io/io_util.hpp"
#include "subprocess_util.hpp"

using namespace std::chrono_literals;
namespace sp = corio::subprocess;
using corio_test::no_children;

TEST(Popen, a_child_killed_by_a_signal_returns_minus_the_signal) {
  for (int sig : {SIGKILL, SIGTERM, SIGSEGV}) {
    // No core file for SIGSEGV.
    const std::string cmd = "ulimit -c 0; kill -" + std::to_string(sig) + " $$";
    EXPECT_EQ(sp::call({"sh", "-c", cmd}), -sig) << sig;
  }
  sp::popen p({"cat"}, {.stdin = sp::pipe});
  p.send_signal(SIGSEGV);
  EXPECT_EQ(p.wait(), -SIGSEGV);
  EXPECT_TRUE(no_children());
}

TEST(Popen, hundred_megabytes_on_stdout_and_on_stderr_at_once_do_not_deadlock) {
  constexpr std::size_t mb100 = 100u << 20;
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  const sp::completed_process r = sp::run(
      {"sh", "-c", "head -c 104857600 /dev/zero & head -c 104857600 /dev/zero >&2; wait"}, {.capture_output = true});
  ASSERT_EQ(r.returncode, 0);
  EXPECT_EQ(r.stdout->size(), mb100);
  EXPECT_EQ(r.stderr->size(), mb100);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  // Memory grows with what is returned (200 MB, in strings that double as
  // they grow), not with a second copy of it.
  if (corio_test::memory_bounds_hold) {
    EXPECT_LT((after.ru_maxrss - before.ru_maxrss) * 1024.0, 2.5 * 2 * mb100)
        << "peak RSS grew by " << (after.ru_maxrss - before.ru_maxrss) / 1024 << " MiB";
  }
}

TEST(Popen, a_timeout_kills_a_child_that_ignores_sigterm) {
  // An ignored signal stays ignored across exec: sleep ignores SIGTERM.
  EXPECT_THROW(sp::run({"sh", "-c", "trap '' TERM; exec sleep 60"}, {.timeout = 100ms}), sp::timeout_expired);
  EXPECT_TRUE(no_children());
  sp::popen p({"sh", "-c", "trap '' TERM; echo ready; read _"}, {.stdin = sp::pipe, .stdout = sp::pipe});
  EXPECT_EQ(p.stdout()->readline(), "ready\n");  // the trap is set
  p.terminate();
  EXPECT_THROW(p.wait(50ms), sp::timeout_expired);  // ignored
  p.kill();
  EXPECT_EQ(p.wait(), -SIGKILL);
}

TEST(Popen, many_children_leave_no_fd_and_no_zombie) {
  const int before = corio_test::open_fd_count();
  for (int i = 0; i < 200; ++i) {
    const auto r = sp::run({"sh", "-c", "cat; echo $0 >&2", std::to_string(i)}, {.input = "x", .capture_output = true});
    ASSERT_EQ(r.stdout, "x");
    ASSERT_EQ(r.stderr, std::to_string(i) + "\n");
  }
  EXPECT_EQ(corio_test::open_fd_count(), before);
  EXPECT_TRUE(no_children());
}

namespace {
std::atomic<int> g_usr1{0};
extern "C" void count_usr1(int) { g_usr1.fetch_add(1); }
}  // namespace

TEST(Popen, a_signal_arriving_during_a_wait_does_not_end_it) {
  struct sigaction sa {}, old{};
  sa.sa_handler = count_usr1;  // no SA_RESTART: poll returns EINTR
  ::sigaction(SIGUSR1, &sa, &old);
  g_usr1 = 0;
  sp::popen p({"sh", "-c", "read _; exit 2"}, {.stdin = sp::pipe});
  const pthread_t waiter = ::pthread_self();
  std::thread t([&] {
    for (int i = 0; i < 20; ++i) {
      ::pthread_kill(waiter, SIGUSR1);
      std::this_thread::sleep_for(1ms);
    }
    p.stdin()->close();
  });
  EXPECT_EQ(p.wait(), 2);
  t.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_GE(g_usr1.load(), 1);
}

TEST(Popen, destroying_a_popen_whose_child_reads_stdin_ends_it) {
  {
    sp::popen p({"cat"}, {.stdin = sp::pipe, .stdout = sp::pipe});
    p.stdin()->write("left unread");
  }  // stdin closes, cat ends, the destructor reaps it
  EXPECT_TRUE(no_children());
}

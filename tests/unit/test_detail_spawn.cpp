// Unit tests for the spawning machinery under the subprocess modules
// (detail/spawn.hpp, detail/child.hpp, detail/pipes.hpp).
#include <corio/detail/child.hpp>
#include <corio/detail/pipes.hpp>
#include <corio/detail/spawn.hpp>
#include <corio/os_errors.hpp>

#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "subprocess_util.hpp"

using namespace corio::detail;

TEST(DetailSpawn, returncode_of_reads_exits_signals_and_stops_as_python_does) {
  siginfo_t si{};
  si.si_code = CLD_EXITED;
  si.si_status = 3;
  EXPECT_EQ(returncode_of(si), 3);
  si.si_code = CLD_KILLED;
  si.si_status = SIGTERM;
  EXPECT_EQ(returncode_of(si), -SIGTERM);
  si.si_code = CLD_DUMPED;
  si.si_status = SIGSEGV;
  EXPECT_EQ(returncode_of(si), -SIGSEGV);
  // SS-19: a "stopped" status gives -stopsig (Python: test_stopped).
  si.si_code = CLD_STOPPED;
  si.si_status = 3;
  EXPECT_EQ(returncode_of(si), -3);
}

TEST(DetailSpawn, a_child_is_reaped_through_its_pidfd) {
  spawn_request r;
  r.argv = {"sh", "-c", "exit 6"};
  r.program = "sh";
  spawned_child c = spawn(r);
  ASSERT_TRUE(c.pidfd);
  EXPECT_EQ(reap(c.pidfd.get(), c.pid), 6);
  EXPECT_THROW(try_reap(c.pidfd.get(), c.pid), corio::child_process_error);  // once only
  EXPECT_FALSE(signal_child(c.pidfd.get(), c.pid, SIGTERM));  // gone
  EXPECT_TRUE(corio_test::no_children());
}

TEST(DetailSpawn, try_reap_says_none_while_the_child_runs) {
  pipe_ends p = make_pipe(false, false);
  spawn_request r;
  r.argv = {"cat"};
  r.program = "cat";
  r.stdio[0] = p.read.get();
  spawned_child c = spawn(r);
  p.read.reset();
  EXPECT_FALSE(try_reap(c.pidfd.get(), c.pid).has_value());
  EXPECT_TRUE(signal_child(c.pidfd.get(), c.pid, SIGKILL));
  EXPECT_EQ(reap(c.pidfd.get(), c.pid), -SIGKILL);
}

TEST(DetailSpawn, an_empty_argv_is_refused) {
  spawn_request r;
  r.program = "true";
  EXPECT_THROW(spawn(r), std::invalid_argument);
}

TEST(DetailSpawn, environment_block_merges_extra_over_the_base) {
  const std::map<std::string, std::string> base{{"A", "1"}, {"B", "2"}};
  EXPECT_EQ(environment_block(&base, {{"B", "3"}, {"C", "4"}}), (std::vector<std::string>{"A=1", "B=3", "C=4"}));
  ::setenv("CORIO_DETAIL_SPAWN", "yes", 1);
  const std::vector<std::string> inherited = environment_block(nullptr, {});
  ::unsetenv("CORIO_DETAIL_SPAWN");
  EXPECT_NE(std::find(inherited.begin(), inherited.end(), "CORIO_DETAIL_SPAWN=yes"), inherited.end());
  EXPECT_THROW(environment_block(&base, {{"X=Y", "1"}}), std::invalid_argument);
}

TEST(DetailSpawn, write_nosignal_reports_epipe_and_leaves_no_sigpipe_pending) {
  pipe_ends p = make_pipe(true, false);
  p.read.reset();
  EXPECT_EQ(write_nosignal(p.write.get(), "x", 1), -EPIPE);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0);
}

TEST(DetailSpawn, write_nosignal_in_a_thread_blocking_sigpipe_takes_back_only_its_own) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  ASSERT_EQ(::pthread_sigmask(SIG_BLOCK, &pipe_only, &old), 0);
  auto pending_sigpipe = [] {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
  };
  pipe_ends p = make_pipe(true, false);
  p.read.reset();
  // Blocked, nothing pending: the write's own SIGPIPE is taken back.
  EXPECT_EQ(write_nosignal(p.write.get(), "x", 1), -EPIPE);
  EXPECT_FALSE(pending_sigpipe());
  // One pending from before stays for its owner, and the mask stays.
  ASSERT_EQ(::pthread_kill(::pthread_self(), SIGPIPE), 0);
  EXPECT_EQ(write_nosignal(p.write.get(), "x", 1), -EPIPE);
  EXPECT_TRUE(pending_sigpipe());
  const timespec zero{};
  EXPECT_EQ(::sigtimedwait(&pipe_only, nullptr, &zero), SIGPIPE);
  EXPECT_FALSE(pending_sigpipe());
  sigset_t now;
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, nullptr, &now), 0);
  EXPECT_EQ(sigismember(&now, SIGPIPE), 1);
  ASSERT_EQ(::pthread_sigmask(SIG_SETMASK, &old, nullptr), 0);
}

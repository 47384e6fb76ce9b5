// Semantic tests for docs/semantics.md section 14, the subprocess module,
// rules SS-15..SS-24:
// communicate, timeouts, wait and poll, returncodes, signals, threads and
// the end of a Popen's scope. Scenarios follow CPython's
// Lib/test/test_subprocess.py; where CPython sleeps to keep a child busy,
// these children block on a FIFO or on their stdin until the test lets
// them go, so no assertion depends on the machine's speed.
//
// Parts of rules with nothing to test in C++ (departures, see
// docs/python-mapping.md):
//   SS-19  a status that cannot be collected (ECHILD) raises
//          child_process_error instead of inventing returncode 0.
//   SS-22  KeyboardInterrupt in __exit__, and an error flushing stdin:
//          signals do not raise in C++, and writes are not buffered.
//   SS-23  dropping a running child without waiting: the destructor waits
//          (SS-22); kill() first to end it sooner.
//   SS-24  text mode: bytes only (checked below: no such option).
#include <corio/os_errors.hpp>
#include <corio/subprocess/popen.hpp>
#include <corio/subprocess/run.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "error_util.hpp"
#include "subprocess_util.hpp"

using namespace std::chrono_literals;
namespace sp = corio::subprocess;
using corio_test::no_children;
using corio_test::temp_dir;

using corio_test::gate;

// == SS-15 ==========================================================================

TEST(SS, SS_15_communicate_returns_stdout_and_stderr) {
  // Python: ProcessTestCase.test_communicate.
  sp::popen p({"sh", "-c", "cat; echo pineapple >&2"}, {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe});
  const auto [out, err] = p.communicate("banana");
  EXPECT_EQ(out, "banana");
  EXPECT_EQ(err, "pineapple\n");
  EXPECT_EQ(p.returncode(), 0);
}

TEST(SS, SS_15_streams_that_are_not_pipes_give_none) {
  // Python: ProcessTestCase.test_communicate_returns.
  sp::popen p({"sh", "-c", "exit 47"});
  const auto [out, err] = p.communicate();
  EXPECT_FALSE(out.has_value());
  EXPECT_FALSE(err.has_value());
  EXPECT_EQ(p.returncode(), 47);
  sp::popen q({"sh", "-c", "echo x"}, {.stdout = sp::pipe});
  EXPECT_EQ(q.communicate(), (sp::communicate_result{"x\n", std::nullopt}));
}

TEST(SS, SS_15_large_input_and_output_on_every_pipe_do_not_deadlock) {
  // Python: ProcessTestCase.test_communicate_pipe_buf: more than a pipe
  // buffer each way, stderr written as stdout is.
  const std::string input(4 << 20, 'a');
  sp::popen p({"sh", "-c", "tee /dev/stderr"}, {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe});
  const auto [out, err] = p.communicate(input);
  EXPECT_EQ(out, input);
  EXPECT_EQ(err, input);
}

TEST(SS, SS_15_what_was_written_before_communicate_comes_first) {
  // Python: ProcessTestCase.test_writes_before_communicate.
  sp::popen p({"cat"}, {.stdin = sp::pipe, .stdout = sp::pipe});
  p.stdin()->write("banana");
  EXPECT_EQ(p.communicate("split").first, "bananasplit");
}

TEST(SS, SS_15_communicate_closes_the_pipes) {
  // Python: ProcessTestCase.test_communicate_pipe_fd_leak.
  sp::popen p({"sh", "-c", "cat; echo e >&2"}, {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe});
  p.communicate("x");
  EXPECT_TRUE(p.stdin()->closed());
  EXPECT_TRUE(p.stdout()->closed());
  EXPECT_TRUE(p.stderr()->closed());
}

TEST(SS, SS_15_a_child_that_leaves_without_reading_its_input_is_not_an_error) {
  // Python: ProcessTestCase.test_communicate_epipe.
  sp::popen p({"sh", "-c", "exit 3"}, {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe});
  const auto [out, err] = p.communicate(std::string(10 << 20, 'x'));
  EXPECT_EQ(out, "");
  EXPECT_EQ(err, "");
  EXPECT_EQ(p.returncode(), 3);
}

TEST(SS, SS_15_bytes_buffered_by_readline_are_part_of_the_result) {
  sp::popen p({"sh", "-c", "echo one; echo two"}, {.stdout = sp::pipe});
  EXPECT_EQ(p.stdout()->readline(), "one\n");
  EXPECT_EQ(p.communicate().first, "two\n");
}

// == SS-16 ==========================================================================

TEST(SS, SS_16_a_timeout_leaves_the_child_running_and_a_later_call_resumes) {
  // Python: ProcessTestCase.test_communicate_timeout,
  // test_communicate_timeout_large_output: more input than a pipe holds,
  // so some is still unsent when the timeout hits.
  gate g;
  const std::string input(1 << 20, 'i');
  sp::popen p({"sh", "-c", "printf pineapple >&2; read _ < \"$0\"; exec cat", g.path()},
              {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe});
  try {
    p.communicate(input, 50ms);
    FAIL() << "no timeout";
  } catch (const sp::timeout_expired& e) {
    EXPECT_FALSE(e.output().has_value());  // nothing read: none, not ""
    if (e.stderr()) {
      EXPECT_EQ(*e.stderr(), "pineapple");  // read before the timeout, or not yet
    }
    EXPECT_EQ(e.timeout(), 50ms);
  }
  EXPECT_FALSE(p.poll().has_value());  // not killed
  EXPECT_THROW(p.communicate("more"), std::invalid_argument);  // new input once started
  g.release();
  const auto [out, err] = p.communicate();
  EXPECT_EQ(out, input);  // the rest of the input was sent
  EXPECT_EQ(err, "pineapple");
  EXPECT_EQ(p.returncode(), 0);
}

TEST(SS, SS_16_a_repeated_call_after_stdout_closed_returns) {
  // Python: POSIXProcessTestCase.test_communicate_repeated_call_after_stdout_close.
  gate g;
  sp::popen p({"sh", "-c", "exec 1>&-; read _ < \"$0\"", g.path()}, {.stdout = sp::pipe, .stderr = sp::devnull});
  EXPECT_THROW(p.communicate(std::nullopt, 20ms), sp::timeout_expired);
  EXPECT_THROW(p.communicate(std::nullopt, 20ms), sp::timeout_expired);
  g.release();
  EXPECT_EQ(p.communicate().first, "");
}

// == SS-17 ==========================================================================

TEST(SS, SS_17_run_kills_on_timeout_and_passes_on_the_output_read) {
  // Python: RunFuncTestCase.test_check_output_timeout (3 s, as there: long
  // enough for the child to print on a loaded machine).
  gate g;
  try {
    sp::run({"sh", "-c", "echo BDFL; read _ < \"$0\"", g.path()},
            {.stdout = sp::pipe, .stderr = sp::devnull, .timeout = 3s});
    FAIL() << "no timeout";
  } catch (const sp::timeout_expired& e) {
    EXPECT_EQ(e.output(), "BDFL\n");
    EXPECT_EQ(e.stdout(), e.output());
  }
  EXPECT_TRUE(no_children());  // killed and reaped
}

TEST(SS, SS_17_a_grandchild_holding_the_pipes_does_not_delay_the_timeout) {
  // Python: RunFuncTestCase.test_run_with_shell_timeout_and_capture_output.
  const auto start = std::chrono::steady_clock::now();
  pid_t group = -1;
  try {
    sp::run("sleep 60 & echo $$; exec sleep 60", {.capture_output = true, .shell = true, .timeout = 200ms,
                                                    .process_group = 0});
    FAIL() << "no timeout";
  } catch (const sp::timeout_expired& e) {
    if (e.output()) group = static_cast<pid_t>(std::stol(*e.output()));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);  // not the grandchild's 60 s
  if (group > 0) ::kill(-group, SIGKILL);  // the orphaned grandchild
  EXPECT_TRUE(no_children());
}

// == SS-18 ==========================================================================

TEST(SS, SS_18_wait_with_a_timeout_leaves_the_child_and_the_object_usable) {
  // Python: ProcessTestCase.test_wait, test_wait_timeout, test_poll.
  sp::popen p({"sh", "-c", "read _; exit 7"}, {.stdin = sp::pipe});
  EXPECT_FALSE(p.poll().has_value());
  try {
    p.wait(10ms);
    FAIL() << "no timeout";
  } catch (const sp::timeout_expired& e) {
    EXPECT_EQ(e.cmd(), p.args());
  }
  EXPECT_FALSE(p.returncode().has_value());
  p.stdin()->close();
  EXPECT_EQ(p.wait(), 7);
  EXPECT_EQ(p.poll(), 7);  // the cached code, again and again
  EXPECT_EQ(p.wait(), 7);
  EXPECT_EQ(p.wait(0s), 7);
}

// == SS-19 ==========================================================================

TEST(SS, SS_19_returncode_is_none_then_the_status_or_minus_the_signal) {
  // Python: POSIXProcessTestCase.test_run_abort, test_kill.
  sp::popen p({"sh", "-c", "read _; kill -ABRT $$"}, {.stdin = sp::pipe});
  EXPECT_FALSE(p.returncode().has_value());
  p.stdin()->write("go\n");
  EXPECT_EQ(p.wait(), -SIGABRT);
  EXPECT_EQ(p.returncode(), -SIGABRT);
  EXPECT_EQ(sp::run({"sh", "-c", "exit 255"}).returncode, 255);
}

TEST(SS, SS_19_a_status_that_cannot_be_collected_raises_child_process_error) {
  // Python: POSIXProcessTestCase.test_wait_when_sigchild_ignored gives 0;
  // corio says it does not know (departure).
  struct sigaction ign {}, old{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGCHLD, &ign, &old);  // the kernel reaps children itself
  {
    sp::popen p({"true"});
    EXPECT_THROW(p.wait(), corio::child_process_error);
    EXPECT_FALSE(p.returncode().has_value());
  }  // and the destructor does not hang or throw
  ::sigaction(SIGCHLD, &old, nullptr);
  EXPECT_TRUE(no_children());
}

// == SS-20 ==========================================================================

TEST(SS, SS_20_terminate_and_kill_send_sigterm_and_sigkill) {
  // Python: POSIXProcessTestCase.test_terminate, test_kill, test_send_signal.
  sp::popen a({"cat"}, {.stdin = sp::pipe});
  a.terminate();
  EXPECT_EQ(a.wait(), -SIGTERM);
  sp::popen b({"cat"}, {.stdin = sp::pipe});
  b.kill();
  EXPECT_EQ(b.wait(), -SIGKILL);
  sp::popen c({"cat"}, {.stdin = sp::pipe});
  c.send_signal(SIGUSR1);
  EXPECT_EQ(c.wait(), -SIGUSR1);
}

TEST(SS, SS_20_signalling_an_ended_child_does_nothing) {
  // Python: POSIXProcessTestCase.test_kill_dead, test_send_signal_race:
  // also when the poll inside send_signal is what reaps it.
  sp::popen p({"sh", "-c", "exit 3"});
  siginfo_t si{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(p.pid()), &si, WEXITED | WNOWAIT), 0);  // ended, not reaped
  EXPECT_NO_THROW(p.send_signal(SIGTERM));
  EXPECT_EQ(p.returncode(), 3);
  EXPECT_NO_THROW(p.kill());
  EXPECT_NO_THROW(p.terminate());
  EXPECT_EQ(p.wait(), 3);
}

// == SS-21 ==========================================================================

TEST(SS, SS_21_concurrent_waiters_reap_once_and_see_the_same_code) {
  // Python: ProcessTestCase.test_threadsafe_wait.
  sp::popen p({"sh", "-c", "read _; exit 9"}, {.stdin = sp::pipe});
  std::vector<int> seen(6, -1000);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = i % 2 ? p.wait() : p.wait(60s); });
  std::thread poller([&] {
    while (!p.poll()) std::this_thread::sleep_for(1ms);
  });
  p.stdin()->close();
  for (std::thread& t : threads) t.join();
  poller.join();
  for (int s : seen) EXPECT_EQ(s, 9);
}

// == SS-22 ==========================================================================

TEST(SS, SS_22_the_end_of_scope_closes_the_pipes_then_waits) {
  // Python: ContextManagerTests.test_pipe, test_returncode: the child sees
  // its stdin closed, and it has been reaped when the scope ends.
  temp_dir d;
  const std::string marker = d.path() + "/marker";
  {
    sp::popen p({"sh", "-c", "cat > /dev/null; echo saw-eof > \"$0\"", marker},
                {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe});
    p.stdin()->write("data");
  }
  EXPECT_TRUE(no_children());
  EXPECT_EQ(sp::check_output({"cat", marker}), "saw-eof\n");
}

TEST(SS, SS_22_a_moved_popen_hands_its_child_over) {
  sp::popen a({"sh", "-c", "exit 4"});
  sp::popen b = std::move(a);
  EXPECT_EQ(a.pid(), -1);
  EXPECT_THROW(a.wait(), std::invalid_argument);
  EXPECT_EQ(b.wait(), 4);
  sp::popen c({"sh", "-c", "exit 5"});
  c = std::move(b);  // c's own child is waited for first
  EXPECT_EQ(c.returncode(), 4);
  EXPECT_TRUE(no_children());
}

// == SS-24 ==========================================================================

namespace {
template <class O>
concept has_text_mode = requires(O o) { o.text; } || requires(O o) { o.encoding; } ||
                        requires(O o) { o.universal_newlines; } || requires(O o) { o.bufsize; };
}  // namespace

TEST(SS, SS_24_the_api_is_bytes_only) {
  // Python's text=, encoding=, errors=, universal_newlines=, bufsize= do not
  // exist: decode the bytes where text is wanted (departure).
  static_assert(!has_text_mode<sp::popen_options>);
  static_assert(!has_text_mode<sp::run_options>);
  static_assert(std::is_same_v<sp::bytes, std::string>);
  EXPECT_EQ(sp::check_output({"printf", "\\001\\377"}), std::string("\x01\xff"));
}

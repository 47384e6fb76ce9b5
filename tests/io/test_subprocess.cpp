// Unit tests for <corio/subprocess.hpp> beyond the rules (those are in
// test_sp_subprocess.cpp), on both I/O backends: the faults a program meets
// when it runs other programs from a loop, and how a process ends with its
// handle, its loop or its thread. Every child is reaped before a test ends
// (a process handle kills and reaps its child when it goes).
//
// GCC 12 cannot compile a braced list inside a co_await expression (see the
// guide): arguments and options are built in named variables first.
#include <corio/subprocess.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/runners.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "io/io_util.hpp"
#include "loop_util.hpp"
#include "subprocess_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace sp = corio::subprocess;
using corio::process_options;
using corio_test::eventually;
using corio_test::no_children;
using corio_test::run_io;

namespace {
using args = std::vector<std::string>;
}  // namespace

TEST(Subprocess, a_child_killed_by_a_signal_returns_minus_the_signal) {
  run_io([]() -> corio::task<void> {
    for (int sig : {SIGKILL, SIGTERM, SIGSEGV}) {
      corio::process p = co_await corio::create_subprocess_shell("ulimit -c 0; kill -" + std::to_string(sig) + " $$");
      const int rc = co_await p.wait();
      EXPECT_EQ(rc, -sig);
    }
  }());
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, hundred_megabytes_on_stdout_and_on_stderr_at_once_do_not_deadlock) {
  constexpr std::size_t mb100 = 100u << 20;
  rusage before{};
  ::getrusage(RUSAGE_SELF, &before);
  run_io([]() -> corio::task<void> {
    process_options o;
    o.stdout = sp::pipe;
    o.stderr = sp::pipe;
    corio::process p = co_await corio::create_subprocess_shell(
        "head -c 104857600 /dev/zero & head -c 104857600 /dev/zero >&2; wait", o);
    const auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out->size(), 100u << 20);
    EXPECT_EQ(err->size(), 100u << 20);
    EXPECT_EQ(p.returncode(), 0);
  }(), 120s);
  rusage after{};
  ::getrusage(RUSAGE_SELF, &after);
  // Memory grows with what is returned (strings that double as they grow),
  // not with a second copy of it: the readers hold a few pipe-fulls.
  if (corio_test::memory_bounds_hold) {
    EXPECT_LT((after.ru_maxrss - before.ru_maxrss) * 1024.0, 2.5 * 2 * mb100)
        << "peak RSS grew by " << (after.ru_maxrss - before.ru_maxrss) / 1024 << " MiB";
  }
}

TEST(Subprocess, a_program_that_cannot_start_raises_naming_it) {
  corio_test::temp_dir d;
  const std::string plain = d.write("not-executable", "#!/bin/sh\n", 0644);
  const int before = corio_test::open_fd_count();
  run_io([](std::string dir, std::string file) -> corio::task<void> {
    try {
      co_await corio::create_subprocess_exec("corio-no-such-program");
      ADD_FAILURE() << "no exception";
    } catch (const corio::file_not_found_error& e) {
      EXPECT_EQ(e.filename(), "corio-no-such-program");
      EXPECT_NE(std::string(e.what()).find("corio-no-such-program"), std::string::npos);
    }
    for (const std::string& prog : {dir, file}) {
      process_options o;
      o.stdin = sp::pipe;
      o.stdout = sp::pipe;
      try {
        co_await corio::create_subprocess_exec(prog, o);
        ADD_FAILURE() << "no exception for " << prog;
      } catch (const corio::permission_error& e) {
        EXPECT_EQ(e.filename(), prog);
      }
    }
  }(d.path(), plain));
  EXPECT_EQ(corio_test::open_fd_count(), before);
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, reading_a_quiet_pipe_leaves_the_loop_free_for_timers) {
  // epoll once took the edge that woke a pipe's read as the edge of the
  // read it re-armed, and spun on the empty pipe without returning to the
  // loop. The child writes only once the read is armed, so that its data
  // comes with an edge.
  corio_test::gate g;
  corio_test::watchdog dog(60s, "reading a quiet pipe");
  run_io([](const corio_test::gate& gt) -> corio::task<void> {
    process_options o;
    o.stdout = sp::pipe;
    o.stderr = sp::devnull;  // a child left blocked by a failed test holds no test output open
    const args a{"-c", "read _ < \"$0\"; echo a; read _ < \"$0\"; echo b", gt.path()};
    corio::process p = co_await corio::create_subprocess_exec("sh", a, o);
    co_await corio_test::yield_once();  // the read is armed
    gt.release();
    const std::string first = co_await p.stdout()->readline();
    EXPECT_EQ(first, "a\n");
    EXPECT_THROW(co_await corio::wait_for(p.stdout()->readline(), 50ms), corio::timeout_error);
    gt.release();
    const auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "b\n");
  }(g));
}

TEST(Subprocess, a_child_that_ignores_sigterm_is_ended_by_kill) {
  run_io([]() -> corio::task<void> {
    process_options o;
    o.stdout = sp::pipe;
    corio::process p = co_await corio::create_subprocess_shell("trap '' TERM; echo ready; exec sleep 60", o);
    const std::string ready = co_await p.stdout()->readline();
    EXPECT_EQ(ready, "ready\n");  // the trap is set
    p.terminate();
    EXPECT_THROW(co_await corio::wait_for(p.wait(), 50ms), corio::timeout_error);
    EXPECT_FALSE(p.returncode().has_value());
    p.kill();
    const int rc = co_await p.wait();
    EXPECT_EQ(rc, -SIGKILL);
  }());
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, a_thousand_concurrent_children_leave_no_fd_and_no_zombie) {
  const int before = corio_test::open_fd_count();
  run_io([]() -> corio::task<void> {
    constexpr int n = 1000;
    process_options o;
    o.stdout = sp::pipe;
    std::vector<corio::process> procs;
    procs.reserve(n);
    for (int i = 0; i < n; ++i) {
      const args a{std::to_string(i)};
      procs.push_back(co_await corio::create_subprocess_exec("echo", a, o));
    }
    std::vector<corio::task<sp::communicate_result>> outs;
    outs.reserve(n);
    for (corio::process& p : procs) outs.push_back(p.communicate());
    const std::vector<sp::communicate_result> results = co_await corio::gather(std::move(outs));
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(results[i].first, std::to_string(i) + "\n");
      EXPECT_EQ(procs[i].returncode(), 0);
    }
  }(), 120s);
  EXPECT_EQ(corio_test::open_fd_count(), before);
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, a_signal_arriving_while_the_loop_waits_for_a_child) {
  run_io([]() -> corio::task<void> {
    corio::event_loop& loop = corio::get_running_loop();
    int caught = 0;
    corio::stream_writer* child_stdin = nullptr;
    // Installed first: the child signals this process as soon as it starts.
    loop.add_signal_handler(SIGUSR1, [&] {
      ++caught;
      if (child_stdin) child_stdin->close();  // lets the child end
    });
    process_options o;
    o.stdin = sp::pipe;
    corio::process p = co_await corio::create_subprocess_shell("kill -USR1 $PPID; exec cat", o);
    child_stdin = p.stdin();
    const int rc = co_await p.wait();  // the signal comes while the loop waits
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(caught, 1);
    loop.remove_signal_handler(SIGUSR1);
  }());
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, a_task_waiting_for_a_child_whose_process_goes_sees_it_killed) {
  run_io([]() -> corio::task<void> {
    corio::task<int> waiting;
    {
      const args a{"60"};
      corio::process p = co_await corio::create_subprocess_exec("sleep", a);
      waiting = corio::create_task(p.wait());
      co_await corio_test::yield_once();
    }  // SP-09: killed
    const int rc = co_await waiting;
    EXPECT_EQ(rc, -SIGKILL);
  }());
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, a_process_outliving_its_loop_kills_and_reaps_its_child_when_it_goes) {
  corio::process kept = [] {
    corio::event_loop loop;
    corio::process p = loop.run_until_complete([]() -> corio::task<corio::process> {
      const args a{"60"};
      co_return co_await corio::create_subprocess_exec("sleep", a);
    }());
    loop.close();
    return p;
  }();
  EXPECT_FALSE(kept.returncode().has_value());
  const pid_t first_pid = kept.pid();
  kept = [] {
    corio::event_loop loop;
    return loop.run_until_complete(corio::create_subprocess_exec("true"));
  }();  // the first child is killed and reaped here, without a loop
  EXPECT_EQ(::kill(first_pid, 0), -1);
  { corio::process gone = std::move(kept); }
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, a_loop_closing_right_after_the_handle_went_reaps_the_child) {
  {
    corio::event_loop loop;
    loop.run_until_complete([]() -> corio::task<void> {
      const args a{"60"};
      corio::process p = co_await corio::create_subprocess_exec("sleep", a);
    }());  // killed, the exit not seen yet
    loop.close();  // reaps it
  }
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, loops_in_other_threads_run_children_too) {
  std::vector<int> codes(3, -1);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i)
    threads.emplace_back([&codes, i] {
      codes[static_cast<std::size_t>(i)] = corio::run([](int k) -> corio::task<int> {
        corio::process p = co_await corio::create_subprocess_shell("exit " + std::to_string(10 + k));
        co_return co_await p.wait();
      }(i));
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(codes, (std::vector<int>{10, 11, 12}));
  EXPECT_TRUE(no_children());
}

TEST(Subprocess, a_moved_from_process_refuses_use) {
  run_io([]() -> corio::task<void> {
    corio::process p = co_await corio::create_subprocess_shell("exit 3");
    corio::process q = std::move(p);
    EXPECT_EQ(p.pid(), -1);
    EXPECT_FALSE(p.returncode().has_value());
    EXPECT_EQ(p.stdout(), nullptr);
    EXPECT_THROW(p.kill(), std::invalid_argument);
    EXPECT_THROW((void)p.wait(), std::invalid_argument);
    const int rc = co_await q.wait();
    EXPECT_EQ(rc, 3);
  }());
}

TEST(Subprocess, extra_env_cwd_and_executable_reach_the_child) {
  corio_test::temp_dir d;
  run_io([](std::string dir) -> corio::task<void> {
    process_options o;
    o.stdout = sp::pipe;
    o.cwd = dir;
    o.extra_env = {{"CORIO_SP", "yes"}};
    o.executable = "/bin/sh";
    const args a{"-c", "echo $0 $CORIO_SP $(pwd)"};
    corio::process p = co_await corio::create_subprocess_exec("named", a, o);
    const auto [out, err] = co_await p.communicate();
    EXPECT_EQ(out, "named yes " + std::filesystem::canonical(dir).string() + "\n");
  }(d.path()));
}

// Helpers for the tests that fork children (multiprocessing): start a child
// running a function, wait for it with a bound, and never leave one behind.
// A child ends with _exit (no gtest teardown, no static destructors), its
// status telling what happened; it gets SIGKILL if the test process dies
// (PR_SET_PDEATHSIG), so an aborted test leaves no orphan behind.
#pragma once

#include "sanitizers.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace corio_test {

// Fork-heavy tests do not run under ThreadSanitizer: it does not follow a
// child's memory (every access in a forked child that another process sees
// is invisible to it), it warns on fork of a process with threads, and its
// fork bookkeeping can stall a child of a multi-threaded parent.

#define CORIO_SKIP_FORK_UNDER_TSAN()                                                                   \
  do {                                                                                                 \
    if (::corio_test::under_tsan)                                                                      \
      GTEST_SKIP() << "forks: ThreadSanitizer does not see the other process (see tests/fork_util.hpp)"; \
  } while (0)

/// The children a test forked. Each runs `body()` and exits with its result
/// (an int, 0-255); an exception escaping the body exits 70 after printing
/// it. Children still running when the object goes are killed and reaped.
class children {
 public:
  children() = default;
  children(const children&) = delete;
  children& operator=(const children&) = delete;
  ~children() { kill_all(); }

  /// Forks a child running body(); its pid.
  pid_t start(const std::function<int()>& body) {
    std::fflush(nullptr);  // nothing buffered is written twice
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(71);  // the parent died already
      int code = 70;
      try {
        code = body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", static_cast<int>(::getpid()), e.what());
      } catch (...) {
        std::fprintf(stderr, "child %d: unknown exception\n", static_cast<int>(::getpid()));
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    pids_.push_back(pid);
    return pid;
  }

  /// Waits up to `limit` for `pid` and reaps it: its exit code, or 128 + N
  /// for signal N; nullopt if it is still running (it is killed and reaped
  /// then, and the test fails).
  std::optional<int> wait(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    bool exited = true;
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      int r;
      do {
        r = ::poll(&p, 1, static_cast<int>(limit.count()));
      } while (r < 0 && errno == EINTR);
      exited = r > 0;
      ::close(pidfd);
    }
    if (!exited) {
      ADD_FAILURE() << "child " << pid << " still runs after " << limit.count() << " ms; killed";
      ::kill(pid, SIGKILL);
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    forget(pid);
    if (!exited) return std::nullopt;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
  }

  /// Sends SIGKILL to `pid` and reaps it.
  void kill(pid_t pid) {
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    forget(pid);
  }

  /// Kills and reaps every child still here.
  void kill_all() {
    for (const pid_t pid : std::vector<pid_t>(pids_)) kill(pid);
  }

 private:
  void forget(pid_t pid) { std::erase(pids_, pid); }

  std::vector<pid_t> pids_;
};

/// A one-byte message between a child and its parent, through a pipe: for
/// "the child has got this far" without a timed sleep.
class signal_pipe {
 public:
  signal_pipe() {
    if (::pipe2(fds_, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
  }
  signal_pipe(const signal_pipe&) = delete;
  signal_pipe& operator=(const signal_pipe&) = delete;
  ~signal_pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  void post(char c = '.') const {
    while (::write(fds_[1], &c, 1) < 0 && errno == EINTR) {
    }
  }
  /// The next byte; nullopt after `limit` or at EOF.
  std::optional<char> take(std::chrono::milliseconds limit = std::chrono::seconds(30)) const {
    pollfd p{fds_[0], POLLIN, 0};
    int r;
    do {
      r = ::poll(&p, 1, static_cast<int>(limit.count()));
    } while (r < 0 && errno == EINTR);
    char c = 0;
    if (r <= 0 || ::read(fds_[0], &c, 1) != 1) return std::nullopt;
    return c;
  }

 private:
  int fds_[2] = {-1, -1};
};

}  // namespace corio_test

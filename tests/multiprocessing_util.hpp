// Helpers for the tests that start multiprocessing children: a fixture
// that kills and reaps whatever a test left (its children, the fork
// server, and orphaned grandchildren, which come to the test process as
// their subreaper), and a main() that calls freeze_support() first, as
// every program using spawn or forkserver must.
#pragma once

#include "subprocess_util.hpp"

#include <corio/multiprocessing.hpp>
#include <corio/multiprocessing/detail/process_state.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace corio_test {

namespace mp = corio::multiprocessing;

// The pids of this process's children, from /proc (running or zombie).
inline std::vector<pid_t> child_pids() {
  std::vector<pid_t> out;
  const std::string self = std::to_string(::getpid());
  std::ifstream f("/proc/" + self + "/task/" + self + "/children");
  pid_t p;
  while (f >> p) out.push_back(p);
  return out;
}

// Kills and reaps every child this process still has.
inline void kill_and_reap_all() {
  for (auto& c : mp::active_children()) {
    try {
      c.kill();
      c.join();
    } catch (...) {
    }
  }
  mp::detail::stop_forkserver();
  for (int round = 0; round < 100; ++round) {
    const std::vector<pid_t> kids = child_pids();
    siginfo_t si{};
    const bool zombie = ::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0;
    if (kids.empty() && !zombie) return;
    for (pid_t k : kids) ::kill(k, SIGKILL);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!kids.empty()) ::waitpid(-1, nullptr, 0);
  }
}

// Reaps what a test left, also when it failed, and checks that it left
// nothing behind.
class mp_test : public ::testing::Test {
 protected:
  void TearDown() override {
    const bool clean = mp::active_children().empty();
    kill_and_reap_all();
    EXPECT_TRUE(clean) << "the test left children running";
    EXPECT_TRUE(no_children());
  }
};

// Redirects this process's stderr (or `fd`) to a pipe while alive, so
// that children started meanwhile write there too; text() reads what was
// written (call after the writers are done).
class stderr_capture {
 public:
  explicit stderr_capture(int fd = 2) : fd_(fd) {
    int p[2];
    if (::pipe(p) != 0) throw std::runtime_error("pipe");
    r_ = p[0];
    saved_ = ::dup(fd_);
    ::dup2(p[1], fd_);
    ::close(p[1]);
  }
  ~stderr_capture() {
    restore();
    ::close(r_);
  }
  void restore() {
    if (saved_ >= 0) {
      ::dup2(saved_, fd_);
      ::close(saved_);
      saved_ = -1;
    }
  }
  // Non-blocking: what is in the pipe now (another process, a fork
  // server, may still hold its write end).
  std::string text() {
    restore();
    ::fcntl(r_, F_SETFL, O_NONBLOCK);
    std::string s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(r_, buf, sizeof buf)) > 0) s.append(buf, static_cast<std::size_t>(n));
    return s;
  }

 private:
  int fd_;
  int r_ = -1;
  int saved_ = -1;
};

/// A FIFO tasks report through (a connection cannot be a task's argument:
/// fds cross only to a process being started). Opened read-write, so that
/// poll waits for data rather than seeing no writer.
class report_fifo {
 public:
  report_fifo() {
    char tmpl[] = "/tmp/corio-pool-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/fifo";
    if (::mkfifo(path_.c_str(), 0600) != 0) throw std::runtime_error("mkfifo");
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (::mkfifo((path_ + ".go").c_str(), 0600) != 0) throw std::runtime_error("mkfifo");
    go_ = ::open((path_ + ".go").c_str(), O_RDWR | O_CLOEXEC);
  }
  ~report_fifo() {
    ::close(fd_);
    ::close(go_);
    ::unlink(path_.c_str());
    ::unlink((path_ + ".go").c_str());
    ::rmdir(dir_.c_str());
  }
  // Lets a task blocked reading the FIFO at path() + ".go" go on.
  void release() { (void)!::write(go_, "x", 1); }
  const std::string& path() const { return path_; }
  // The pid a task wrote, waiting up to kBound; -1 if none came.
  int next_pid() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 60000) != 1) return -1;
    int pid = -1;
    if (::read(fd_, &pid, sizeof pid) != sizeof pid) return -1;
    return pid;
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
  int go_ = -1;
};

/// A pool task: tells the test it runs (its pid, through the FIFO at
/// `path`), then waits for ever: the test kills it or terminates the pool.
inline int report_and_hang(std::string path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const int pid = static_cast<int>(::getpid());
  if (fd >= 0) {
    (void)!::write(fd, &pid, sizeof pid);
    ::close(fd);
  }
  for (;;) ::pause();
}

}  // namespace corio_test

// A test file using spawn or forkserver defines its main() with this.
#define CORIO_MP_TEST_MAIN()                                  \
  int main(int argc, char** argv) {                           \
    corio::multiprocessing::freeze_support();                 \
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);                       \
    ::testing::InitGoogleTest(&argc, argv);                   \
    return RUN_ALL_TESTS();                                   \
  }

// A child process known by its pidfd (see detail/child.hpp).
#include <corio/detail/child.hpp>
#include <corio/os_errors.hpp>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace corio::detail {

namespace {

// waitid(P_PIDFD) needs Linux 5.4; before that P_PID is used (the pid of an
// unreaped child cannot be reused while we hold its pidfd).
std::atomic<bool> g_pidfd_waitid{true};

std::optional<int> wait_child(int pidfd, pid_t pid, int options) {
  siginfo_t si{};
  for (;;) {
    int r;
    if (g_pidfd_waitid.load(std::memory_order_relaxed)) {
      r = ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &si, WEXITED | options);
      if (r < 0 && errno == EINVAL) {
        g_pidfd_waitid.store(false, std::memory_order_relaxed);
        continue;
      }
    } else {
      r = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | options);
    }
    if (r == 0) break;
    if (errno == EINTR) continue;
    const int err = errno;
    if (err == ECHILD)
      throw child_process_error(err, "the exit status of pid " + std::to_string(pid) +
                                         " cannot be collected (SIGCHLD ignored, or reaped elsewhere)");
    throw_os_error(err, "waitid for pid " + std::to_string(pid));
  }
  if (si.si_pid == 0) return std::nullopt;  // WNOHANG: still running
  return returncode_of(si);
}

}  // namespace

int returncode_of(const siginfo_t& si) noexcept {
  switch (si.si_code) {
    case CLD_EXITED:
      return si.si_status;
    case CLD_KILLED:
    case CLD_DUMPED:
    case CLD_STOPPED:
    case CLD_TRAPPED:
      return -si.si_status;  // Python: -signal (SS-19)
    default:
      return si.si_status;
  }
}

std::optional<int> try_reap(int pidfd, pid_t pid) { return wait_child(pidfd, pid, WNOHANG); }

int reap(int pidfd, pid_t pid) { return *wait_child(pidfd, pid, 0); }

bool signal_child(int pidfd, pid_t pid, int sig) {
  long r = ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0);
  if (r < 0 && errno == ENOSYS) r = ::kill(pid, sig);  // before Linux 5.1
  if (r == 0) return true;
  if (errno == ESRCH) return false;
  throw_errno("send signal " + std::to_string(sig) + " to pid " + std::to_string(pid));
}

}  // namespace corio::detail

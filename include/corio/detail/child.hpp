// A child process known by its pidfd: how it ended, reaping it, signalling
// it. Shared by popen (blocking waits) and the asyncio process (its loop
// polls the pidfd). Not for users.
//
// Only our own child is ever waited for, through its pidfd (waitid P_PIDFD;
// P_PID on kernels before 5.4, safe because the unreaped pid cannot be
// reused while we hold its pidfd). A pidfd stays readable once the child
// has ended, reaped or not.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>

#include <optional>

namespace corio::detail {

// Python's returncode for a waitid() result: the exit status, or -N when
// signal N killed (or stopped) the child.
int returncode_of(const siginfo_t& si) noexcept;

// Collects the child's exit if it has ended: its returncode, or none while
// it runs. Throws child_process_error (ECHILD) if the status cannot be
// collected: SIGCHLD is ignored in this process, or other code reaped it.
std::optional<int> try_reap(int pidfd, pid_t pid);
// The same, waiting for the exit (the caller knows it is due: the child was
// killed, or its pidfd polled readable).
int reap(int pidfd, pid_t pid);

// Sends `sig` to the child through its pidfd; false if it has already
// ended (ESRCH). Other failures throw os_error naming the pid.
bool signal_child(int pidfd, pid_t pid, int sig);

}  // namespace corio::detail

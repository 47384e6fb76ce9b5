// Python: multiprocessing.resource_tracker, for shared_memory segments.
// Not for users.
//
// One tracker process per process tree, started by the first tracked
// shared_memory created in it. Every process of the tree holds one end of a
// SOCK_SEQPACKET socket pair (a forked child inherits it; a spawned one is
// given it, see tracker_fd()); the tracker holds the other and reads
// "created" and "unlinked" messages until every holder is gone, which it
// sees as end-of-file however they ended, SIGKILL included. Then, for each
// segment still registered (and still the same file: device and inode are
// checked), it waits until no process holds the segment open (every
// shared_memory holds a shared flock on its fd; the tracker takes an
// exclusive one), removes it, and prints a warning naming what leaked.
//
// The tracker is a grandchild of the process that starts it (it is nobody's
// child to reap), in a session of its own (a signal to the tree's process
// group does not stop it), ignoring SIGINT, SIGTERM and SIGHUP as Python's
// does. It makes raw system calls only: it is forked from a process that
// may have threads.
#pragma once

#include <cstdint>
#include <string>

namespace corio::multiprocessing::detail {

/// Tells this tree's tracker that this process created segment `name` (the
/// file `device`, `inode`), starting the tracker first if there is none (or
/// it has died). Best effort: if no tracker can be started, the segment is
/// simply not tracked.
void tracker_register(const std::string& name, std::uint64_t device, std::uint64_t inode);

/// Tells the tracker that `name` was unlinked.
void tracker_unregister(const std::string& name);

/// The fd of this process's tracker socket, -1 if it has none: what a
/// spawned child must inherit (pass it, then call adopt_tracker_fd in the
/// child) to share the parent's tracker, as Python passes its tracker's fd.
int tracker_fd() noexcept;

/// Makes `fd` (inherited from the parent) this process's tracker socket.
void adopt_tracker_fd(int fd) noexcept;

}  // namespace corio::multiprocessing::detail

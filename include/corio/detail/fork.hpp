// What a fork does to corio's state. Not for users.
//
// A forked child has one thread (the one that called fork) and a copy of
// the parent's memory, which holds loops whose io_uring rings and epoll
// instances are still the parent's (a ring's memory is shared, so a
// submission from the child would land in the parent's queue). So:
// - every process has a generation, bumped in the child of each fork
//   (pthread_atfork, registered when the library is first used). A loop and
//   its backend record the generation they were made in; running a loop,
//   starting an I/O operation or waiting on a backend from another
//   generation raises, naming both pids; cancelling and abandoning there
//   (noexcept paths) leave the parent's kernel objects alone;
// - the child's thread forgets the loop and the task it was running
//   (tls), so it can make and run a loop of its own;
// - shared tables are locked around the fork (the frame pool's depot, the
//   signal owners, the threading registry) so the child's copy is
//   consistent, and the child forgets what belonged to the parent's other
//   threads and loops: its threading registry lists itself alone, as the
//   main thread, and the signals corio's loops caught get back the
//   disposition they had before (a loop that will never run in the child
//   must not swallow SIGTERM);
// - a thread_pool_executor made before the fork refuses work in the child
//   (its threads did not come along).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>

#include <corio/detail/config.hpp>

namespace corio::detail {

extern std::atomic<std::uint32_t> g_fork_generation;

inline std::uint32_t fork_generation() noexcept { return g_fork_generation.load(std::memory_order_relaxed); }

// The generation and pid an object was made in.
struct fork_origin {
  std::uint32_t generation = fork_generation();
  pid_t pid = current_pid();

  bool forked() const noexcept { return CORIO_UNLIKELY(fork_generation() != generation); }
  // Throws std::runtime_error: `what` (an event loop, a thread pool) was
  // made in `pid` and this process is a child forked since.
  void check(const char* what) const {
    if (forked()) throw_forked(what);
  }
  [[noreturn]] void throw_forked(const char* what) const;

  static pid_t current_pid() noexcept;
};

// Registers the fork handlers (once; called by whatever may be forked over).
void install_fork_handlers() noexcept;

// The pieces the handlers call (each in its own source).
void frame_pool_fork_prepare() noexcept;
void frame_pool_fork_parent() noexcept;
void frame_pool_fork_child() noexcept;
void signals_fork_prepare() noexcept;
void signals_fork_parent() noexcept;
void signals_fork_child() noexcept;

}  // namespace corio::detail

namespace corio::threading::detail {
// Waits for the non-daemon threads still running (Python: threading._shutdown),
// as a multiprocessing child does before it exits.
void join_non_daemon_threads() noexcept;
void registry_fork_prepare() noexcept;
void registry_fork_parent() noexcept;
void registry_fork_child() noexcept;
}  // namespace corio::threading::detail

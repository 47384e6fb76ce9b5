// corio's state across fork (see detail/fork.hpp).
#include <corio/detail/fork.hpp>

#include <corio/detail/loop_core.hpp>

#include <pthread.h>
#include <unistd.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace corio::detail {

std::atomic<std::uint32_t> g_fork_generation{0};

namespace {

// getpid() is a system call (glibc keeps no cache since 2.25); the pid is
// kept here and refreshed in each child.
pid_t g_pid = ::getpid();

void prepare() noexcept {
  threading::detail::registry_fork_prepare();
  signals_fork_prepare();
  frame_pool_fork_prepare();
}

void parent() noexcept {
  frame_pool_fork_parent();
  signals_fork_parent();
  threading::detail::registry_fork_parent();
}

void child() noexcept {
  g_pid = ::getpid();
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  // The loop and task this thread ran belong to the parent.
  tls.running_loop = nullptr;
  tls.current_task = nullptr;
  tls.ctx_slot = nullptr;
  frame_pool_fork_child();
  signals_fork_child();
  threading::detail::registry_fork_child();
}

}  // namespace

pid_t fork_origin::current_pid() noexcept { return g_pid; }

void fork_origin::throw_forked(const char* what) const {
  throw std::runtime_error(std::string("corio: ") + what + " was made in process " + std::to_string(pid) +
                           " and cannot be used in process " + std::to_string(current_pid()) +
                           ", forked from it: make a new one in the child");
}

void install_fork_handlers() noexcept {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(&prepare, &parent, &child); });
}

// Registered at start-up too: a program that forks before making any loop
// still gets a consistent child.
[[maybe_unused]] const bool g_installed = (install_fork_handlers(), true);

}  // namespace corio::detail

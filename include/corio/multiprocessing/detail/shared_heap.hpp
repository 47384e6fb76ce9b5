// Memory shared between processes for corio's own shared objects (values,
// arrays, process-shared locks): Python's multiprocessing.heap. Not for users.
//
// - Objects are carved from arenas: memfd files (memfd_create), mapped
//   MAP_SHARED. A memfd has no name in /dev/shm, so nothing can be left
//   behind: the kernel frees it when the last process that maps it or holds
//   it open is gone, SIGKILL included.
// - Blocks are 64-byte aligned (objects used by different processes do not
//   share a cache line) and never reused: a process frees nothing but whole
//   arenas, when none of its handles point into one any more. A child still
//   using an object its parent dropped then keeps its own mapping of the
//   memory, which nothing else will be given.
// - Fork: the child inherits the mappings and the handles; it allocates from
//   fresh arenas of its own (a pthread_atfork handler drops the parent's
//   current arena in the child), so two processes never carve the same
//   arena.
// - Spawn: a handle names its arena as /proc/<pid>/fd/<fd> of the process
//   that made the handle, with the memfd's device and inode. attach() opens
//   that path (only a memfd of corio's is accepted), checks the inode and
//   maps the arena once per process (a second attach of the same arena
//   reuses the mapping, so a robust mutex is never seen at two addresses).
#pragma once

#include <corio/detail/config.hpp>
#include <corio/multiprocessing/shared_handle.hpp>

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace corio::multiprocessing::detail {

/// One mapping of an arena in this process. Unmapped, and its fd closed,
/// when the last shared_place into it goes.
class arena {
 public:
  arena(int fd, std::byte* base, std::size_t size, std::uint64_t device, std::uint64_t inode) noexcept
      : fd_(fd), base_(base), size_(size), device_(device), inode_(inode) {}
  arena(const arena&) = delete;
  arena& operator=(const arena&) = delete;
  ~arena();

  int fd() const noexcept { return fd_; }
  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  std::uint64_t device() const noexcept { return device_; }
  std::uint64_t inode() const noexcept { return inode_; }

 private:
  int fd_;
  std::byte* base_;
  std::size_t size_;
  std::uint64_t device_;
  std::uint64_t inode_;
};

/// A place in shared memory: the address of an object's state and the arena
/// that keeps it mapped.
struct shared_place {
  std::shared_ptr<const arena> owner;
  std::byte* addr = nullptr;

  std::uint64_t offset() const noexcept { return static_cast<std::uint64_t>(addr - owner->base()); }
  /// The same arena, `delta` bytes further (a part of a larger block).
  shared_place at(std::size_t delta) const noexcept { return {owner, addr + delta}; }
  friend bool operator==(const shared_place& a, const shared_place& b) noexcept { return a.addr == b.addr; }
};

/// Every block's alignment, a cache line.
inline constexpr std::size_t block_align = 64;

/// `size` (> 0) bytes of zeroed shared memory, aligned to block_align.
/// Throws os_error if the kernel refuses (memfd_create, ftruncate, mmap).
shared_place allocate(std::size_t size);

/// The handle of the object at `p` ("/proc/<this pid>/fd/<fd>", offset,
/// device, inode).
shared_handle make_handle(std::string kind, const shared_place& p, std::uint64_t length = 0);

/// The object a handle names, mapped in this process: `h.kind` must be
/// `kind`, and [offset, offset + size) must lie in the arena, aligned to
/// `align`. std::invalid_argument for a handle of another kind or out of
/// bounds; file_not_found_error if the arena cannot be opened any more (its
/// process has exited or dropped it); std::invalid_argument if the path is
/// not one of corio's arenas or opens another file than the handle's.
shared_place attach(const shared_handle& h, std::string_view kind, std::size_t size, std::size_t align);

// The caches behind current_tid() and current_pid(): 0 until first used,
// and again in a forked child (a pthread_atfork handler).
extern constinit thread_local std::uint32_t tls_tid CORIO_TLS_MODEL;
extern constinit std::atomic<std::uint32_t> g_pid;
std::uint32_t fetch_tid() noexcept;
std::uint32_t fetch_pid() noexcept;

/// The calling thread's kernel thread id (gettid), cached per thread and
/// refreshed in a forked child: what process-shared locks record as their
/// holder (unique across processes, unlike pthread_self()).
inline std::uint32_t current_tid() noexcept {
  const std::uint32_t t = tls_tid;
  return CORIO_LIKELY(t != 0) ? t : fetch_tid();
}

/// The calling process's id, cached and refreshed in a forked child.
inline std::uint32_t current_pid() noexcept {
  const std::uint32_t p = g_pid.load(std::memory_order_relaxed);
  return CORIO_LIKELY(p != 0) ? p : fetch_pid();
}

/// T's name as the compiler spells it ("int", "std::pair<int, double>"): the
/// element type in a value's or array's handle kind, checked by
/// from_handle() (both sides run the same program).
template <class T>
constexpr std::string_view type_tag() noexcept {
  // GCC: "... type_tag() [with T = int; ...]", Clang: "... type_tag() [T = int]".
  constexpr std::string_view f = __PRETTY_FUNCTION__;
  constexpr auto b = f.find("T = ") + 4;
  constexpr auto e = f.find_first_of(";]", b);
  return f.substr(b, e - b);
}

}  // namespace corio::multiprocessing::detail

// The arenas of corio's shared objects (see detail/shared_heap.hpp).
#include <corio/multiprocessing/detail/shared_heap.hpp>

#include <corio/os_errors.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace corio::multiprocessing::detail {

namespace {

// An arena holds many small objects (a lock takes 64 bytes); a request of
// more than a quarter of this gets an arena of its own.
constexpr std::size_t kArenaSize = 64 * 1024;
// The name every arena's memfd has: attach() accepts only these.
constexpr char kMemfdName[] = "corio-shared";
constexpr std::string_view kMemfdLink = "/memfd:corio-shared";

std::size_t page_size() noexcept {
  static const auto n = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return n;
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

struct heap_state {
  std::mutex mu;
  // The arena blocks are carved from now, and how much of it is used.
  std::shared_ptr<const arena> current;
  std::size_t used = 0;
  // Every arena mapped in this process, so that a second attach reuses the
  // mapping.
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::weak_ptr<const arena>> mapped;
};

void after_fork_in_child() noexcept;

heap_state& heap() {
  // Never destroyed: handles in static objects may outlive it otherwise.
  static heap_state* h = [] {
    auto* s = new heap_state;
    // fork() while another thread allocates must not leave the child with
    // the heap's mutex held; and the child carves arenas of its own.
    ::pthread_atfork([] { heap().mu.lock(); }, [] { heap().mu.unlock(); },
                     [] {
                       heap().mu.unlock();
                       after_fork_in_child();
                     });
    return s;
  }();
  return *h;
}

void after_fork_in_child() noexcept {
  heap_state& h = heap();
  // Dropping the reference can unmap nothing: the inherited handles still
  // hold the arena. It only stops this process carving it.
  h.current.reset();
  h.used = 0;
  tls_tid = 0;
  g_pid.store(0, std::memory_order_relaxed);
}

std::shared_ptr<const arena> new_arena(std::size_t size) {
  const int fd = ::memfd_create(kMemfdName, MFD_CLOEXEC);
  if (fd < 0) throw_errno("memfd_create for shared memory");
  if (::ftruncate(fd, static_cast<off_t>(size)) < 0) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, "ftruncate of a shared memory arena to " + std::to_string(size) + " bytes");
  }
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    throw_os_error(err, "mmap of a shared memory arena of " + std::to_string(size) + " bytes");
  }
  struct stat st{};
  ::fstat(fd, &st);
  return std::make_shared<const arena>(fd, static_cast<std::byte*>(p), size, static_cast<std::uint64_t>(st.st_dev),
                                       static_cast<std::uint64_t>(st.st_ino));
}

// Parses "/proc/<pid>/fd/<fd>"; false for anything else.
bool is_arena_path(std::string_view s) {
  const auto digits = [&](std::string_view& rest) {
    std::size_t n = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    if (n == 0 || n > 10) return false;
    rest.remove_prefix(n);
    return true;
  };
  if (!s.starts_with("/proc/")) return false;
  s.remove_prefix(6);
  if (!digits(s) || !s.starts_with("/fd/")) return false;
  s.remove_prefix(4);
  return digits(s) && s.empty();
}

[[noreturn]] void refuse(const shared_handle& h, std::string_view kind, const std::string& why) {
  throw std::invalid_argument("cannot attach to a shared " + std::string(kind) + " from handle (" + h.kind + " at " +
                              h.segment + " offset " + std::to_string(h.offset) + "): " + why);
}

std::shared_ptr<const arena> map_arena(const shared_handle& h, std::string_view kind) {
  heap_state& hs = heap();
  const auto key = std::make_pair(h.device, h.inode);
  {
    std::lock_guard g(hs.mu);
    auto it = hs.mapped.find(key);
    if (it != hs.mapped.end()) {
      if (auto a = it->second.lock()) return a;
    }
  }
  if (!is_arena_path(h.segment)) refuse(h, kind, "not a corio shared memory arena");
  // What the path opens must be one of corio's memfds: a handle decoded from
  // bytes that came from elsewhere must not make us map a file.
  char link[256];
  const ssize_t n = ::readlink(h.segment.c_str(), link, sizeof link - 1);
  if (n < 0) {
    throw_os_error(errno, "cannot attach to a shared " + std::string(kind) + ": " + h.segment +
                              " (the process that gave it out has exited or dropped it)");
  }
  if (!std::string_view(link, static_cast<std::size_t>(n)).starts_with(kMemfdLink))
    refuse(h, kind, "not a corio shared memory arena");
  const int fd = ::open(h.segment.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    throw_os_error(errno, "cannot attach to a shared " + std::string(kind) + ": open " + h.segment +
                              " (the process that gave it out has exited or dropped it)");
  }
  struct stat st{};
  if (::fstat(fd, &st) < 0 || static_cast<std::uint64_t>(st.st_dev) != h.device ||
      static_cast<std::uint64_t>(st.st_ino) != h.inode || !S_ISREG(st.st_mode) || st.st_nlink != 0) {
    ::close(fd);
    refuse(h, kind, "the path now opens another file (the process that gave it out has dropped the object)");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = size ? ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  if (p == MAP_FAILED) {
    const int err = size ? errno : EINVAL;
    ::close(fd);
    throw_os_error(err, "mmap of shared memory arena " + h.segment);
  }
  auto a = std::make_shared<const arena>(fd, static_cast<std::byte*>(p), size, h.device, h.inode);
  std::lock_guard g(hs.mu);
  auto& slot = hs.mapped[key];
  if (auto other = slot.lock()) return other;  // another thread mapped it meanwhile; ours goes
  slot = a;
  return a;
}

}  // namespace

arena::~arena() {
  ::munmap(base_, size_);
  ::close(fd_);
  heap_state& h = heap();
  std::lock_guard g(h.mu);
  auto it = h.mapped.find({device_, inode_});
  if (it != h.mapped.end() && it->second.expired()) h.mapped.erase(it);
}

shared_place allocate(std::size_t size) {
  if (size == 0) size = 1;
  size = round_up(size, block_align);
  heap_state& h = heap();
  if (size > kArenaSize / 4) {
    auto a = new_arena(round_up(size, page_size()));
    std::lock_guard g(h.mu);
    h.mapped[{a->device(), a->inode()}] = a;
    return {a, a->base()};
  }
  // Declared before the lock: an arena that goes is unmapped after the
  // mutex is released (~arena takes it).
  std::shared_ptr<const arena> fresh, old;
  std::unique_lock g(h.mu);
  while (!h.current || h.used + size > h.current->size()) {
    if (fresh) {
      h.mapped[{fresh->device(), fresh->inode()}] = fresh;
      old = std::exchange(h.current, std::move(fresh));
      h.used = 0;
      break;
    }
    // Made without the mutex (system calls); another thread may have made
    // one meanwhile, and then this one goes unused.
    g.unlock();
    fresh = new_arena(kArenaSize);
    g.lock();
  }
  shared_place p{h.current, h.current->base() + h.used};
  h.used += size;
  g.unlock();
  return p;
}

shared_handle make_handle(std::string kind, const shared_place& p, std::uint64_t length) {
  shared_handle h;
  h.kind = std::move(kind);
  h.segment = "/proc/" + std::to_string(current_pid()) + "/fd/" + std::to_string(p.owner->fd());
  h.offset = p.offset();
  h.length = length;
  h.device = p.owner->device();
  h.inode = p.owner->inode();
  return h;
}

shared_place attach(const shared_handle& h, std::string_view kind, std::size_t size, std::size_t align) {
  if (h.kind != kind) refuse(h, kind, "it is a handle of a " + h.kind);
  auto a = map_arena(h, kind);
  if (h.offset > a->size() || size > a->size() - h.offset) refuse(h, kind, "out of the arena's bounds");
  if (h.offset % align != 0) refuse(h, kind, "misaligned");
  std::byte* addr = a->base() + h.offset;
  return {std::move(a), addr};
}

constinit thread_local std::uint32_t tls_tid CORIO_TLS_MODEL = 0;
constinit std::atomic<std::uint32_t> g_pid{0};

std::uint32_t fetch_tid() noexcept {
  heap();  // the fork handler that resets the cache is installed
  tls_tid = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  return tls_tid;
}

std::uint32_t fetch_pid() noexcept {
  heap();
  const auto p = static_cast<std::uint32_t>(::getpid());
  g_pid.store(p, std::memory_order_relaxed);
  return p;
}

}  // namespace corio::multiprocessing::detail

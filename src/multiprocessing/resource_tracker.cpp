// The resource tracker of shared_memory segments (see
// detail/resource_tracker.hpp).
#include <corio/multiprocessing/detail/resource_tracker.hpp>

#include <corio/detail/spawn.hpp>

#include "random_bytes.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace corio::multiprocessing::detail {

namespace {

// The environment variable that makes a copy of this program the tracker:
// "<fd>:<token>", the token also being the first message on the socket, so
// that a variable inherited by accident turns no program into a tracker.
constexpr char kEnvName[] = "CORIO_RESOURCE_TRACKER";
// glibc's shm_open puts segments here.
constexpr char kShmDir[] = "/dev/shm/";
constexpr std::size_t kNameMax = 255;
// A message: 'R' (created) or 'U' (unlinked), the device and inode (R
// only), then the name; 'T' and the token first of all.
constexpr std::size_t kHeader = 1 + 8 + 8;

// == the tracker ==================================================================

struct tracked {
  std::string name;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  int fd = -1;  // open while the tracker waits for the segment's users
};

std::uint64_t read_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t r = ::write(fd, s.data(), s.size());
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    s.remove_prefix(static_cast<std::size_t>(r));
  }
}

bool same_file(int fd, const tracked& t) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_dev) == t.device &&
         static_cast<std::uint64_t>(st.st_ino) == t.inode;
}

[[noreturn]] void run_tracker(int sock) {
  std::vector<tracked> segments;
  char msg[kHeader + kNameMax + 1];
  for (;;) {
    const ssize_t r = ::read(sock, msg, sizeof msg);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;  // every holder of the other end is gone
    if (static_cast<std::size_t>(r) <= kHeader || static_cast<std::size_t>(r) > kHeader + kNameMax) continue;
    const std::string name(msg + kHeader, static_cast<std::size_t>(r) - kHeader);
    auto it = std::find_if(segments.begin(), segments.end(), [&](const tracked& t) { return t.name == name; });
    if (msg[0] == 'U') {
      if (it != segments.end()) segments.erase(it);
    } else if (msg[0] == 'R') {
      if (it == segments.end()) it = segments.insert(segments.end(), tracked{name});
      it->device = read_u64(msg + 1);
      it->inode = read_u64(msg + 9);
    }
  }

  // Every process of the tree has ended: remove what it created and left,
  // once nobody holds it open.
  std::size_t busy = 0;
  std::string names;
  for (tracked& t : segments) {
    const std::string path = kShmDir + t.name;
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // unlinked by someone
    if (!same_file(fd, t)) {
      ::close(fd);  // the name is another segment now
      continue;
    }
    names += " '" + t.name + "'";
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      ::unlink(path.c_str());
      ::close(fd);
    } else {
      t.fd = fd;
      ++busy;
    }
  }
  if (!names.empty()) {
    std::string warning = "corio resource_tracker: there appear to be " +
                          std::to_string(std::count(names.begin(), names.end(), '\'') / 2) +
                          " leaked shared_memory objects to clean up at shutdown:" + names;
    if (busy > 0) warning += "; " + std::to_string(busy) + " still open elsewhere, removed once closed";
    write_all(2, warning + "\n");
  }
  // Nobody's output stays open while the tracker waits.
  ::close(2);
  for (tracked& t : segments) {
    if (t.fd < 0) continue;
    while (::flock(t.fd, LOCK_EX) < 0 && errno == EINTR) {
    }
    const std::string path = kShmDir + t.name;
    const int now = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (now >= 0) {
      if (same_file(now, t)) ::unlink(path.c_str());
      ::close(now);
    }
    ::close(t.fd);
  }
  ::_exit(0);
}

// A copy of this program started by start_tracker() becomes the tracker
// here, before main() and before the program's own static constructors
// (priority 101 comes first).
__attribute__((constructor(101))) void become_tracker_if_asked() {
  const char* v = std::getenv(kEnvName);
  if (!v) return;
  const std::string value = v;
  ::unsetenv(kEnvName);  // not passed on, whatever happens
  const auto colon = value.find(':');
  if (colon == std::string::npos) return;
  const int sock = std::atoi(value.substr(0, colon).c_str());
  const std::string token = "T" + value.substr(colon + 1);
  int type = 0;
  socklen_t len = sizeof type;
  if (sock < 3 || ::getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET) return;
  char first[64];
  const ssize_t n = ::recv(sock, first, sizeof first, MSG_DONTWAIT);
  if (n != static_cast<ssize_t>(token.size()) || token.compare(0, token.size(), first, token.size()) != 0) return;

  // This is the tracker. It leaves its starter's children (the process in
  // between exits at once) and its session, and ignores the signals
  // Python's tracker ignores: a ^C or a TERM to the whole group must not
  // stop the cleanup.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const pid_t pid = ::fork();
  if (pid != 0) ::_exit(pid < 0 ? 1 : 0);
  ::setsid();
  if (::chdir("/") < 0) {
  }
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    if (null > 2) ::close(null);
  }
  run_tracker(sock);
}

// == the processes that use it ==================================================

std::mutex g_mu;
int g_fd = -1;

void install_fork_handlers() {
  static const bool done = [] {
    ::pthread_atfork([] { g_mu.lock(); }, [] { g_mu.unlock(); }, [] { g_mu.unlock(); });
    return true;
  }();
  (void)done;
}

std::string random_token() {
  unsigned char bytes[16];
  if (!fill_random(bytes, sizeof bytes)) return {};
  return to_hex(bytes, sizeof bytes);
}

// The variables the tracker's copy of this program needs besides the
// token: when this code is in a shared library rather than the program
// (which may even have loaded it with dlopen, not knowing corio), the
// library is preloaded, so that become_tracker_if_asked runs there before
// the program's main can.
void add_preload(std::map<std::string, std::string>& env) {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&become_tracker_if_asked), &info) == 0 || !info.dli_fname) return;
  struct stat lib {}, exe {};
  if (::stat(info.dli_fname, &lib) < 0 || ::stat("/proc/self/exe", &exe) < 0) return;
  if (lib.st_dev == exe.st_dev && lib.st_ino == exe.st_ino) return;  // in the program itself
  std::string preload = info.dli_fname;
  if (const char* old = std::getenv("LD_PRELOAD"); old && *old) preload += std::string(":") + old;
  env["LD_PRELOAD"] = preload;
}

// Waits up to 10 s for the process in between to exit (it does at once);
// kills it otherwise. Whether it exited with status 0.
bool reap_starter(const corio::detail::spawned_child& c) {
  pollfd p{c.pidfd.get(), POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, 10000);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) ::syscall(SYS_pidfd_send_signal, c.pidfd.get(), SIGKILL, nullptr, 0);
  siginfo_t si{};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(c.pidfd.get()), &si, WEXITED) < 0 &&
         errno == EINTR) {
  }
  return r > 0 && si.si_code == CLD_EXITED && si.si_status == 0;
}

// Starts a tracker (g_mu held): our end of its socket, or -1. The tracker
// is a new copy of this program (a fresh image: it holds none of our
// memory, mappings or fds but its socket and stderr), spawned without
// copying our page tables.
int start_tracker() {
  const std::string token = random_token();
  if (token.empty()) return -1;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return -1;
  const std::string hello = "T" + token;
  if (::send(sv[0], hello.data(), hello.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(hello.size())) {
    ::close(sv[0]);
    ::close(sv[1]);
    return -1;
  }
  try {
    corio::detail::spawn_request r;
    r.program = "/proc/self/exe";
    r.argv = {"corio-resource-tracker"};
    std::map<std::string, std::string> extra{{kEnvName, std::to_string(sv[1]) + ":" + token}};
    add_preload(extra);
    r.env = corio::detail::environment_block(nullptr, extra);
    r.pass_fds = {sv[1]};
    corio::detail::spawned_child c = corio::detail::spawn(r);
    ::close(sv[1]);
    sv[1] = -1;
    // The process in between exits as soon as it has started the tracker.
    if (!reap_starter(c)) {
      ::close(sv[0]);
      return -1;
    }
    return sv[0];
  } catch (...) {
    ::close(sv[0]);
    if (sv[1] >= 0) ::close(sv[1]);
    return -1;
  }
}

void send_message(char op, const std::string& name, std::uint64_t device, std::uint64_t inode) {
  if (name.empty() || name.size() > kNameMax) return;
  char msg[kHeader + kNameMax];
  msg[0] = op;
  for (int i = 0; i < 8; ++i) {
    msg[1 + i] = static_cast<char>(device >> (8 * i));
    msg[9 + i] = static_cast<char>(inode >> (8 * i));
  }
  std::memcpy(msg + kHeader, name.data(), name.size());
  const std::size_t len = kHeader + name.size();
  install_fork_handlers();
  const int saved = errno;
  std::lock_guard g(g_mu);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (g_fd < 0) {
      if (op == 'U') break;  // no tracker: nothing registered with one
      g_fd = start_tracker();
      if (g_fd < 0) break;
    }
    if (::send(g_fd, msg, len, MSG_NOSIGNAL) == static_cast<ssize_t>(len)) break;
    // The tracker is gone (killed): a new one for this registration; what
    // the old one knew is lost with it.
    ::close(g_fd);
    g_fd = -1;
    if (op == 'U') break;
  }
  errno = saved;
}

}  // namespace

void tracker_register(const std::string& name, std::uint64_t device, std::uint64_t inode) {
  send_message('R', name, device, inode);
}

void tracker_unregister(const std::string& name) { send_message('U', name, 0, 0); }

int tracker_fd() noexcept {
  install_fork_handlers();
  std::lock_guard g(g_mu);
  return g_fd;
}

void adopt_tracker_fd(int fd) noexcept {
  install_fork_handlers();
  std::lock_guard g(g_mu);
  if (g_fd >= 0 && g_fd != fd) ::close(g_fd);
  g_fd = fd;
}

}  // namespace corio::multiprocessing::detail

// The spawn and forkserver start methods, and freeze_support().
//
// A spawned child is a fresh copy of the program (/proc/self/exe, started
// by the subprocess spawn core), told what it is by an environment
// variable naming an fd it inherits: "spawn:<fd>", a memfd holding the
// child's payload (who it is, its parent, the function to run and its
// encoded arguments), or "forkserver:<fd>", the socket of a fork server.
// main() calls freeze_support(), which finds the variable, runs the child
// and exits. Functions cross as (module, offset): the module is the
// program ("") or a shared library (its path), found again in the child
// with dl_iterate_phdr, and the address must fall in one of its executable
// segments.
//
// The fork server is a spawned copy of the program that forks a child per
// request: the parent sends, with SCM_RIGHTS on a SOCK_SEQPACKET socket,
// the payload's memfd, a pidfd of itself (the child's parent_process()),
// and the write end of a pipe on which the server writes the child's pid
// and, once it has reaped it, its exit code (4 bytes each, native order).
// That pipe's read end is the process's sentinel; a server that dies
// closes it, and the code is then 255 (Python's popen_forkserver).
#include <corio/multiprocessing/detail/process_state.hpp>
#include <corio/multiprocessing/process.hpp>

#include <corio/detail/child.hpp>
#include <corio/detail/pipes.hpp>
#include <corio/detail/spawn.hpp>
#include <corio/os_errors.hpp>

#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

extern char** environ;

namespace corio::multiprocessing::detail {

using corio::detail::unique_fd;

namespace {

// -- functions as module offsets -------------------------------------------------

struct module_hit {
  std::uintptr_t addr = 0;
  bool first = true;  // the first object is the program itself
  bool found = false;
  bool executable = false;
  std::string name;
  std::uintptr_t base = 0;
};

// The lowest loaded address of an object: what offsets are counted from.
std::uintptr_t base_of(const dl_phdr_info* info) {
  std::uintptr_t lo = UINTPTR_MAX;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_LOAD) lo = std::min<std::uintptr_t>(lo, info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  return lo & ~std::uintptr_t(4095);
}

int find_address(dl_phdr_info* info, std::size_t, void* data) {
  auto* h = static_cast<module_hit*>(data);
  const bool is_program = h->first;
  h->first = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (h->addr >= lo && h->addr < lo + ph.p_memsz) {
      h->found = true;
      h->executable = (ph.p_flags & PF_X) != 0;
      h->name = is_program ? std::string() : std::string(info->dlpi_name ? info->dlpi_name : "");
      h->base = base_of(info);
      return 1;
    }
  }
  return 0;
}

struct location {
  std::string module;
  std::uint64_t offset = 0;
};

location locate(any_fn f, const std::string& what) {
  module_hit h;
  h.addr = reinterpret_cast<std::uintptr_t>(f);
  ::dl_iterate_phdr(&find_address, &h);
  if (!h.found || !h.executable)
    throw std::invalid_argument("multiprocessing: " + what + " is not code of the program or of a shared library");
  return {h.name, h.addr - h.base};
}

struct module_find {
  const std::string* name;
  bool first = true;
  bool found = false;
  std::uintptr_t base = 0;
  const dl_phdr_info* info = nullptr;
  std::uint64_t offset = 0;
  bool executable = false;
};

int find_module(dl_phdr_info* info, std::size_t, void* data) {
  auto* m = static_cast<module_find*>(data);
  const bool is_program = m->first;
  m->first = false;
  const bool match = m->name->empty() ? is_program : (!is_program && info->dlpi_name && *m->name == info->dlpi_name);
  if (!match) return 0;
  m->found = true;
  m->base = base_of(info);
  const std::uintptr_t addr = m->base + m->offset;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && addr >= lo && addr < lo + ph.p_memsz) m->executable = true;
  }
  return 1;
}

any_fn resolve(const std::string& module, std::uint64_t offset) {
  module_find m;
  m.name = &module;
  m.offset = offset;
  ::dl_iterate_phdr(&find_module, &m);
  const std::string where = module.empty() ? std::string("the program") : "'" + module + "'";
  if (!m.found) throw std::runtime_error("multiprocessing: the target's module " + where + " is not loaded in the child");
  if (!m.executable)
    throw std::runtime_error("multiprocessing: the target's offset " + std::to_string(offset) + " is not code in " + where);
  return reinterpret_cast<any_fn>(m.base + offset);
}

// -- the payload -------------------------------------------------------------------

child_payload make_payload(const process_state& s, const spawn_call& call, const std::string& target_type,
                           const char* method) {
  child_payload p;
  const location fn = locate(call.fn, "the target (" + target_type + ")");
  const location tr = locate(call.trampoline, "the target's trampoline");
  p.method = method;
  p.name = s.name;
  p.daemon = s.daemon;
  p.identity = s.identity;
  p.authkey = s.authkey;
  p.parent_pid = ::getpid();
  p.parent_name = self()->name;
  p.fn_module = fn.module;
  p.fn_offset = fn.offset;
  p.trampoline_module = tr.module;
  p.trampoline_offset = tr.offset;
  p.args = call.args;
  p.fds = call.fds;
  return p;
}

unique_fd payload_memfd(const child_payload& p) {
  const std::string bytes = encode(p);
  unique_fd fd(static_cast<int>(::syscall(SYS_memfd_create, "corio-multiprocessing", MFD_CLOEXEC)));
  if (!fd) throw_errno("multiprocessing: memfd_create");
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t w = ::write(fd.get(), bytes.data() + off, bytes.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) throw_errno("multiprocessing: writing the child's payload");
    off += static_cast<std::size_t>(w);
  }
  return fd;
}

child_payload read_payload(int fd) {
  std::string bytes;
  char buf[65536];
  ::lseek(fd, 0, SEEK_SET);
  for (;;) {
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("multiprocessing: reading the child's payload");
    if (r == 0) break;
    bytes.append(buf, static_cast<std::size_t>(r));
  }
  return decode<child_payload>(bytes);
}

// Runs the payload in this (new) process and exits.
[[noreturn]] void run_payload(const child_payload& p, int parent_pidfd, bool use_exit) {
  auto me = std::make_shared<process_state>();
  me->name = p.name;
  me->daemon = p.daemon;
  me->identity = p.identity;
  me->authkey = p.authkey;
  me->method = p.method;
  auto parent = std::make_shared<process_state>();
  parent->name = p.parent_name;
  parent->pid = static_cast<pid_t>(p.parent_pid);
  parent->ph = phase::started;
  parent->authkey = p.authkey;
  if (parent_pidfd >= 0) parent->pidfd = unique_fd(parent_pidfd);
  become_child(std::move(me), std::move(parent));
  bootstrap(
      [&p] {
        const any_fn fn = resolve(p.fn_module, p.fn_offset);
        const auto tr = reinterpret_cast<void (*)(any_fn, std::string_view)>(
            resolve(p.trampoline_module, p.trampoline_offset));
        const fd_provider fds(p.fds);
        tr(fn, p.args);
      },
      use_exit);
}

// The environment of a spawned copy: ours, with kChildEnv set.
std::vector<std::string> child_environment(const std::string& value) {
  std::vector<std::string> env;
  const std::string prefix = std::string(kChildEnv) + "=";
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) env.emplace_back(*e);
  env.push_back(prefix + value);
  return env;
}

corio::detail::spawned_child spawn_copy(const std::string& value, std::vector<int> pass_fds) {
  corio::detail::spawn_request r;
  r.argv = {"corio-multiprocessing-child"};
  // The name the child shows in ps: the program's own argv[0] if readable.
  if (FILE* f = std::fopen("/proc/self/cmdline", "rb")) {
    char buf[4096];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    if (n > 0) {
      buf[n] = '\0';
      r.argv[0] = buf;
    }
  }
  r.program = "/proc/self/exe";
  r.env = child_environment(value);
  r.pass_fds = std::move(pass_fds);
  r.close_fds = true;
  r.restore_signals = true;
  return corio::detail::spawn(r);
}

// Set when freeze_support() took over this process (or found nothing to do).
bool g_frozen = false;

// A spawned copy whose main() never called freeze_support(): say so at exit,
// with code 1 (the target never ran).
void missing_freeze_support() {
  if (g_frozen) return;
  const char msg[] =
      "corio::multiprocessing: this program was started as a spawn or forkserver child, but its main() did not call "
      "corio::multiprocessing::freeze_support() first: the target did not run\n";
  [[maybe_unused]] const ssize_t w = ::write(2, msg, sizeof msg - 1);
  ::_exit(1);
}

[[maybe_unused]] const bool g_watch_missing = [] {
  if (const char* v = std::getenv(kChildEnv); v && *v) std::atexit(&missing_freeze_support);
  return true;
}();

// -- the fork server -----------------------------------------------------------------

// Receives one request: up to 3 fds. False when the parent has gone.
constexpr std::size_t kMaxFds = 64;

bool recv_request(int sock, std::vector<int>& fds) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(kMaxFds * sizeof(int))];
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  for (;;) {
    const ssize_t r = ::recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    break;
  }
  fds.clear();
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const std::size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const std::size_t at = fds.size();
      fds.resize(at + n);
      std::memcpy(fds.data() + at, CMSG_DATA(c), n * sizeof(int));
    }
  }
  return true;
}

void write_int(int fd, std::int32_t v) {
  char buf[4];
  std::memcpy(buf, &v, 4);
  corio::detail::write_nosignal(fd, buf, 4);
}

// The server's loop: one child per request; each child's exit code goes
// to its status pipe once reaped. Ends when the parent has gone and every
// child has been reaped.
[[noreturn]] void serve(int sock) {
  struct kid {
    pid_t pid;
    unique_fd pidfd;
    unique_fd status;
  };
  std::vector<kid> kids;
  bool open = true;
  while (open || !kids.empty()) {
    std::vector<pollfd> fds;
    if (open) fds.push_back({sock, POLLIN, 0});
    for (const kid& k : kids) fds.push_back({k.pidfd.get(), POLLIN, 0});
    // A request below may add a kid: only the ones polled have an entry.
    const std::size_t polled = kids.size();
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    std::size_t i = 0;
    if (open) {
      if (fds[0].revents != 0) {
        std::vector<int> got;
        if (!recv_request(sock, got)) {
          open = false;
        } else if (got.size() >= 3) {
          unique_fd payload_fd(got[0]), parent_fd(got[1]), status_fd(got[2]);
          std::vector<unique_fd> extra;
          for (std::size_t e = 3; e < got.size(); ++e) extra.emplace_back(got[e]);
          child_payload p;
          bool ok = true;
          try {
            p = read_payload(payload_fd.get());
            p.fds.clear();
            for (const unique_fd& e : extra) p.fds.push_back(e.get());
          } catch (...) {
            ok = false;
          }
          if (ok) {
            const pid_t pid = ::fork();
            if (pid == 0) {
              ::close(sock);
              for (kid& k : kids) {
                k.pidfd.reset();
                k.status.reset();
              }
              status_fd.reset();
              payload_fd.reset();
              for (unique_fd& e : extra) (void)e.release();  // the child's arguments hold them
              run_payload(p, parent_fd.release(), false);
            }
            if (pid > 0) {
              write_int(status_fd.get(), pid);
              const int pfd = pidfd_open(pid);
              if (pfd >= 0) {
                kids.push_back({pid, unique_fd(pfd), std::move(status_fd)});
              } else {
                int st = 0;
                ::waitpid(pid, &st, 0);
                write_int(status_fd.get(), WIFSIGNALED(st) ? -WTERMSIG(st) : WEXITSTATUS(st));
              }
            }
          }
        } else {
          for (int fd : got) ::close(fd);
        }
      }
      i = 1;
    }
    for (std::size_t k = 0, seen = 0; seen < polled; ++seen, ++i) {
      if (fds[i].revents == 0) {
        ++k;
        continue;
      }
      int code = 255;
      try {
        code = corio::detail::reap(kids[k].pidfd.get(), kids[k].pid);
      } catch (...) {
      }
      write_int(kids[k].status.get(), code);
      kids.erase(kids.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  ::_exit(0);
}

struct server_handle {
  std::mutex mu;
  pid_t pid = -1;
  unique_fd pidfd;
  unique_fd sock;
  corio::detail::fork_origin origin;
};

server_handle& server() {
  static auto* const s = new server_handle;
  return *s;
}

// Starts the server if none runs (or it died, or it is a parent's).
void ensure_server_locked(server_handle& s) {
  if (s.sock && !s.origin.forked()) {
    pollfd p{s.pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return;  // alive
    try {
      corio::detail::reap(s.pidfd.get(), s.pid);
    } catch (...) {
    }
  }
  if (s.origin.forked()) {
    // A parent's server: its fds are copies; let go of them without touching it.
    s.sock.reset();
    s.pidfd.reset();
  }
  s.sock.reset();
  s.pidfd.reset();
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("multiprocessing: forkserver socketpair");
  unique_fd mine(sv[0]), theirs(sv[1]);
  corio::detail::spawned_child c = spawn_copy("forkserver:" + std::to_string(theirs.get()), {theirs.get()});
  s.pid = c.pid;
  s.pidfd = std::move(c.pidfd);
  s.sock = std::move(mine);
  s.origin = corio::detail::fork_origin{};
}

bool send_request(int sock, const std::vector<int>& fds) {
  char byte = 'r';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char ctrl[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  for (;;) {
    const ssize_t r = ::sendmsg(sock, &m, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    return r == 1;
  }
}

}  // namespace

void start_spawn(process_state& s, const spawn_call& call, const std::string& target_type) {
  child_payload p = make_payload(s, call, target_type, "spawn");
  unique_fd parent_fd = self_pidfd();
  p.parent_fd = parent_fd.get();
  const unique_fd mem = payload_memfd(p);
  std::vector<int> pass{mem.get(), parent_fd.get()};
  pass.insert(pass.end(), call.fds.begin(), call.fds.end());
  corio::detail::spawned_child c = spawn_copy("spawn:" + std::to_string(mem.get()), std::move(pass));
  std::lock_guard g(s.mu);
  s.pid = c.pid;
  s.pidfd = std::move(c.pidfd);
}

namespace {

// One request; the child's pid and the read end of its status pipe, or
// pid -1 if the server went away before answering.
std::pair<std::int32_t, unique_fd> request_child(int mem, int parent_fd, const std::vector<int>& extra) {
  int st[2];
  if (::pipe2(st, O_CLOEXEC) != 0) throw_errno("multiprocessing: forkserver status pipe");
  unique_fd status_r(st[0]), status_w(st[1]);
  std::vector<int> fds{mem, parent_fd, status_w.get()};
  fds.insert(fds.end(), extra.begin(), extra.end());
  if (fds.size() > kMaxFds)
    throw std::invalid_argument("multiprocessing: at most " + std::to_string(kMaxFds - 3) +
                                " connections can go to a forkserver child");
  server_handle& srv = server();
  {
    std::lock_guard g(srv.mu);
    ensure_server_locked(srv);
    if (!send_request(srv.sock.get(), fds)) {
      srv.sock.reset();  // it died since it was last seen
      ensure_server_locked(srv);
      if (!send_request(srv.sock.get(), fds)) throw_errno("multiprocessing: sending a request to the fork server");
    }
  }
  status_w.reset();
  char buf[4];
  std::size_t got = 0;
  while (got < 4) {
    const ssize_t r = ::read(status_r.get(), buf + got, 4 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  std::int32_t pid = -1;
  if (got == 4) std::memcpy(&pid, buf, 4);
  return {pid, std::move(status_r)};
}

}  // namespace

void start_forkserver(process_state& s, const spawn_call& call, const std::string& target_type) {
  child_payload p = make_payload(s, call, target_type, "forkserver");
  unique_fd parent_fd = self_pidfd();
  const unique_fd mem = payload_memfd(p);
  auto [pid, status] = request_child(mem.get(), parent_fd.get(), call.fds);
  if (pid < 0) {
    // The server died with the request unanswered (it was dying when it
    // was sent): once more, with a new server.
    {
      server_handle& srv = server();
      std::lock_guard g(srv.mu);
      if (srv.pidfd) {
        try {
          corio::detail::reap(srv.pidfd.get(), srv.pid);
        } catch (...) {
        }
      }
      srv.sock.reset();
      srv.pidfd.reset();
    }
    std::tie(pid, status) = request_child(mem.get(), parent_fd.get(), call.fds);
  }
  if (pid < 0) throw process_error("multiprocessing: the fork server did not start the child");
  std::lock_guard g(s.mu);
  s.pid = pid;
  s.status = std::move(status);
  const int pfd = pidfd_open(pid);  // for terminate() and kill(); not ours to reap
  if (pfd >= 0) s.pidfd = unique_fd(pfd);
}

void stop_forkserver() noexcept {
  server_handle& srv = server();
  std::lock_guard g(srv.mu);
  if (!srv.sock || srv.origin.forked()) return;
  srv.sock.reset();  // the server ends once its children have
  try {
    corio::detail::reap(srv.pidfd.get(), srv.pid);
  } catch (...) {
  }
  srv.pidfd.reset();
}

}  // namespace corio::multiprocessing::detail

namespace corio::multiprocessing {

void freeze_support() {
  using namespace detail;
  const char* v = std::getenv(kChildEnv);
  g_frozen = true;
  if (!v || !*v) return;
  const std::string what(v);
  ::unsetenv(kChildEnv);
  const std::size_t colon = what.find(':');
  const std::string kind = what.substr(0, colon);
  const int fd = colon == std::string::npos ? -1 : std::atoi(what.c_str() + colon + 1);
  if (fd < 0) {
    std::fprintf(stderr, "corio::multiprocessing: bad %s value '%s'\n", kChildEnv, what.c_str());
    std::_Exit(1);
  }
  if (kind == "forkserver") serve(fd);
  child_payload p;
  try {
    p = read_payload(fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "corio::multiprocessing: the spawned child cannot read what to run: %s\n", e.what());
    std::_Exit(1);
  }
  ::close(fd);
  run_payload(p, p.parent_fd, true);
}

}  // namespace corio::multiprocessing

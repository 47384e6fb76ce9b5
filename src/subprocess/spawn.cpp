// Starting a child process (see detail/spawn.hpp for the design).
#include <corio/detail/child.hpp>
#include <corio/detail/spawn.hpp>
#include <corio/os_errors.hpp>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>

extern char** environ;

// glibc's clone under its other exported name. ThreadSanitizer intercepts
// `clone` and runs its fork bookkeeping in the child, which with CLONE_VM
// rewrites the parent's own state (it then refuses to start threads);
// `__clone` is the same function, not intercepted.
extern "C" int __clone(int (*fn)(void*), void* stack, int flags, void* arg, ...);

namespace corio::detail {

namespace {

// What failed in the child.
constexpr int kStageNone = 0;
constexpr int kStageExec = 1;
constexpr int kStageChdir = 2;
constexpr int kStageSetup = 3;  // dup2, pass_fds, setsid, setpgid

// The kernel's sigset for rt_sigaction / rt_sigprocmask: 64 signals.
constexpr unsigned long kSigsetSize = 8;

// Everything the child needs, prepared by the parent: the child may only
// make system calls.
struct child_plan {
  char* const* argv;
  char* const* envp;
  const char* const* candidates;
  std::size_t ncandidates;
  const char* cwd;  // null: keep the parent's
  int stdio[3];     // each >= 3, or its own target, or -1
  const int* keep;  // pass_fds, sorted, unique
  std::size_t nkeep;
  bool close_fds;
  bool restore_signals;
  bool setsid;
  int pgid;
  sigset_t mask;  // the caller's signal mask, to exec with
  // Written by the child when something fails (read once it is gone).
  int err;
  int stage;
};

// The child shares the parent's memory and runs on a stack of its own: no
// sanitizer bookkeeping (which lives in the parent's state) may run in it.
#define CORIO_CHILD_CODE __attribute__((no_sanitize("address", "thread", "undefined"), noinline))

[[noreturn]] CORIO_CHILD_CODE void child_fail(child_plan* p, int stage, int err) {
  *static_cast<volatile int*>(&p->err) = err;
  *static_cast<volatile int*>(&p->stage) = stage;
  for (;;) ::syscall(SYS_exit, 127);
}

// Closes [lo, hi] (hi may be ~0u), with close_range where the kernel has it
// (5.9), else one by one up to the fd limit.
CORIO_CHILD_CODE void close_span(unsigned lo, unsigned hi) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, lo, hi, 0) == 0) return;
#endif
  unsigned long lim[2] = {1ul << 20, 1ul << 20};  // struct rlimit: cur, max
  ::syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, lim);
  const unsigned long end = hi < lim[0] ? hi : lim[0] - 1;
  for (unsigned long fd = lo; fd <= end; ++fd) ::syscall(SYS_close, fd);
}

CORIO_CHILD_CODE int child_main(void* arg) {
  auto* p = static_cast<child_plan*>(arg);
  // Every caught signal back to SIG_DFL: a handler would run on the
  // parent's memory, and exec resets them anyway. The kernel's struct
  // sigaction starts with the handler; all zeros is SIG_DFL.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    unsigned long old[4] = {0, 0, 0, 0};
    if (::syscall(SYS_rt_sigaction, sig, nullptr, old, kSigsetSize) != 0) continue;
    const auto h = old[0];
    bool to_default = h != reinterpret_cast<unsigned long>(SIG_DFL) && h != reinterpret_cast<unsigned long>(SIG_IGN);
    // Python's restore_signals: the two signals Python ignores.
    if (p->restore_signals && (sig == SIGPIPE || sig == SIGXFSZ)) to_default = h != reinterpret_cast<unsigned long>(SIG_DFL);
    if (to_default) {
      unsigned long dfl[4] = {0, 0, 0, 0};
      ::syscall(SYS_rt_sigaction, sig, dfl, nullptr, kSigsetSize);
    }
  }
  // fds 0-2. The parent moved every source below 3 that is not its own
  // target, so no dup2 here overwrites a source still to be used.
  for (int i = 0; i < 3; ++i) {
    const int s = p->stdio[i];
    if (s < 0) continue;
    if (s == i) {
      const long fl = ::syscall(SYS_fcntl, i, F_GETFD);
      if (fl < 0 || ::syscall(SYS_fcntl, i, F_SETFD, fl & ~FD_CLOEXEC) < 0) child_fail(p, kStageSetup, errno);
    } else if (::syscall(SYS_dup3, s, i, 0) < 0) {
      child_fail(p, kStageSetup, errno);
    }
  }
  for (std::size_t k = 0; k < p->nkeep; ++k) {
    const int fd = p->keep[k];
    const long fl = ::syscall(SYS_fcntl, fd, F_GETFD);
    if (fl < 0 || ::syscall(SYS_fcntl, fd, F_SETFD, fl & ~FD_CLOEXEC) < 0) child_fail(p, kStageSetup, errno);
  }
  if (p->close_fds) {
    unsigned lo = 3;
    for (std::size_t k = 0; k < p->nkeep; ++k) {
      const auto fd = static_cast<unsigned>(p->keep[k]);
      if (fd < lo) continue;
      if (fd > lo) close_span(lo, fd - 1);
      lo = fd + 1;
    }
    close_span(lo, ~0u);
  }
  if (p->setsid && ::syscall(SYS_setsid) < 0) child_fail(p, kStageSetup, errno);
  if (p->pgid >= 0 && ::syscall(SYS_setpgid, 0, p->pgid) < 0) child_fail(p, kStageSetup, errno);
  if (p->cwd && ::syscall(SYS_chdir, p->cwd) < 0) child_fail(p, kStageChdir, errno);
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &p->mask, nullptr, kSigsetSize);
  // Python's _posixsubprocess: try each candidate; report the first error
  // that is not "no such file" (EACCES of an earlier PATH entry wins), else
  // the last.
  int first = 0, last = ENOENT;
  for (std::size_t i = 0; i < p->ncandidates; ++i) {
    ::syscall(SYS_execve, p->candidates[i], p->argv, p->envp);
    last = errno;
    if (first == 0 && last != ENOENT && last != ENOTDIR) first = last;
  }
  child_fail(p, kStageExec, first != 0 ? first : last);
}

void check_no_nul(std::string_view s, const char* what) {
  if (s.find('\0') != std::string_view::npos)
    throw std::invalid_argument(std::string("subprocess: embedded null byte in ") + what);
}

// The PATH a bare program name is searched in: the child's environment's,
// else this process's, else Python's os.defpath.
std::string search_path(const spawn_request& r) {
  if (r.env) {
    for (const std::string& kv : *r.env)
      if (kv.compare(0, 5, "PATH=") == 0) return kv.substr(5);
    return "/bin:/usr/bin";
  }
  const char* p = std::getenv("PATH");
  return p ? p : "/bin:/usr/bin";
}

// The paths execve is tried with (Python: executable_list).
std::vector<std::string> candidates_of(const spawn_request& r) {
  if (r.program.find('/') != std::string::npos) return {r.program};
  std::vector<std::string> out;
  const std::string path = search_path(r);
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = path.find(':', b);
    const std::string dir = path.substr(b, e == std::string::npos ? std::string::npos : e - b);
    out.push_back(dir.empty() ? r.program : dir + "/" + r.program);  // os.path.join("", p) is p
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

// A source fd 0-2 that is not its own target would be overwritten by an
// earlier dup2 (stdin=1, stdout=0): the child gets a copy above 2 instead.
struct moved_fds {
  unique_fd fds[3];
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

// The stack children run on until execve (a few hundred bytes are used).
// One per thread, kept: the thread sleeps while its child uses it
// (CLONE_VFORK), so two children never share one, and keeping it spares
// each spawn an mmap, its page faults and an munmap.
char* child_stack_top() noexcept {
  constexpr std::size_t kStack = 64 * 1024;
  struct cached {
    void* mem = nullptr;
    ~cached() {
      if (mem) ::munmap(mem, kStack);
    }
  };
  static thread_local cached stack;
  if (!stack.mem) {
    void* m = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    stack.mem = m;
  }
  return static_cast<char*>(stack.mem) + kStack;
}

}  // namespace

spawned_child spawn(const spawn_request& r) {
  if (r.argv.empty()) throw std::invalid_argument("subprocess: the argument list is empty");
  for (std::size_t i = 0; i < r.argv.size(); ++i) check_no_nul(r.argv[i], "an argument");
  check_no_nul(r.program, "the program name");
  check_no_nul(r.cwd, "cwd");
  if (r.env)
    for (const std::string& kv : *r.env) check_no_nul(kv, "the environment");
  for (int fd : r.pass_fds)
    if (fd < 0) throw std::invalid_argument("subprocess: pass_fds holds a negative fd (" + std::to_string(fd) + ")");

  std::vector<char*> argv;
  argv.reserve(r.argv.size() + 1);
  for (const std::string& a : r.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (r.env) {
    envp.reserve(r.env->size() + 1);
    for (const std::string& kv : *r.env) envp.push_back(const_cast<char*>(kv.c_str()));
    envp.push_back(nullptr);
  }
  const std::vector<std::string> cands = candidates_of(r);
  std::vector<const char*> cand_ptrs;
  cand_ptrs.reserve(cands.size());
  for (const std::string& c : cands) cand_ptrs.push_back(c.c_str());
  std::vector<int> keep(r.pass_fds);
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());

  moved_fds moved;
  child_plan plan{};
  plan.argv = argv.data();
  plan.envp = r.env ? envp.data() : environ;
  plan.candidates = cand_ptrs.data();
  plan.ncandidates = cand_ptrs.size();
  plan.cwd = r.cwd.empty() ? nullptr : r.cwd.c_str();
  for (int i = 0; i < 3; ++i) {
    int s = r.stdio[i];
    if (s >= 0 && s < 3 && s != i) {
      moved.fds[i].reset(::fcntl(s, F_DUPFD_CLOEXEC, 3));
      if (!moved.fds[i]) throw_errno("cannot start " + quoted(r.program) + ": fd " + std::to_string(s));
      s = moved.fds[i].get();
    }
    plan.stdio[i] = s;
  }
  plan.keep = keep.data();
  plan.nkeep = keep.size();
  plan.close_fds = r.close_fds;
  plan.restore_signals = r.restore_signals;
  plan.setsid = r.start_new_session;
  plan.pgid = r.process_group;

  char* const stack_top = child_stack_top();
  if (!stack_top) throw_errno("cannot start " + quoted(r.program) + ": mmap of the child's stack");

  // Block every signal, glibc's internal ones too (hence the raw call), so
  // no handler runs in the child before it has reset them.
  sigset_t all;
  ::sigfillset(&all);
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &plan.mask, kSigsetSize);
  int pidfd = -1;
  const pid_t pid = ::__clone(&child_main, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &plan, &pidfd);
  const int clone_err = errno;
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &plan.mask, nullptr, kSigsetSize);

  if (pid < 0) {
    if (clone_err == EINVAL)
      throw os_error(clone_err, "cannot start " + quoted(r.program) + ": clone(CLONE_PIDFD) needs Linux 5.2 or later");
    throw_os_error(clone_err, "cannot start " + quoted(r.program) + ": clone");
  }
  spawned_child child{pid, unique_fd(pidfd)};
  if (plan.stage == kStageNone) return child;

  // The child has called _exit: collect it, then say what failed.
  try {
    reap(child.pidfd.get(), pid);
  } catch (...) {
  }
  switch (plan.stage) {
    case kStageChdir:
      std::rethrow_exception(make_os_error(
          plan.err, "cannot change to directory " + quoted(r.cwd) + " to run " + quoted(r.program), r.cwd));
    case kStageExec:
      std::rethrow_exception(make_os_error(plan.err, "cannot run " + quoted(r.program), r.program));
    default:
      std::rethrow_exception(make_os_error(plan.err, "cannot start " + quoted(r.program) + " (setting up the child)"));
  }
}

std::vector<std::string> environment_block(const std::map<std::string, std::string>* base,
                                           const std::map<std::string, std::string>& extra) {
  auto check = [](const std::string& name, const std::string& value) {
    if (name.find('=') != std::string::npos || name.find('\0') != std::string::npos)
      throw std::invalid_argument("subprocess: illegal environment variable name '" + name + "'");
    check_no_nul(value, "an environment value");
  };
  std::map<std::string, std::string> merged;
  if (base) {
    merged = *base;
  } else {
    for (char** e = environ; e && *e; ++e) {
      const std::string_view kv(*e);
      const std::size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      merged.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
  }
  for (const auto& [k, v] : extra) merged[k] = v;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [k, v] : merged) {
    check(k, v);
    out.push_back(k + "=" + v);
  }
  return out;
}

}  // namespace corio::detail

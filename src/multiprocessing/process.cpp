// Processes (see multiprocessing/process.hpp): their state and handles,
// this process's bookkeeping, the fork start method and the child's
// bootstrap. spawn and forkserver are in spawn.cpp.
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/detail/process_state.hpp>

#include "random_bytes.hpp"
#include <corio/multiprocessing/process.hpp>

#include <corio/detail/child.hpp>
#include <corio/detail/pipes.hpp>
#include <corio/detail/repr.hpp>
#include <corio/exceptions.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

namespace corio::multiprocessing {

namespace detail {

using corio::detail::unique_fd;
using clock = std::chrono::steady_clock;

std::string type_name_of(const std::type_info& t) { return corio::detail::type_name(t); }

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

namespace {

std::string make_authkey() {
  std::string k(32, '\0');
  if (!detail::fill_random(k.data(), k.size()))
    for (char& c : k) c = static_cast<char>(std::rand());  // no entropy: still non-empty
  return k;
}

// Everything about this process; never destroyed (the exit handler and
// daemon children may use it while statics go).
struct bookkeeping {
  std::mutex mu;
  std::shared_ptr<process_state> me;
  std::shared_ptr<process_state> parent;
  std::vector<std::shared_ptr<process_state>> children;
  std::uint64_t counter = 1;
  std::once_flag atexit_once;
};

bookkeeping& book() {
  static bookkeeping* const b = [] {
    auto* bk = new bookkeeping;
    bk->me = std::make_shared<process_state>();
    bk->me->kind = state_kind::self;
    bk->me->name = "MainProcess";
    bk->me->authkey = make_authkey();
    bk->me->pid = ::getpid();
    bk->me->ph = phase::started;
    return bk;
  }();
  return *b;
}

void write_stderr(const std::string& s) noexcept {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = ::write(2, s.data() + off, s.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    off += static_cast<std::size_t>(w);
  }
}

}  // namespace

void flush_stdio() noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {
  }
  std::fflush(nullptr);
}

std::shared_ptr<process_state> self() {
  bookkeeping& b = book();
  std::lock_guard g(b.mu);
  return b.me;
}

std::uint64_t next_index() {
  bookkeeping& b = book();
  std::lock_guard g(b.mu);
  return b.counter++;
}

void add_child(std::shared_ptr<process_state> s) {
  bookkeeping& b = book();
  std::call_once(b.atexit_once, [] { std::atexit([] { exit_function(); }); });
  std::lock_guard g(b.mu);
  b.children.push_back(std::move(s));
}

void become_child(std::shared_ptr<process_state> me, std::shared_ptr<process_state> parent) {
  bookkeeping& b = book();
  std::lock_guard g(b.mu);
  me->kind = state_kind::self;
  me->pid = ::getpid();
  me->ph = phase::started;
  me->returncode.reset();
  me->pidfd.reset();
  me->status.reset();
  if (parent) parent->kind = state_kind::parent;
  // The parent's children are not ours: their fds (inherited through
  // fork) are closed, without their locks (another thread of the parent
  // may have held one at the fork; only this thread exists here).
  for (auto& c : b.children) {
    c->pidfd.reset();
    c->status.reset();
  }
  b.children.clear();
  const std::string method = me->method;
  b.me = std::move(me);
  b.parent = std::move(parent);
  b.counter = 1;
  // MP-12: the child's stdin is the null device.
  if (const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC); null >= 0) {
    if (null != 0) {
      ::dup2(null, 0);
      ::close(null);
    }
  }
  // MP-14: a child reports the start method it was started with.
  if (!method.empty()) set_start_method(method, true);
}

void exit_function() noexcept {
  try {
    bookkeeping& b = book();
    std::vector<std::shared_ptr<process_state>> kids;
    {
      std::lock_guard g(b.mu);
      kids = b.children;
    }
    const auto now = clock::now();
    for (auto& c : kids) {
      std::lock_guard g(c->mu);
      if (c->origin.forked()) continue;
      if (c->daemon && c->ph == phase::started && !c->poll_locked(now)) c->signal(SIGTERM);
    }
    for (auto& c : kids) {
      std::lock_guard g(c->mu);
      if (c->origin.forked() || c->ph != phase::started) continue;
      try {
        c->poll_locked(std::nullopt);
      } catch (...) {
      }
    }
    {
      std::lock_guard g(b.mu);
      b.children.clear();
    }
    stop_forkserver();
  } catch (...) {
  }
}

[[noreturn]] void bootstrap(const std::function<void()>& body, bool use_exit) noexcept {
  int code = 0;
  try {
    body();
  } catch (const system_exit& e) {
    code = e.code();
  } catch (...) {
    // Python: "Process <name>:" and the traceback, flushed (MP-03).
    std::string name;
    try {
      name = self()->name;
    } catch (...) {
    }
    flush_stdio();
    write_stderr("Process " + name + ":\n" + describe_exception(std::current_exception()) + "\n");
    code = 1;
  }
  exit_function();
  threading::detail::join_non_daemon_threads();
  flush_stdio();
  if (use_exit) std::exit(code);
  ::_exit(code);
}

void check_may_start() {
  if (const char* v = std::getenv(kChildEnv); v && *v)
    throw std::runtime_error(
        "multiprocessing: an attempt has been made to start a new process before the current process has finished "
        "its bootstrapping phase: this program was started as a spawn or forkserver child, and its main() did not "
        "call corio::multiprocessing::freeze_support() first (Python: the `if __name__ == '__main__':` guard)");
  if (self()->daemon) throw process_error("daemonic processes are not allowed to have children");
}

unique_fd self_pidfd() {
  const int fd = pidfd_open(::getpid());
  if (fd < 0) throw_errno("multiprocessing: pidfd_open of this process (Linux 5.3 or later is needed)");
  return unique_fd(fd);
}

// -- a child's exit ------------------------------------------------------------

std::optional<int> process_state::poll_locked(std::optional<clock::time_point> deadline) {
  if (returncode || ph != phase::started) return returncode;
  if (kind == state_kind::self) return std::nullopt;
  const int fd = sentinel_locked();
  if (fd < 0) return std::nullopt;
  pollfd p{fd, POLLIN, 0};
  const bool now_only = deadline && *deadline <= clock::now();
  const int ready = now_only ? ::poll(&p, 1, 0) : corio::detail::poll_until(&p, 1, deadline);
  if (ready <= 0) return std::nullopt;
  if (kind == state_kind::parent) {
    returncode = 0;  // gone; its exit status is not ours to read
    return returncode;
  }
  if (status) {  // forkserver: the server wrote the code, or died (255, as Python)
    std::int32_t code = 255;
    char buf[4];
    std::size_t got = 0;
    while (got < 4) {
      const ssize_t r = ::read(status.get(), buf + got, 4 - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    if (got == 4) std::memcpy(&code, buf, 4);
    returncode = code;
    return returncode;
  }
  returncode = corio::detail::try_reap(pidfd.get(), pid);
  if (!returncode) returncode = corio::detail::reap(pidfd.get(), pid);  // readable: it has ended
  return returncode;
}

int process_state::sentinel_locked() const {
  if (status) return status.get();
  return pidfd.get();
}

void process_state::signal(int sig) {
  if (returncode || !pidfd) return;
  corio::detail::signal_child(pidfd.get(), pid, sig);
}

// -- fork ------------------------------------------------------------------------

// Called by the owner without s.mu held (the child must not inherit it
// locked); the fields it reads are the owner's to change.
void start_fork(process_state& s, const std::function<void()>& body) {
  unique_fd parent_fd = self_pidfd();
  std::shared_ptr<process_state> parent_copy;
  {
    auto me = self();
    parent_copy = std::make_shared<process_state>();
    parent_copy->kind = state_kind::parent;
    parent_copy->name = me->name;
    parent_copy->pid = ::getpid();
    parent_copy->ph = phase::started;
    parent_copy->authkey = me->authkey;
  }
  flush_stdio();  // buffered output would be written twice
  // Signals wait until the child has set aside the parent's loops' handlers
  // (the fork handlers): a terminate() right after start() must not be
  // swallowed by a handler of a loop that will never run in the child.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = ::fork();
  const int fork_err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) throw_os_error(fork_err, "multiprocessing: fork");
  if (pid == 0) {
    // The child: the copy of `s` becomes the current process.
    auto me = std::make_shared<process_state>();
    me->name = s.name;
    me->daemon = s.daemon;
    me->identity = s.identity;
    me->authkey = s.authkey;
    me->method = "fork";
    parent_copy->pidfd = std::move(parent_fd);
    become_child(std::move(me), std::move(parent_copy));
    bootstrap(body, false);
  }
  parent_fd.reset();
  const int pfd = pidfd_open(pid);
  if (pfd < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw_os_error(err, "multiprocessing: pidfd_open of the forked child " + std::to_string(pid) +
                            " (Linux 5.3 or later is needed)");
  }
  std::lock_guard g(s.mu);
  s.pid = pid;
  s.pidfd = unique_fd(pfd);
}

namespace {

// The bookkeeping is consistent in a fork child (another thread may be
// using it at the fork).
void book_prepare() noexcept { book().mu.lock(); }
void book_parent() noexcept { book().mu.unlock(); }
void book_child() noexcept { book().mu.unlock(); }
[[maybe_unused]] const bool g_atfork = (::pthread_atfork(&book_prepare, &book_parent, &book_child), true);

}  // namespace

}  // namespace detail

using detail::clock;
using detail::phase;
using detail::process_state;
using detail::state_kind;

namespace {

[[noreturn]] void closed_error() { throw std::invalid_argument("process object is closed"); }

std::optional<clock::time_point> deadline_of(std::optional<process::duration> timeout) {
  if (!timeout) return std::nullopt;
  const auto d = std::max(*timeout, process::duration::zero());
  if (d.count() > 1e9) return std::nullopt;
  return clock::now() + std::chrono::duration_cast<clock::duration>(d);
}

std::string short_type_name(const std::type_info& t) {
  std::string n = corio::detail::type_name(t);
  // Python uses the class's own name, without its module.
  int depth = 0;
  std::size_t cut = 0;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (n[i] == '<') ++depth;
    if (n[i] == '>') --depth;
    if (depth == 0 && n[i] == ':' && i + 1 < n.size() && n[i + 1] == ':') cut = i + 2;
  }
  return n.substr(cut);
}

std::string identity_text(const std::vector<std::uint64_t>& id) {
  std::string s;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i) s += ':';
    s += std::to_string(id[i]);
  }
  return s;
}

void join_state(process_state& s, std::optional<process::duration> timeout) {
  std::unique_lock g(s.mu);
  if (s.ph == phase::closed) closed_error();
  if (s.kind == state_kind::self) throw std::runtime_error("cannot join current process");
  if (s.ph == phase::initial) throw std::runtime_error("can only join a started process");
  if (s.kind == state_kind::child && s.origin.forked()) throw std::runtime_error("can only join a child process");
  s.poll_locked(deadline_of(timeout));
}

}  // namespace

// -- process_handle ---------------------------------------------------------------

std::string process_handle::name() const {
  std::lock_guard g(s_->mu);
  return s_->name;
}
std::optional<pid_t> process_handle::pid() const {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) closed_error();
  if (s_->pid < 0) return std::nullopt;
  return s_->pid;
}
bool process_handle::daemon() const {
  std::lock_guard g(s_->mu);
  return s_->daemon;
}
std::string process_handle::authkey() const {
  std::lock_guard g(s_->mu);
  return s_->authkey;
}
std::optional<int> process_handle::exitcode() const {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) closed_error();
  if (s_->kind != state_kind::child) return std::nullopt;
  return s_->poll_locked(clock::now());
}
bool process_handle::is_alive() const {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) closed_error();
  if (s_->kind == state_kind::self) return true;
  if (s_->ph != phase::started) return false;
  return !s_->poll_locked(clock::now());
}
void process_handle::join(std::optional<duration> timeout) const { join_state(*s_, timeout); }
void process_handle::terminate() const {
  std::lock_guard g(s_->mu);
  if (s_->kind == state_kind::child) s_->signal(SIGTERM);
}
void process_handle::kill() const {
  std::lock_guard g(s_->mu);
  if (s_->kind == state_kind::child) s_->signal(SIGKILL);
}
int process_handle::sentinel() const {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) closed_error();
  const int fd = s_->sentinel_locked();
  if (fd < 0) throw std::invalid_argument("process not started");
  return fd;
}

// -- process ------------------------------------------------------------------------

process::process(process_options opts) : process(std::move(opts), std::unique_ptr<detail::target_base>()) {}

process::process(process_options opts, std::unique_ptr<detail::target_base> target)
    : s_(std::make_shared<process_state>()), target_(std::move(target)) {
  auto me = detail::self();
  s_->name = std::move(opts.name);
  {
    std::lock_guard g(me->mu);
    s_->daemon = opts.daemon.value_or(me->daemon);
    s_->identity = me->identity;
    s_->authkey = me->authkey;
  }
  s_->identity.push_back(detail::next_index());
}

process::~process() = default;

void process::run() {
  if (target_) target_->call();
}

std::string process::name() const {
  std::lock_guard g(s_->mu);
  if (!s_->name.empty()) return s_->name;
  return (typeid(*this) == typeid(process) ? std::string("Process") : short_type_name(typeid(*this))) + "-" +
         identity_text(s_->identity);
}

void process::set_name(std::string name) {
  std::lock_guard g(s_->mu);
  s_->name = std::move(name);
}

bool process::daemon() const {
  std::lock_guard g(s_->mu);
  return s_->daemon;
}

void process::set_daemon(bool daemon) {
  std::lock_guard g(s_->mu);
  if (s_->ph != phase::initial) throw std::runtime_error("process has already started");
  s_->daemon = daemon;
}

std::string process::authkey() const {
  std::lock_guard g(s_->mu);
  return s_->authkey;
}

std::optional<pid_t> process::pid() const { return handle().pid(); }
std::optional<int> process::exitcode() { return handle().exitcode(); }
bool process::is_alive() { return handle().is_alive(); }
int process::sentinel() const { return handle().sentinel(); }

void process::join(std::optional<duration> timeout) { join_state(*s_, timeout); }

task<void> process::join_async() {
  const int fd = [&] {
    std::lock_guard g(s_->mu);
    if (s_->ph == phase::closed) closed_error();
    if (s_->ph == phase::initial) throw std::runtime_error("can only join a started process");
    if (s_->origin.forked()) throw std::runtime_error("can only join a child process");
    return s_->sentinel_locked();
  }();
  auto keep = s_;
  if (!keep->returncode) co_await corio::wait_readable(fd);
  std::lock_guard g(keep->mu);
  keep->poll_locked(std::nullopt);
}

void process::terminate() {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) closed_error();
  s_->signal(SIGTERM);
}

void process::kill() {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) closed_error();
  s_->signal(SIGKILL);
}

void process::close() {
  std::lock_guard g(s_->mu);
  if (s_->ph == phase::closed) return;
  if (s_->ph == phase::started) {
    if (!s_->poll_locked(clock::now()))
      throw std::invalid_argument("Cannot close a process while it is still running. You should first call join() "
                                  "or terminate().");
  }
  s_->pidfd.reset();
  s_->status.reset();
  s_->ph = phase::closed;
  target_.reset();
}

void process::start() { start_with(get_context()); }

void process::start_with(const context& ctx) {
  const std::string method = ctx.get_start_method();
  {
    std::lock_guard g(s_->mu);
    if (s_->ph == phase::closed) closed_error();
    if (s_->ph != phase::initial) throw std::runtime_error("cannot start a process twice");
    if (s_->origin.forked()) throw std::runtime_error("can only start a process object created by current process");
  }
  detail::check_may_start();
  std::optional<detail::spawn_call> call;
  if (method != "fork") {
    const bool overridden = typeid(*this) != typeid(process);
    if (!overridden && target_) call = target_->spawnable();
    if (!call) {
      const std::string what = overridden ? "the run() of " + corio::detail::type_name(typeid(*this))
                               : target_  ? "a target of type " + target_->describe()
                                          : std::string("a process without a target");
      throw std::invalid_argument("multiprocessing: the " + method + " start method runs a function in a fresh copy "
                                  "of the program, and cannot run " + what +
                                  " (a callable with captures, or a subclass, needs fork)");
    }
  }
  {
    std::lock_guard g(s_->mu);
    if (s_->name.empty())
      s_->name = (typeid(*this) == typeid(process) ? std::string("Process") : short_type_name(typeid(*this))) + "-" +
                 identity_text(s_->identity);
    s_->method = method;
  }
  // The owner's fields are stable now: start without holding the lock (a
  // fork child must not inherit it locked). What was printed before the
  // start comes out before the child's output.
  detail::flush_stdio();
  if (method == "fork") {
    detail::start_fork(*s_, [this] { run(); });  // the child runs run() on its copy of this object
  } else if (method == "spawn") {
    detail::start_spawn(*s_, *call, target_->describe());
  } else {
    detail::start_forkserver(*s_, *call, target_->describe());
  }
  {
    std::lock_guard g(s_->mu);
    s_->ph = phase::started;
  }
  target_.reset();  // MP-01: the parent drops the target and its arguments
  detail::add_child(s_);
}

// -- module functions ---------------------------------------------------------------

struct process_access {
  static process_handle make(std::shared_ptr<process_state> s) { return process_handle(std::move(s)); }
};

process_handle current_process() { return process_access::make(detail::self()); }

std::optional<process_handle> parent_process() {
  auto& b = detail::book();
  std::lock_guard g(b.mu);
  if (!b.parent) return std::nullopt;
  return process_access::make(b.parent);
}

std::vector<process_handle> active_children() {
  auto& b = detail::book();
  std::vector<std::shared_ptr<process_state>> kids;
  {
    std::lock_guard g(b.mu);
    kids = b.children;
  }
  std::vector<process_handle> alive;
  std::vector<process_state*> ended;
  const auto now = clock::now();
  for (auto& c : kids) {
    std::lock_guard g(c->mu);
    if (c->ph == phase::started && !c->poll_locked(now)) {
      alive.push_back(process_access::make(c));
    } else {
      ended.push_back(c.get());
    }
  }
  std::lock_guard g(b.mu);
  std::erase_if(b.children, [&](const auto& c) { return std::find(ended.begin(), ended.end(), c.get()) != ended.end(); });
  return alive;
}

int cpu_count() {
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace corio::multiprocessing

#include <corio/threading/thread.hpp>

#include <corio/exceptions.hpp>
#include <corio/detail/fork.hpp>
#include <corio/detail/repr.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <stdexcept>
#include <thread>

#include <typeinfo>

#include <cxxabi.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corio::threading {

namespace detail {

enum class thread_kind : std::uint8_t { thread, main, dummy };
enum class thread_phase : int { initial, starting, running, finished };

// Everything about one thread that outlives its `thread` object: shared by
// the object, the running thread, the registry and every handle.
struct thread_state {
  thread_state(thread_kind k, std::string n, bool d) : kind(k), name(std::move(n)), daemon(d) {}

  const thread_kind kind;
  // Guards `name`, and orders an OS-name change from another thread before
  // the thread's end (phase leaves `running` under it), so pthread_t stays valid.
  mutable std::mutex mu;
  std::string name;
  std::atomic<bool> daemon;
  std::atomic<std::uint64_t> ident{0};  // 0: not started (Python: None)
  std::atomic<std::uint64_t> native_id{0};
  std::atomic<thread_phase> phase{thread_phase::initial};
  event started;   // the thread runs and is registered
  event released;  // the thread no longer uses its `thread` object
  event finished;  // run() has returned and the thread left the registry
  std::unique_ptr<thread_target> target;  // moved out by run()
  // Started by start_thread or start_timer: no object owns it, so a later
  // start reclaims it once it has finished (or exit waits for it).
  bool owned_by_library = false;
  // The dynamic type of the object that started the thread, when it is a
  // subclass (see ~thread()); set by start(), before the thread exists.
  const std::type_info* subclass = nullptr;
  // The OS thread, joined or detached once, under os_mu. It lives here, not
  // in the `thread` object, so that exit can reclaim the thread of an object
  // that was never destroyed. It is never left joinable when the last owner
  // lets go: a destroyed object joined or detached it first.
  std::mutex os_mu;
  std::thread os;
};

struct handle_access {
  static thread_handle make(std::shared_ptr<thread_state> s) noexcept { return thread_handle(std::move(s)); }
};

}  // namespace detail

namespace {

using detail::thread_kind;
using detail::thread_phase;
using detail::thread_state;

// Shared by "Thread-N" and "Dummy-N", as Python's _counter is.
std::atomic<std::uint64_t> name_counter{1};

std::string new_name(const char* prefix) { return prefix + std::to_string(name_counter.fetch_add(1)); }

// Linux keeps 15 bytes of a thread's name; cut at a UTF-8 character boundary.
std::string os_name(const std::string& name) {
  constexpr std::size_t kMax = 15;
  if (name.size() <= kMax) return name;
  std::size_t len = kMax;
  while (len > 0 && (static_cast<unsigned char>(name[len]) & 0xC0) == 0x80) --len;
  return name.substr(0, len);
}

// Called with st.mu held and the thread running, so its pthread_t is valid.
void apply_os_name(const thread_state& st) noexcept {
  ::pthread_setname_np(static_cast<pthread_t>(st.ident.load(std::memory_order_relaxed)), os_name(st.name).c_str());
}

void wait_for_non_daemon_threads();

// Every live thread, in the order they became known (Python: _active).
// Never destroyed: daemon threads may still leave it while the process exits.
struct registry {
  registry() {
    main = std::make_shared<thread_state>(thread_kind::main, "MainThread", false);
    if (get_native_id() == static_cast<std::uint64_t>(::getpid())) {
      main->ident.store(get_ident());
      main->native_id.store(get_native_id());
    }
    main->phase.store(thread_phase::running);
    alive.push_back(main);
  }
  void add(std::shared_ptr<thread_state> st) {
    std::lock_guard g(mu);
    alive.push_back(std::move(st));
  }
  void remove(const thread_state* st) {
    std::lock_guard g(mu);
    const auto it = std::find_if(alive.begin(), alive.end(), [st](const auto& p) { return p.get() == st; });
    if (it != alive.end()) alive.erase(it);
  }
  // Python: threading._shutdown() waits for the non-daemon threads; here an
  // atexit handler, registered when the first thread starts so that it runs
  // before the static objects that existed by then are destroyed.
  void on_first_start() {
    std::call_once(atexit_once, [] { std::atexit(&wait_for_non_daemon_threads); });
  }
  // Threads started and not yet joined or detached; add_unreaped is called
  // with st.os_mu held (lock order: os_mu, then mu).
  void add_unreaped(std::shared_ptr<thread_state> st) {
    std::lock_guard g(mu);
    unreaped.push_back(std::move(st));
  }
  void forget_unreaped(const thread_state* st) {
    std::lock_guard g(mu);
    const auto it = std::find_if(unreaped.begin(), unreaped.end(), [st](const auto& p) { return p.get() == st; });
    if (it != unreaped.end()) unreaped.erase(it);
  }

  std::mutex mu;
  std::vector<std::shared_ptr<thread_state>> alive;
  std::vector<std::shared_ptr<thread_state>> unreaped;
  std::shared_ptr<thread_state> main;
  std::once_flag atexit_once;
};

registry& reg() {
  static registry* const r = new registry();
  return *r;
}

// Built during static initialisation, normally on the main thread, so that
// main_thread() knows its ident even when first asked from another thread.
[[maybe_unused]] const bool registry_built = (reg(), true);

// The calling thread's state. For a dummy, the slot's destructor (at thread
// exit) takes it off the registry.
struct current_slot {
  std::shared_ptr<thread_state> st;
  current_slot() = default;
  current_slot(const current_slot&) = delete;
  current_slot& operator=(const current_slot&) = delete;
  ~current_slot() {
    if (st && st->kind == thread_kind::dummy) {
      {
        std::lock_guard g(st->mu);
        st->phase.store(thread_phase::finished);
      }
      reg().remove(st.get());
      st->finished.set();
    }
  }
};
thread_local current_slot tl_current;

const std::shared_ptr<thread_state>& current_state() {
  if (tl_current.st) return tl_current.st;
  registry& r = reg();
  if (get_native_id() == static_cast<std::uint64_t>(::getpid())) {
    // The main thread (on Linux its tid is the pid).
    std::uint64_t none = 0;
    r.main->ident.compare_exchange_strong(none, get_ident());
    r.main->native_id.store(get_native_id());
    tl_current.st = r.main;
  } else {
    auto st = std::make_shared<thread_state>(thread_kind::dummy, new_name("Dummy-"), true);
    st->ident.store(get_ident());
    st->native_id.store(get_native_id());
    st->phase.store(thread_phase::running);
    st->started.set();
    r.add(st);
    tl_current.st = std::move(st);
  }
  return tl_current.st;
}

// Joins (or detaches) the OS thread of `st` unless that was done already.
// Lock order: os_mu, then the registry's mu.
void reap(thread_state& st, bool join) noexcept {
  std::lock_guard g(st.os_mu);
  if (!st.os.joinable()) return;
  if (join) {
    st.os.join();
  } else {
    st.os.detach();
  }
  reg().forget_unreaped(&st);
}

// Reclaims the OS threads of library-owned threads that have finished, so
// that a program starting threads and never joining them (a timer re-armed
// on every tick) does not keep their stacks: called by each start_thread.
void reap_finished_owned() noexcept {
  std::vector<std::shared_ptr<thread_state>> done;
  {
    registry& r = reg();
    std::lock_guard g(r.mu);
    for (const auto& st : r.unreaped) {
      if (st->owned_by_library && st->phase.load() == thread_phase::finished) {
        try {
          done.push_back(st);
        } catch (...) {
          break;  // the rest next time
        }
      }
    }
  }
  for (const auto& st : done) {
    {
      std::lock_guard g(st->os_mu);
      // One of them may be the calling thread, past its run() and in a
      // thread_local destructor: it cannot join itself.
      if (!st->os.joinable() || st->os.get_id() == std::this_thread::get_id()) continue;
    }
    reap(*st, true);  // at its very end: the join is short
  }
}

// Every non-daemon thread not yet joined belongs to an object that was never
// destroyed (destroying one joins it), or was started by start_thread or
// start_timer: wait for it to end, and reclaim it.
void wait_for_non_daemon_threads() {
  for (;;) {
    std::shared_ptr<thread_state> next;
    {
      registry& r = reg();
      std::lock_guard g(r.mu);
      for (const auto& st : r.unreaped) {
        if (!st->daemon.load() && st.get() != tl_current.st.get()) {
          next = st;
          break;
        }
      }
    }
    if (!next) return;
    next->finished.wait();
    reap(*next, true);
  }
}

std::optional<std::uint64_t> id_or_none(const std::atomic<std::uint64_t>& v) noexcept {
  const std::uint64_t x = v.load(std::memory_order_acquire);
  if (x == 0) return std::nullopt;
  return x;
}

std::string name_of(const thread_state& st) {
  std::lock_guard g(st.mu);
  return st.name;
}

void rename(thread_state& st, std::string name) {
  std::lock_guard g(st.mu);
  st.name = std::move(name);
  if (st.kind == thread_kind::thread && st.phase.load() == thread_phase::running) apply_os_name(st);
}

std::mutex& hook_mu() {
  static auto* const m = new std::mutex();
  return *m;
}
excepthook_fn& hook() {
  static auto* const h = new excepthook_fn();
  return *h;
}

void write_stderr(const std::string& s) noexcept {
  std::fwrite(s.data(), 1, s.size(), stderr);  // one write: lines of threads do not mix
  std::fflush(stderr);
}

std::string type_name(const std::type_info& t) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(t.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && p ? std::string(p.get()) : std::string(t.name());
}

// ~thread() found the thread of a subclass object started and neither joined
// nor settled: the subclass's part is already destroyed while the thread
// may still run (or be about to call) its run() on it. Waiting now would not
// help, and going on would leave a use of a destroyed object behind, so the
// process stops here, in every build, as a joinable std::thread's destructor
// stops it.
[[noreturn]] void unsettled_subclass(const thread_state& st) noexcept {
  std::string type;
  try {
    type = type_name(*st.subclass);
  } catch (...) {
    type = "a subclass of corio::threading::thread";
  }
  write_stderr("corio::threading::thread: thread '" + name_of(st) + "' (" + type +
               ") was destroyed while it was started and not joined: its run() may still be using the "
               "destroyed object. Join the thread before destroying it, or call settle() first in the "
               "destructor of " + type + ".\n");
  std::terminate();
}

}  // namespace

// -- module functions ------------------------------------------------------------

std::uint64_t get_ident() noexcept { return static_cast<std::uint64_t>(::pthread_self()); }

std::uint64_t get_native_id() noexcept { return static_cast<std::uint64_t>(::syscall(SYS_gettid)); }

thread_handle current_thread() { return detail::handle_access::make(current_state()); }

thread_handle main_thread() { return detail::handle_access::make(reg().main); }

std::vector<thread_handle> enumerate() {
  registry& r = reg();
  std::lock_guard g(r.mu);
  std::vector<thread_handle> out;
  out.reserve(r.alive.size());
  for (const auto& st : r.alive) out.push_back(detail::handle_access::make(st));
  return out;
}

std::size_t active_count() {
  registry& r = reg();
  std::lock_guard g(r.mu);
  return r.alive.size();
}

void default_excepthook(const excepthook_args& args) {
  if (!args.exc) return;
  try {
    std::rethrow_exception(args.exc);
  } catch (const system_exit&) {
    return;  // Python ignores SystemExit here
  } catch (...) {
  }
  write_stderr("Exception in thread " + args.thread.name() + ":\n" + describe_exception(args.exc) + "\n");
}

void excepthook(const excepthook_args& args) {
  excepthook_fn fn;
  {
    std::lock_guard g(hook_mu());
    fn = hook();
  }
  try {
    if (fn) {
      fn(args);
    } else {
      default_excepthook(args);
    }
  } catch (...) {
    write_stderr("Exception in threading.excepthook:\n" + describe_exception(std::current_exception()) + "\n");
  }
}

excepthook_fn set_excepthook(excepthook_fn fn) {
  std::lock_guard g(hook_mu());
  return std::exchange(hook(), std::move(fn));
}

// -- thread_handle -----------------------------------------------------------------

std::string thread_handle::name() const { return name_of(*state_); }
void thread_handle::set_name(std::string name) { rename(*state_, std::move(name)); }
std::optional<std::uint64_t> thread_handle::ident() const noexcept { return id_or_none(state_->ident); }
std::optional<std::uint64_t> thread_handle::native_id() const noexcept { return id_or_none(state_->native_id); }
bool thread_handle::is_alive() const noexcept { return state_->phase.load() == thread_phase::running; }
bool thread_handle::daemon() const noexcept { return state_->daemon.load(); }

namespace {

// Python: Thread.__repr__, `<Class(name, status)>`.
std::ostream& write_thread(std::ostream& os, const thread_state& st, const std::string& cls) {
  const thread_phase phase = st.phase.load();
  os << '<' << cls << '(' << name_of(st) << ", ";
  // `starting` is still "initial" to Python: its _started event is not set yet.
  os << (phase == thread_phase::finished ? "stopped" : phase == thread_phase::running ? "started" : "initial");
  if (st.daemon.load(std::memory_order_relaxed)) os << " daemon";
  if (const std::uint64_t id = st.ident.load(std::memory_order_relaxed)) os << ' ' << id;
  return os << ")>";
}

std::string class_name(const std::type_info& t) {
  if (t == typeid(thread)) return "Thread";
  if (t == typeid(timer)) return "Timer";
  return corio::detail::type_name(t);
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const thread_handle& t) {
  const thread_state& st = *t.state_;
  std::string cls = "Thread";
  if (st.kind == thread_kind::main) {
    cls = "_MainThread";
  } else if (st.kind == thread_kind::dummy) {
    cls = "_DummyThread";
  } else if (const thread_phase p = st.phase.load();
             (p == thread_phase::running || p == thread_phase::finished) && st.subclass != nullptr) {
    cls = class_name(*st.subclass);  // written by start() before the thread began
  }
  return write_thread(os, st, cls);
}

std::ostream& operator<<(std::ostream& os, const thread& t) { return write_thread(os, *t.state_, class_name(typeid(t))); }

// -- thread ------------------------------------------------------------------------

thread::thread(thread_options opts)
    : state_(std::make_shared<thread_state>(thread_kind::thread,
                                            opts.name.empty() ? new_name("Thread-") : std::move(opts.name),
                                            opts.daemon ? *opts.daemon : current_state()->daemon.load())) {}

thread::thread(detail::adopt_target_t, thread_options opts, std::unique_ptr<detail::thread_target> target)
    : thread(std::move(opts)) {
  state_->target = std::move(target);
}

thread::~thread() {
  thread_state& st = *state_;
  if (st.subclass != nullptr && st.phase.load() != thread_phase::initial) {
    std::lock_guard g(st.os_mu);
    // A thread that destroys its own object (from run()) is settled below.
    if (st.os.joinable() && st.os.get_id() != std::this_thread::get_id()) unsettled_subclass(st);
  }
  settle();
}

void thread::start() {
  auto expected = thread_phase::initial;
  if (!state_->phase.compare_exchange_strong(expected, thread_phase::starting))
    throw std::runtime_error("threads can only be started once");
  reg().on_first_start();
  // start() runs on the whole object: if it is a subclass, its destructor has
  // to join or settle before its members go (checked by ~thread()).
  if (typeid(*this) != typeid(thread)) state_->subclass = &typeid(*this);
  {
    std::lock_guard g(state_->os_mu);
    reg().add_unreaped(state_);
    try {
      state_->os = std::thread(&thread::bootstrap, this, state_);
    } catch (...) {
      reg().forget_unreaped(state_.get());
      state_->phase.store(thread_phase::initial);  // as in Python, it may be started again
      throw;
    }
  }
  state_->started.wait();
}

namespace {

// The life of a started thread around `body` (its run()): registration,
// then whatever escapes to the excepthook, then the end.
template <class Body>
void thread_main(const std::shared_ptr<thread_state>& st, Body body) {
  st->ident.store(get_ident(), std::memory_order_release);
  st->native_id.store(get_native_id(), std::memory_order_release);
  tl_current.st = st;
  {
    std::lock_guard g(st->mu);
    st->phase.store(thread_phase::running);
    apply_os_name(*st);
  }
  reg().add(st);
  st->started.set();

  // Runs also when pthread_exit() unwinds the thread.
  struct finish {
    thread_state& s;
    ~finish() {
      s.released.set();
      {
        std::lock_guard g(s.mu);
        s.phase.store(thread_phase::finished);
      }
      reg().remove(&s);
      s.finished.set();
    }
  } on_exit{*st};

  try {
    body();
  } catch (abi::__forced_unwind&) {
    throw;  // thread cancellation must unwind on
  } catch (...) {
    try {
      excepthook({std::current_exception(), detail::handle_access::make(st)});
    } catch (...) {  // nothing may end the process from here
    }
  }
}

}  // namespace

void thread::bootstrap(thread* self, std::shared_ptr<thread_state> st) {
  thread_main(st, [self] { self->run(); });
}

void thread::run() {
  const std::shared_ptr<thread_state> st = state_;
  std::unique_ptr<detail::thread_target> target = std::move(st->target);
  // From here on this object is not touched, so a daemon thread's object may
  // be destroyed while the target runs.
  if (tl_current.st == st) st->released.set();
  if (target) target->invoke();
}

namespace {

bool join_state(const std::shared_ptr<thread_state>& st, detail::clock::time_point deadline) {
  if (st->kind == thread_kind::main) {
    if (st->native_id.load() == get_native_id()) throw std::runtime_error("cannot join current thread");
    throw std::runtime_error("cannot join the main thread");
  }
  if (st->kind == thread_kind::dummy) throw std::runtime_error("cannot join a dummy thread");
  if (st->phase.load() == thread_phase::initial) throw std::runtime_error("cannot join thread before it is started");
  if (tl_current.st == st) throw std::runtime_error("cannot join current thread");
  if (!st->finished.wait_until(deadline)) return false;
  reap(*st, true);  // the OS thread is at its very end
  return true;
}

}  // namespace

void thread::join() { join_until(detail::clock::time_point::max()); }

bool thread::join_until(detail::clock::time_point deadline) { return join_state(state_, deadline); }

void thread_handle::join() { join_until(detail::clock::time_point::max()); }

bool thread_handle::join_until(detail::clock::time_point deadline) { return join_state(state_, deadline); }

// -- threads the library owns -------------------------------------------------------

namespace detail {

thread_handle start_owned(thread_options opts, std::unique_ptr<thread_target> target) {
  reap_finished_owned();
  reg().on_first_start();
  const bool daemon = opts.daemon ? *opts.daemon : current_state()->daemon.load();
  auto st = std::make_shared<thread_state>(thread_kind::thread,
                                           opts.name.empty() ? new_name("Thread-") : std::move(opts.name), daemon);
  st->target = std::move(target);
  st->owned_by_library = true;
  st->phase.store(thread_phase::starting);
  {
    std::lock_guard g(st->os_mu);
    // A daemon is detached at once: nobody waits for it at exit, and a
    // join() waits for its end through the state.
    if (!daemon) reg().add_unreaped(st);
    try {
      st->os = std::thread([st] {
        thread_main(st, [&st] {
          std::unique_ptr<thread_target> call = std::move(st->target);
          st->released.set();
          call->invoke();
        });
      });
    } catch (...) {
      if (!daemon) reg().forget_unreaped(st.get());
      throw;
    }
    if (daemon) st->os.detach();
  }
  st->started.wait();
  return handle_access::make(std::move(st));
}

void join_non_daemon_threads() noexcept {
  try {
    wait_for_non_daemon_threads();
  } catch (...) {
  }
}

// Held across a fork, so the child's copy of the registry is consistent.
void registry_fork_prepare() noexcept { reg().mu.lock(); }
void registry_fork_parent() noexcept { reg().mu.unlock(); }

// Only the forking thread exists in the child, and it becomes the main
// thread there (Python: threading._after_fork). The others are marked
// ended; their OS threads are forgotten without a join or detach (they are
// not in this process), leaving their std::thread objects empty.
void registry_fork_child() noexcept {
  registry& r = reg();
  const std::shared_ptr<thread_state> me = tl_current.st ? tl_current.st : r.main;
  auto forget = [&](const std::shared_ptr<thread_state>& st) {
    if (st == me) return;
    st->phase.store(thread_phase::finished);
    new (&st->os) std::thread();  // no destructor: the old one was joinable
    st->released.set();
    st->finished.set();
  };
  for (const auto& st : r.alive) forget(st);
  for (const auto& st : r.unreaped) forget(st);
  r.alive.clear();
  r.unreaped.clear();
  me->ident.store(get_ident());
  me->native_id.store(get_native_id());
  r.alive.push_back(me);
  r.main = me;
  tl_current.st = me;
  r.mu.unlock();
}

}  // namespace detail

void thread::settle() noexcept {
  thread_state& st = *state_;
  if (st.phase.load() == thread_phase::initial) return;
  {
    std::lock_guard g(st.os_mu);
    if (!st.os.joinable()) return;
    if (st.os.get_id() == std::this_thread::get_id()) {
      st.os.detach();  // destroyed by its own run(): it cannot wait for itself
      reg().forget_unreaped(&st);
      return;
    }
  }
  if (st.daemon.load()) {
    st.released.wait();
    reap(st, false);
  } else {
    st.finished.wait();
    reap(st, true);
  }
}

bool thread::is_alive() const noexcept { return state_->phase.load() == thread_phase::running; }
std::optional<std::uint64_t> thread::ident() const noexcept { return id_or_none(state_->ident); }
std::optional<std::uint64_t> thread::native_id() const noexcept { return id_or_none(state_->native_id); }
std::string thread::name() const { return name_of(*state_); }
void thread::set_name(std::string name) { rename(*state_, std::move(name)); }
bool thread::daemon() const noexcept { return state_->daemon.load(); }

void thread::set_daemon(bool daemon) {
  std::lock_guard g(state_->mu);  // against a concurrent start() reading it
  if (state_->phase.load() != thread_phase::initial)
    throw std::runtime_error("cannot set daemon status of active thread");
  state_->daemon.store(daemon);
}

thread_handle thread::handle() const noexcept { return detail::handle_access::make(state_); }

}  // namespace corio::threading

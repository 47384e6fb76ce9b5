// multiprocessing.Pool: the workers, the handler thread, and the messages
// between them.
//
// Each worker has its own duplex pipe (a socketpair) and holds at most one
// task: the handler thread sends a task message only to an idle worker, so
// when a worker's sentinel fires the pool knows exactly which task died
// with it. The handler thread is the only one that touches the workers; it
// starts them all (the first ones too), so that PR_SET_PDEATHSIG, which
// follows the thread that forked a child, stays tied to the pool's life.
//
// Messages (send_bytes frames):
//   task   [u32 head length][head: job, index, trampoline, fn, fn bytes][arguments]
//   result [u64 job][u32 index][u8 status: 0 value, 1 exception][payload]
// A result for job 0 is the initializer's failure, sent before the worker
// exits with code 1.
#include <corio/multiprocessing/detail/pool_job.hpp>
#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/multiprocessing/pool.hpp>

#include <corio/detail/unique_fd.hpp>
#include <corio/exceptions.hpp>
#include <corio/os_errors.hpp>

#include <link.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace corio::multiprocessing::detail {

using corio::detail::unique_fd;

// -- functions as module offsets ---------------------------------------------------

namespace {

std::uintptr_t module_base(const dl_phdr_info* info) {
  std::uintptr_t lo = UINTPTR_MAX;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_LOAD) lo = std::min<std::uintptr_t>(lo, info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  return lo & ~std::uintptr_t(4095);
}

struct code_search {
  std::uintptr_t addr = 0;     // locate: the address
  const code_ref* ref = nullptr;  // resolve: the module and offset
  bool first = true;           // the first object is the program
  bool found = false;
  bool executable = false;
  code_ref out;
  std::uintptr_t resolved = 0;
};

bool in_code(const dl_phdr_info* info, std::uintptr_t a) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const std::uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && a >= lo && a < lo + ph.p_memsz) return true;
  }
  return false;
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<code_search*>(data);
  const bool program = s->first;
  s->first = false;
  const std::string name = program ? std::string() : std::string(info->dlpi_name ? info->dlpi_name : "");
  if (s->ref) {
    if (name != s->ref->module || (!program && name.empty())) return 0;
    s->found = true;
    s->resolved = module_base(info) + s->ref->offset;
    s->executable = in_code(info, s->resolved);
    return 1;
  }
  if (!in_code(info, s->addr)) return 0;
  s->found = s->executable = true;
  s->out.module = name;
  s->out.offset = s->addr - module_base(info);
  return 1;
}

std::mutex g_code_mu;
std::unordered_map<std::uintptr_t, code_ref> g_located;
std::map<std::pair<std::string, std::uint64_t>, any_fn> g_resolved;

}  // namespace

code_ref locate_code(any_fn f, const char* what) {
  const auto a = reinterpret_cast<std::uintptr_t>(f);
  std::lock_guard g(g_code_mu);
  if (auto it = g_located.find(a); it != g_located.end()) return it->second;
  code_search s;
  s.addr = a;
  ::dl_iterate_phdr(&visit, &s);
  if (!s.found) throw std::invalid_argument(std::string("multiprocessing pool: ") + what +
                                            " is not code of the program or of a shared library");
  g_located.emplace(a, s.out);
  return s.out;
}

any_fn resolve_code(const code_ref& r) {
  std::lock_guard g(g_code_mu);
  const auto key = std::make_pair(r.module, r.offset);
  if (auto it = g_resolved.find(key); it != g_resolved.end()) return it->second;
  code_search s;
  s.ref = &r;
  ::dl_iterate_phdr(&visit, &s);
  const std::string where = r.module.empty() ? std::string("the program") : "'" + r.module + "'";
  if (!s.found) throw std::runtime_error("multiprocessing pool: the function's module " + where + " is not loaded in the worker");
  if (!s.executable)
    throw std::runtime_error("multiprocessing pool: offset " + std::to_string(r.offset) + " is not code in " + where);
  const auto f = reinterpret_cast<any_fn>(s.resolved);
  g_resolved.emplace(key, f);
  return f;
}

// -- messages ----------------------------------------------------------------------------

namespace {

using task_head = std::tuple<std::uint64_t, std::uint32_t, code_ref, code_ref, std::string>;
constexpr std::size_t kResultHead = 8 + 4 + 1;

void put_u32(std::string& out, std::size_t at, std::uint32_t v) { std::memcpy(out.data() + at, &v, 4); }

void begin_result(std::string& out, std::uint64_t job, std::uint32_t index, std::uint8_t status) {
  out.resize(kResultHead);
  std::memcpy(out.data(), &job, 8);
  std::memcpy(out.data() + 8, &index, 4);
  std::memcpy(out.data() + 12, &status, 1);
}

struct parsed_task {
  std::uint64_t job = 0;
  std::uint32_t index = 0;
  pool_trampoline tr = nullptr;
  any_fn fn = nullptr;
  std::string fn_bytes;
  std::string_view args;
};

parsed_task parse_task(std::string_view m) {
  if (m.size() < 4) throw codec_error("pool: a task message too short for its head");
  std::uint32_t n;
  std::memcpy(&n, m.data(), 4);
  if (m.size() - 4 < n) throw codec_error("pool: a task message shorter than its head says");
  auto head = decode<task_head>(m.substr(4, n));
  parsed_task t;
  t.job = std::get<0>(head);
  t.index = std::get<1>(head);
  t.tr = reinterpret_cast<pool_trampoline>(resolve_code(std::get<2>(head)));
  if (std::get<4>(head).empty()) t.fn = resolve_code(std::get<3>(head));
  t.fn_bytes = std::move(std::get<4>(head));
  t.args = m.substr(4 + n);
  return t;
}

// Runs a task; `out` gets the result message.
void run_task(std::string_view m, std::string& out) {
  std::uint64_t job = 0;
  std::uint32_t index = 0;
  try {
    parsed_task t = parse_task(m);
    job = t.job;
    index = t.index;
    begin_result(out, job, index, 0);
    t.tr(t.fn, t.fn_bytes, t.args, out);
  } catch (...) {
    begin_result(out, job, index, 1);
    encode_into(out, std::current_exception());
  }
}

// The worker: runs the initializer, then tasks until its pipe ends or it
// has run `maxtasks` (0: no limit).
void pool_worker(connection conn, std::string init, std::int64_t maxtasks, std::int64_t parent_pid,
                 std::vector<int> close_fds) {
  for (int fd : close_fds) ::close(fd);  // fork: the other workers' pipes, and ours' other end
  // A parent that dies takes its workers with it, even busy ones; an idle
  // one would also see its pipe end.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::kill(static_cast<pid_t>(parent_pid), 0) != 0 && errno == ESRCH) return;
  std::string out;
  if (!init.empty()) {
    run_task(init, out);
    if (out.size() >= kResultHead && out[12] != 0) {
      conn.send_bytes(out);
      throw corio::system_exit(1);
    }
  }
  for (std::int64_t done = 0; maxtasks <= 0 || done < maxtasks; ++done) {
    std::string m;
    try {
      m = conn.recv_bytes();
    } catch (const eof_error&) {
      return;
    }
    run_task(m, out);
    conn.send_bytes(out);
  }
}

}  // namespace

void begin_task_frame(std::string& out, std::uint64_t job, std::uint32_t index, const pool_call& call) {
  const std::size_t at = out.size();
  out.resize(at + 4);
  encode_into(out, task_head(job, index, call.trampoline, call.fn, call.fn_bytes));
  put_u32(out, at, static_cast<std::uint32_t>(out.size() - at - 4));
}

std::optional<pool_clock::time_point> pool_deadline(std::optional<pool_duration> timeout) {
  if (!timeout) return std::nullopt;
  const auto now = pool_clock::now();
  if (*timeout <= pool_duration::zero()) return now;
  if (*timeout > std::chrono::hours(24 * 365 * 100)) return std::nullopt;
  return now + std::chrono::duration_cast<pool_clock::duration>(*timeout);
}

void report_callback_error(const char* which, std::exception_ptr e) noexcept {
  try {
    const std::string text = "corio multiprocessing pool: a " + std::string(which) +
                             " raised; the pool goes on:\n" + describe_exception(e) + "\n";
    (void)!::write(2, text.data(), text.size());
  } catch (...) {
  }
}

// -- the pool's core ---------------------------------------------------------------------

namespace {

struct task_item {
  std::shared_ptr<pool_job> job;
  std::uint64_t id = 0;
  std::uint32_t index = 0;
  std::string frame;
};

struct worker_slot {
  std::unique_ptr<process> proc;
  connection conn;
  pid_t pid = -1;
  std::optional<task_item> current;
  std::int64_t given = 0;
};

std::string signal_text(int code) {
  if (code < 0) {
    const char* abbrev = ::sigabbrev_np(-code);
    return "killed by signal " + std::to_string(-code) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  }
  return "exited with code " + std::to_string(code);
}

}  // namespace

class pool_core {
 public:
  pool_core(int processes, std::optional<int> maxtasks, context ctx, std::string init)
      : n_(processes), maxtasks_(maxtasks.value_or(0)), ctx_(std::move(ctx)), init_(std::move(init)) {
    wake_ = unique_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw_errno("multiprocessing pool: eventfd");
    handler_ = std::thread([this] { handler_main(); });
    std::unique_lock g(mu_);
    cv_.wait(g, [&] { return started_ || start_error_; });
    if (start_error_) {
      g.unlock();
      handler_.join();
      std::rethrow_exception(start_error_);
    }
  }
  ~pool_core() {
    terminate();
    join_thread();
  }

  const std::string& method() const noexcept { return ctx_.get_start_method(); }
  int processes() const noexcept { return n_; }
  std::uint64_t next_id() noexcept { return ++ids_; }

  void check_usable() const {
    std::lock_guard g(mu_);
    check_usable_locked();
  }

  void submit(std::shared_ptr<pool_job> job, std::vector<std::string> frames, std::uint64_t id) {
    {
      std::lock_guard g(mu_);
      check_usable_locked();
      for (std::size_t i = 0; i < frames.size(); ++i)
        queue_.push_back(task_item{job, id, static_cast<std::uint32_t>(i), std::move(frames[i])});
      outstanding_ += frames.size();
    }
    wake();
  }

  void close() {
    {
      std::lock_guard g(mu_);
      if (state_ == st::running) state_ = st::closed;
    }
    wake();
  }
  void terminate() {
    {
      std::lock_guard g(mu_);
      state_ = st::terminating;
    }
    wake();
    join_thread();
  }
  void join() {
    {
      std::lock_guard g(mu_);
      if (state_ == st::running) throw std::invalid_argument("Pool is still running");
    }
    join_thread();
  }
  std::vector<pid_t> worker_pids() const {
    std::lock_guard g(mu_);
    return pids_;
  }

 private:
  enum class st { running, closed, terminating };

  void check_usable_locked() const {
    if (broken_) std::rethrow_exception(broken_);
    if (state_ != st::running) throw std::invalid_argument("Pool not running");
  }
  void wake() noexcept {
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  void join_thread() {
    std::lock_guard g(join_mu_);
    if (handler_.joinable()) handler_.join();
  }

  // -- the handler thread --

  void start_worker() {
    auto [mine, theirs] = multiprocessing::pipe(true);
    std::vector<int> close_fds;
    if (method() == "fork") {
      close_fds.push_back(mine.fileno());
      close_fds.push_back(wake_.get());
      for (auto& w : workers_)
        if (!w.conn.closed()) close_fds.push_back(w.conn.fileno());
    }
    const std::string prefix = method() == "fork" ? "ForkPoolWorker-" : method() == "spawn" ? "SpawnPoolWorker-" : "ForkServerPoolWorker-";
    auto p = std::make_unique<process>(process_options{.name = prefix + std::to_string(++started_count_), .daemon = true},
                                       pool_worker, std::move(theirs), init_, static_cast<std::int64_t>(maxtasks_),
                                       static_cast<std::int64_t>(::getpid()), std::move(close_fds));
    ctx_.start(*p);
    worker_slot w;
    w.pid = p->pid().value_or(-1);
    w.proc = std::move(p);
    w.conn = std::move(mine);
    workers_.push_back(std::move(w));
    publish_pids();
  }

  void publish_pids() {
    std::vector<pid_t> pids;
    for (auto& w : workers_) pids.push_back(w.pid);
    std::lock_guard g(mu_);
    pids_ = std::move(pids);
  }

  void fail_item(task_item& item, std::exception_ptr e) {
    item.job->chunk_failed(item.index, std::move(e));
    item.job.reset();
    std::lock_guard g(mu_);
    --outstanding_;
  }

  void fail_queue(std::exception_ptr e) {
    std::deque<task_item> q;
    {
      std::lock_guard g(mu_);
      q.swap(queue_);
    }
    for (auto& it : q) fail_item(it, e);
  }

  void make_broken(std::exception_ptr e) {
    {
      std::lock_guard g(mu_);
      if (!broken_) broken_ = e;
      e = broken_;
    }
    fail_queue(e);
  }

  void on_result(worker_slot& w, std::string_view m) {
    if (m.size() < kResultHead) {
      if (w.current)
        fail_item(*w.current, std::make_exception_ptr(process_error("pool: worker " + std::to_string(w.pid) +
                                                                    " sent a malformed result")));
      w.current.reset();
      w.proc->kill();
      return;
    }
    std::uint64_t job;
    std::uint32_t index;
    std::memcpy(&job, m.data(), 8);
    std::memcpy(&index, m.data() + 8, 4);
    const bool ok = m[12] == 0;
    const std::string_view payload = m.substr(kResultHead);
    auto error = [&]() -> std::exception_ptr {
      try {
        return decode<std::exception_ptr>(payload);
      } catch (...) {
        return std::current_exception();
      }
    };
    if (job == 0) {  // the initializer raised (MP-47, a departure: the pool breaks)
      std::string what = "?";
      try {
        std::rethrow_exception(error());
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      make_broken(std::make_exception_ptr(broken_pool_error(
          "pool: the initializer raised in worker " + std::to_string(w.pid) + ": " + what)));
      return;
    }
    if (!w.current || w.current->id != job || w.current->index != index) return;
    task_item item = std::move(*w.current);
    w.current.reset();
    if (ok) {
      item.job->chunk_done(index, payload);
    } else {
      item.job->chunk_failed(index, error());
    }
    item.job.reset();
    std::lock_guard g(mu_);
    --outstanding_;
  }

  // Reads the worker's messages; false once its pipe has ended.
  bool read_worker(worker_slot& w, bool drain) {
    do {
      std::string m;
      try {
        m = w.conn.recv_bytes();
      } catch (...) {
        w.conn.close();
        return false;
      }
      on_result(w, m);
    } while (drain && !w.conn.closed() && w.conn.poll());
    return true;
  }

  // The worker ended: its task, if it held one, fails (MP-48, a departure).
  void on_exit(std::size_t i) {
    worker_slot& w = workers_[i];
    if (!w.conn.closed() && w.conn.poll()) read_worker(w, true);
    w.proc->join();
    const int code = w.proc->exitcode().value_or(-1);
    if (w.current) {
      fail_item(*w.current, std::make_exception_ptr(worker_lost_error(
                                "pool: worker process " + std::to_string(w.pid) + " " + signal_text(code) +
                                " while running a task (job " + std::to_string(w.current->id) + ", chunk " +
                                std::to_string(w.current->index) + ")")));
      w.current.reset();
    }
    try {
      w.proc->close();
    } catch (...) {
    }
    workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
    publish_pids();
  }

  void kill_all() {
    for (auto& w : workers_) w.proc->terminate();
    for (auto& w : workers_) {
      w.proc->join(std::chrono::seconds(5));
      if (!w.proc->exitcode()) {
        w.proc->kill();
        w.proc->join();
      }
      if (w.current) {
        fail_item(*w.current, std::make_exception_ptr(pool_terminated_error("pool: terminated before the task finished")));
        w.current.reset();
      }
      try {
        w.proc->close();
      } catch (...) {
      }
    }
    workers_.clear();
    publish_pids();
  }

  void handler_main() {
    try {
      for (int i = 0; i < n_; ++i) start_worker();
    } catch (...) {
      kill_all();
      std::lock_guard g(mu_);
      start_error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    {
      std::lock_guard g(mu_);
      started_ = true;
      cv_.notify_all();
    }
    bool pipes_closed = false;
    std::vector<pollfd> fds;
    for (;;) {
      st state;
      std::size_t outstanding;
      bool queued, broken;
      {
        std::lock_guard g(mu_);
        state = state_;
        outstanding = outstanding_;
        queued = !queue_.empty();
        broken = static_cast<bool>(broken_);
      }
      if (state == st::terminating) {
        kill_all();
        fail_queue(std::make_exception_ptr(pool_terminated_error("pool: terminated before the task ran")));
        return;
      }
      // Replace the workers that ended while there may be work for them.
      if (!broken && (state == st::running || queued)) {
        try {
          while (static_cast<int>(workers_.size()) < n_) start_worker();
        } catch (...) {
          make_broken(std::make_exception_ptr(
              broken_pool_error("pool: a worker could not be started: " + describe_exception(std::current_exception()))));
        }
      }
      // Hand tasks to idle workers.
      for (auto& w : workers_) {
        if (w.current || w.conn.closed() || (maxtasks_ > 0 && w.given >= maxtasks_)) continue;
        task_item item;
        {
          std::lock_guard g(mu_);
          if (queue_.empty()) break;
          item = std::move(queue_.front());
          queue_.pop_front();
        }
        try {
          w.conn.send_bytes(item.frame);
        } catch (...) {
          // The worker is gone: its sentinel fails the task.
        }
        item.frame = std::string();
        w.current = std::move(item);
        ++w.given;
      }
      if (state == st::closed && outstanding == 0 && !pipes_closed) {
        for (auto& w : workers_) w.conn.close();  // each worker sees its pipe end and exits
        pipes_closed = true;
      }
      if (pipes_closed && workers_.empty()) return;
      fds.clear();
      fds.push_back({wake_.get(), POLLIN, 0});
      for (auto& w : workers_) {
        fds.push_back({w.proc->sentinel(), POLLIN, 0});
        fds.push_back({w.conn.closed() ? -1 : w.conn.fileno(), POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        make_broken(std::make_exception_ptr(broken_pool_error("pool: poll failed: " + std::string(std::strerror(errno)))));
        continue;
      }
      if (fds[0].revents) {
        std::uint64_t v;
        (void)!::read(wake_.get(), &v, sizeof v);
      }
      // Results first: a worker that answered and then exited held nothing.
      for (std::size_t i = 0; i < workers_.size(); ++i)
        if (fds[2 + 2 * i].revents && !workers_[i].conn.closed()) read_worker(workers_[i], false);
      for (std::size_t i = workers_.size(); i-- > 0;)
        if (fds[1 + 2 * i].revents) on_exit(i);
    }
  }

  const int n_;
  const std::int64_t maxtasks_;
  const context ctx_;
  const std::string init_;
  std::atomic<std::uint64_t> ids_{0};
  unique_fd wake_;
  std::thread handler_;
  std::mutex join_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  std::exception_ptr start_error_;
  st state_ = st::running;
  std::exception_ptr broken_;
  std::deque<task_item> queue_;
  std::size_t outstanding_ = 0;
  std::vector<pid_t> pids_;

  // The handler thread's own.
  std::vector<worker_slot> workers_;
  std::uint64_t started_count_ = 0;
};

}  // namespace corio::multiprocessing::detail

namespace corio::multiprocessing {

pool::pool(std::optional<int> processes, pool_initializer initializer, std::optional<int> maxtasksperchild,
           std::optional<context> ctx) {
  const int n = processes.value_or(cpu_count());
  if (n < 1) throw std::invalid_argument("Number of processes must be at least 1");
  if (maxtasksperchild && *maxtasksperchild < 1) throw std::invalid_argument("maxtasksperchild must be a positive int or None");
  context c = ctx ? *ctx : get_context();
  std::string init = initializer ? initializer.make_(c.get_start_method() != "fork") : std::string();
  core_ = std::make_unique<detail::pool_core>(n, maxtasksperchild, std::move(c), std::move(init));
}

pool::~pool() = default;

void pool::close() { core_->close(); }
void pool::terminate() { core_->terminate(); }
void pool::join() { core_->join(); }
int pool::processes() const noexcept { return core_->processes(); }
const std::string& pool::start_method() const noexcept { return core_->method(); }
std::vector<pid_t> pool::worker_pids() const { return core_->worker_pids(); }
bool pool::spawnlike() const noexcept { return core_->method() != "fork"; }
std::size_t pool::default_chunksize(std::size_t n) const noexcept {
  const std::size_t d = 4 * static_cast<std::size_t>(core_->processes());
  return std::max<std::size_t>(1, (n + d - 1) / d);
}
std::uint64_t pool::next_id() noexcept { return core_->next_id(); }
void pool::check_usable() const { core_->check_usable(); }
void pool::submit(std::shared_ptr<detail::pool_job> job, std::vector<std::string> frames, std::uint64_t id) {
  core_->submit(std::move(job), std::move(frames), id);
}

}  // namespace corio::multiprocessing

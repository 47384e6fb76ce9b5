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

#include "pool_core.hpp"

#include <corio/detail/unique_fd.hpp>
#include <corio/exceptions.hpp>
#include <corio/os_errors.hpp>

#include <link.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <new>
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

// A worker forked while another thread of the parent held the cache's
// lock (an apply_async locating its function as the handler thread forks a
// replacement) must not inherit it held.
[[maybe_unused]] const int g_code_mu_atfork =
    ::pthread_atfork(nullptr, nullptr, [] { ::new (static_cast<void*>(&g_code_mu)) std::mutex(); });

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

}  // namespace

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

std::string pool_initializer_frame(const pool_initializer& init, bool spawnlike) { return init.make_(spawnlike); }

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

void advise_huge_pages(void* p, std::size_t n) noexcept {
  constexpr std::uintptr_t huge = 2u << 20;
  if (n < 2 * huge) return;
  const auto lo = (reinterpret_cast<std::uintptr_t>(p) + huge - 1) & ~(huge - 1);
  const auto hi = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(huge - 1);
  if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
}

void report_callback_error(const char* which, std::exception_ptr e) noexcept {
  try {
    const std::string text = "corio multiprocessing pool: a " + std::string(which) +
                             " raised; the pool goes on:\n" + describe_exception(e) + "\n";
    (void)!::write(2, text.data(), text.size());
  } catch (...) {
  }
}

}  // namespace corio::multiprocessing::detail

namespace corio::multiprocessing {

pool::pool(std::optional<int> processes, pool_initializer initializer, std::optional<int> maxtasksperchild,
           std::optional<context> ctx) {
  const int n = processes.value_or(cpu_count());
  if (n < 1) throw std::invalid_argument("Number of processes must be at least 1");
  if (maxtasksperchild && *maxtasksperchild < 1) throw std::invalid_argument("maxtasksperchild must be a positive int or None");
  context c = ctx ? *ctx : get_context();
  std::string init = initializer ? detail::pool_initializer_frame(initializer, c.get_start_method() != "fork") : std::string();
  core_ = std::make_unique<detail::pool_core>(detail::pool_core_options{
      .processes = n, .maxtasks = maxtasksperchild, .ctx = std::move(c), .init = std::move(init), .daemon = true, .break_on_worker_death = false, .broken_error = {}});
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
void pool::submit(std::shared_ptr<detail::pool_job> job, detail::task_frames frames, std::uint64_t id) {
  core_->submit(std::move(job), std::move(frames), id);
}

}  // namespace corio::multiprocessing

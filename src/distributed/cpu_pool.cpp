// The worker's process pool for CPU functions (cpu_pool.hpp).
//
// A call is one message each way on the process's duplex pipe:
//   call   [u32 head length][head: msgpack (trampoline, fn) as code_refs][arguments: msgpack array]
//   result [u8 status: 0 value, 1 exception][msgpack value or exception_ptr]
#include "cpu_pool.hpp"

#include <corio/exceptions.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/pool.hpp>
#include <corio/os_errors.hpp>
#include <corio/timeouts.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <tuple>
#include <utility>

namespace corio::distributed::detail {

namespace {
using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
namespace mpd = corio::multiprocessing::detail;

// How long a process that saw its pipe end, or got SIGKILL, may take to be gone.
constexpr auto kExitWait = 5s;

std::string exit_text(std::optional<int> code) {
  if (!code) return "ended";
  if (*code < 0) {
    const char* abbrev = ::sigabbrev_np(-*code);
    return "was killed by signal " + std::to_string(-*code) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "exited with code " + std::to_string(*code);
}

std::string call_message(const cpu_function& fn, std::string_view args) {
  std::string m(4, '\0');
  mp::encode_into(m, std::tuple<mpd::code_ref, mpd::code_ref>(fn.call.trampoline, fn.call.fn));
  const auto n = static_cast<std::uint32_t>(m.size() - 4);
  std::memcpy(m.data(), &n, 4);
  m.append(args);
  return m;
}

void run_call(std::string_view m, std::string& out) {
  std::uint32_t n = 0;
  if (m.size() < 4) throw mp::codec_error("task queue pool: a call message of " + std::to_string(m.size()) + " bytes");
  std::memcpy(&n, m.data(), 4);
  if (n > m.size() - 4) throw mp::codec_error("task queue pool: a call message's head is cut short");
  const auto [tr, fn] = mp::decode<std::tuple<mpd::code_ref, mpd::code_ref>>(m.substr(4, n));
  const auto trampoline = reinterpret_cast<mpd::pool_trampoline>(mpd::resolve_code(tr));
  trampoline(mpd::resolve_code(fn), {}, m.substr(4 + n), out);
}
}  // namespace

void cpu_pool_process(mp::connection conn, std::int64_t parent_pid, std::vector<int> close_fds) {
  for (int fd : close_fds) ::close(fd);  // fork: the other processes' pipes, and our pipe's other end
  // A worker that dies takes its pool with it, busy processes too.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::kill(static_cast<pid_t>(parent_pid), 0) != 0 && errno == ESRCH) return;
  std::string out;
  for (;;) {
    std::string m;
    try {
      m = conn.recv_bytes();
    } catch (const mp::eof_error&) {
      return;
    }
    out.assign(1, '\0');
    try {
      run_call(m, out);
    } catch (...) {
      out.assign(1, '\1');
      mp::encode_into(out, std::current_exception());
    }
    conn.send_bytes(out);
  }
}

// One process of the pool. Whoever holds it (the idle list, a call, a
// reaper) owns it; the last resort, a process still running when its
// holder goes, is SIGKILL and a blocking wait, which is short.
struct cpu_pool::proc {
  cpu_pool* owner = nullptr;
  std::unique_ptr<mp::process> p;
  mp::connection conn;
  pid_t pid = -1;
  ~proc() {
    std::erase(owner->all_, this);
    --owner->alive_;
    try {
      conn.close();
      if (!p->exitcode()) {
        p->kill();
        p->join();
      }
      p->close();
    } catch (const std::exception&) {
    }
  }
};

cpu_pool::cpu_pool(std::size_t processes, std::optional<mp::context> ctx)
    : size_(processes ? processes : static_cast<std::size_t>(std::max(1, mp::cpu_count()))),
      ctx_(ctx ? std::move(*ctx) : mp::get_context()),
      free_(static_cast<std::int64_t>(size_)) {}

cpu_pool::~cpu_pool() {
  // Before the members the processes refer to.
  reapers_.clear();
  idle_.clear();
}

std::unique_ptr<cpu_pool::proc> cpu_pool::start_one() {
  auto [mine, theirs] = mp::pipe(true);
  std::vector<int> close_fds;
  if (ctx_.get_start_method() == "fork") {
    // Both fds of each duplex end: a forked process that kept a write end
    // open would keep its peers from seeing their pipe end.
    auto add = [&close_fds](const mp::connection& c) {
      close_fds.push_back(c.fileno());
      if (c.write_fileno() != c.fileno()) close_fds.push_back(c.write_fileno());
    };
    add(mine);
    for (proc* p : all_)
      if (!p->conn.closed()) add(p->conn);
  }
  auto p = std::make_unique<mp::process>(
      mp::process_options{.name = "TaskQueueCpuWorker-" + std::to_string(++started_), .daemon = true},
      cpu_pool_process, std::move(theirs), static_cast<std::int64_t>(::getpid()), std::move(close_fds));
  ctx_.start(*p);
  auto r = std::make_unique<proc>();
  r->owner = this;
  r->pid = p->pid().value_or(-1);
  r->p = std::move(p);
  r->conn = std::move(mine);
  all_.push_back(r.get());
  ++alive_;
  return r;
}

std::unique_ptr<cpu_pool::proc> cpu_pool::take() {
  while (!idle_.empty()) {
    std::unique_ptr<proc> p = std::move(idle_.back());
    idle_.pop_back();
    // An idle process has nothing to say: a readable pipe is its end (it
    // died while idle), which a run should not be charged with.
    if (!p->conn.poll()) return p;
    discard(std::move(p));
  }
  return start_one();
}

void cpu_pool::discard(std::unique_ptr<proc> p) {
  std::erase_if(reapers_, [](const task<void>& t) { return t.done(); });
  reapers_.push_back(create_task(reap(std::move(p))));
}

task<void> cpu_pool::reap(std::unique_ptr<proc> p) {
  try {
    p->conn.close();
    p->p->kill();
    co_await p->p->join_async();
  } catch (const std::exception&) {
    // ~proc makes sure; the run that used it has failed already.
  }
}

task<std::string> cpu_pool::call(const cpu_function& fn, std::string_view args, duration limit, std::string what) {
  std::string msg = call_message(fn, args);
  auto permit = co_await free_.scoped();
  std::unique_ptr<proc> p = take();
  enum class outcome { answered, timed_out, lost, failed } how = outcome::answered;
  std::string reply;
  std::exception_ptr error;
  try {
    co_await p->conn.send_bytes_async(std::move(msg));
    reply = co_await wait_for(p->conn.recv_bytes_async(), limit);
  } catch (const timeout_error&) {
    how = outcome::timed_out;
  } catch (const mp::eof_error&) {
    how = outcome::lost;  // its end of the pipe closed: it died
  } catch (const os_error&) {
    how = outcome::lost;  // EPIPE: it died before it read the call
  } catch (...) {
    how = outcome::failed;  // cancelled: the run is given up, and so is its process
    error = std::current_exception();
  }
  const pid_t pid = p->pid;
  if (how == outcome::answered && !reply.empty() && (reply[0] == 0 || reply[0] == 1)) {
    const bool ok = reply[0] == 0;
    idle_.push_back(std::move(p));
    if (ok) {
      reply.erase(0, 1);
      co_return reply;
    }
    std::rethrow_exception(mp::decode<std::exception_ptr>(std::string_view(reply).substr(1)));
  }
  if (how == outcome::lost) {
    p->conn.close();
    std::optional<int> code;
    try {
      co_await wait_for(p->p->join_async(), kExitWait);
      code = p->p->exitcode();
    } catch (const std::exception&) {
    }
    if (!code) discard(std::move(p));  // alive with its pipe closed: it goes now
    p.reset();
    throw mp::worker_lost_error("task queue: pool process " + std::to_string(pid) + " " + exit_text(code) +
                                " while running " + what);
  }
  discard(std::move(p));
  if (how == outcome::timed_out) {
    throw timeout_error(what + " ran longer than its time limit; its pool process " + std::to_string(pid) +
                        " was killed");
  }
  if (how == outcome::failed) std::rethrow_exception(error);
  throw mp::process_error("task queue: pool process " + std::to_string(pid) + " sent a malformed result for " + what);
}

task<void> cpu_pool::close() {
  std::vector<std::unique_ptr<proc>> idle = std::move(idle_);
  idle_.clear();
  for (auto& p : idle) p->conn.close();  // it sees its pipe end and exits
  for (auto& p : idle) {
    try {
      co_await wait_for(p->p->join_async(), kExitWait);
    } catch (const std::exception&) {
      // ~proc kills it
    }
    p.reset();
  }
  std::vector<task<void>> reapers = std::move(reapers_);
  reapers_.clear();
  for (auto& t : reapers) co_await t;
}

}  // namespace corio::distributed::detail

// asyncio subprocesses (see corio/subprocess.hpp).
//
// A process_core holds one child on one loop: its pidfd, watched by a poll
// op (readable once the child has exited), its exit status, and its pipes
// as stream transports. The process handle is its one user; the poll op in
// flight holds a reference too, so a core whose handle is gone lives until
// the child it killed has exited and been reaped (SP-09), without blocking
// the loop. Only when the loop closes first is a killed child reaped with
// a blocking waitid (it is already dying).
#include <corio/subprocess.hpp>

#include <corio/detail/child.hpp>
#include <corio/detail/child_setup.hpp>
#include <corio/detail/io_op.hpp>
#include <corio/detail/loop_core.hpp>
#include <corio/detail/spawn.hpp>
#include <corio/detail/stream_transport.hpp>
#include <corio/detail/user_counted.hpp>
#include <corio/gather.hpp>
#include <corio/locks.hpp>
#include <corio/os_errors.hpp>

#include <poll.h>
#include <signal.h>

#include <span>
#include <stdexcept>
#include <utility>

namespace corio {

namespace detail {

class process_core final : public loop_resource, public user_counted<process_core> {
 public:
  process_core(loop_core* loop, spawned_child child) : loop_(loop), pid_(child.pid), pidfd_(std::move(child.pidfd)) {
    exit_op_.self = this;
    exit_op_.kind = io_kind::poll;
    exit_op_.fd = pidfd_.get();
    exit_op_.u.poll_mask = POLLIN;
    exit_op_.done = &on_exit;
    loop_->add_resource(this);
  }
  process_core(const process_core&) = delete;
  process_core& operator=(const process_core&) = delete;

  // Starts watching the pidfd for the exit.
  void watch() {
    if (loop_->backend().start(&exit_op_)) {  // exited already (epoll polls at once)
      collect();
      return;
    }
    watching_ = true;
    retain();  // held by the op in flight
  }

  bool ended() const noexcept { return rc_.has_value() || status_error_ != nullptr; }

  // The handle is gone (Python: the subprocess transport is closed): close
  // the pipes, and kill a child that still runs (SP-09).
  void on_last_user() noexcept {
    handle_gone_ = true;
    in_.close();
    in_ = stream_writer();
    if (out_t_) out_t_->close();
    if (err_t_) err_t_->close();
    out_t_ = {};
    err_t_ = {};
    if (ended()) return;
    signal();
    if (!watching_) reap_blocking();  // nothing will see the exit: it is due now
  }

  void on_loop_close() noexcept override {
    // The loop will poll no more: stop watching; a child nobody holds is
    // reaped now (it was killed when its handle went).
    loop_closed_ = true;
    retain();
    if (watching_) {
      loop_->backend().abandon(&exit_op_);
      watching_ = false;
      release();
    }
    if (handle_gone_ && !ended()) reap_blocking();
    release();
  }

  // Collects the exit status if the child has ended.
  void collect() noexcept {
    if (ended()) return;  // reaped already: the pidfd stays readable
    try {
      rc_ = try_reap(pidfd_.get(), pid_);
    } catch (...) {
      status_error_ = std::current_exception();  // ECHILD: SIGCHLD ignored, or reaped elsewhere
    }
    if (ended()) exited_.set();
  }

  void signal(int sig = SIGKILL) noexcept {
    try {
      signal_child(pidfd_.get(), pid_, sig);
    } catch (...) {
    }
  }

  void reap_blocking() noexcept {
    signal();
    try {
      rc_ = reap(pidfd_.get(), pid_);
    } catch (...) {
      status_error_ = std::current_exception();
    }
  }

  loop_core* loop_;
  pid_t pid_;
  unique_fd pidfd_;
  std::optional<int> rc_;
  std::exception_ptr status_error_;
  event exited_;
  stream_writer in_;
  std::optional<stream_reader> out_, err_;
  user_ref<stream_transport> out_t_, err_t_;
  // What communicate has read (kept across a cancelled communicate).
  std::string out_acc_, err_acc_;
  bool watching_ = false;
  bool loop_closed_ = false;
  bool handle_gone_ = false;

 private:
  friend class user_counted<process_core>;
  ~process_core() {
    if (!loop_closed_) {
      loop_->backend().forget_fd(pidfd_.get());  // epoll: before the number is reused
      loop_->remove_resource(this);
    }
  }

  struct op_t : io_op {
    process_core* self;
  };
  static void on_exit(io_op* op) noexcept {
    process_core* c = static_cast<op_t*>(op)->self;
    c->watching_ = false;
    c->collect();
    if (!c->ended() && !c->loop_closed_) {  // not yet (a poll error): watch on
      try {
        c->watch();
      } catch (...) {
        c->status_error_ = std::current_exception();
        c->exited_.set();
      }
    }
    c->release();  // the op's reference
  }

  op_t exit_op_{};
};

struct process_access {
  static process make(process_core* c) noexcept { return process(c); }
};

namespace {

// A reference to a core for the coroutines that use it (not a user: it
// does not keep the child from being killed when the handle goes).
class process_ref {
 public:
  explicit process_ref(process_core* c) : c_(c) {
    if (!c_) throw std::invalid_argument("corio::process: the object was moved from");
    c_->retain();
  }
  process_ref(const process_ref& o) noexcept : c_(o.c_) { c_->retain(); }
  process_ref(process_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  process_ref& operator=(const process_ref&) = delete;
  ~process_ref() {
    if (c_) c_->release();
  }
  process_core* operator->() const noexcept { return c_; }

 private:
  process_core* c_;
};

constexpr std::size_t kChunk = 64 * 1024;

task<int> wait_core(process_ref c) {
  if (!c->ended()) {
    if (c->loop_closed_) throw std::runtime_error("Event loop is closed");
    co_await c->exited_.wait();
  }
  if (c->status_error_) std::rethrow_exception(c->status_error_);
  co_return *c->rc_;
}

// Python: Process._feed_stdin.
task<void> feed_stdin(process_ref c, std::optional<subprocess::bytes> input) {
  stream_writer w = c->in_;
  try {
    if (input && !input->empty()) w.write(*input);
    co_await w.drain();
  } catch (const broken_pipe_error&) {  // SP-05: the child left without reading it
  } catch (const connection_reset_error&) {
  }
  w.close();
}

// Python: Process._read_stream, into the core's buffer so that a cancelled
// communicate loses nothing.
task<void> read_to_eof([[maybe_unused]] process_ref keep, stream_reader r, std::string* acc) {
  for (;;) {
    const std::size_t old = acc->size();
    acc->resize(old + kChunk);
    std::size_t n = 0;
    try {
      n = co_await r.read_into(std::span<char>(acc->data() + old, kChunk));
    } catch (...) {
      acc->resize(old);
      throw;
    }
    acc->resize(old + n);
    if (n == 0) co_return;
  }
}

task<subprocess::communicate_result> communicate_core(process_ref c, std::optional<subprocess::bytes> input) {
  std::vector<task<void>> parts;
  if (c->in_) parts.push_back(feed_stdin(c, std::move(input)));
  if (c->out_) parts.push_back(read_to_eof(c, *c->out_, &c->out_acc_));
  if (c->err_) parts.push_back(read_to_eof(c, *c->err_, &c->err_acc_));
  if (!parts.empty()) co_await gather(std::move(parts));
  co_await wait_core(c);
  subprocess::communicate_result r;
  if (c->out_) r.first = std::exchange(c->out_acc_, std::string());
  if (c->err_) r.second = std::exchange(c->err_acc_, std::string());
  co_return r;
}

loop_core* running_core(const char* what) {
  loop_core* l = tls.running_loop;
  if (!l) throw std::runtime_error(std::string("corio: ") + what + ": no running event loop");
  l->check_open();
  return l;
}

// Starts the child and wraps its pipes (Python: _make_subprocess_transport).
process start_process(const char* what, spawn_request& r, const process_options& o) {
  loop_core* loop = running_core(what);
  setup_options(r, o.cwd, o.env, o.extra_env, o.close_fds, o.pass_fds, o.restore_signals, o.start_new_session,
                o.process_group);
  if (o.limit == 0) throw std::invalid_argument("Limit cannot be <= 0");
  child_stdio io = setup_stdio(r, o.stdin, o.stdout, o.stderr);
  spawned_child child = spawn(r);
  auto* c = new process_core(loop, std::move(child));
  process p = process_access::make(c);  // from here on, a failure kills and reaps the child
  c->release();  // the handle holds it
  if (io.parent_end[0]) {
    auto* t = new stream_transport(loop, stream_transport::pipe_end{io.parent_end[0].get()}, nullptr);
    (void)io.parent_end[0].release();
    c->in_ = stream_writer(t);
    t->release();
  }
  for (int i = 1; i <= 2; ++i) {
    if (!io.parent_end[i]) continue;
    stream_reader reader(o.limit);
    auto* t = new stream_transport(loop, stream_transport::pipe_end{io.parent_end[i].get()}, &reader.core());
    (void)io.parent_end[i].release();
    user_ref<stream_transport> ref(t);
    t->release();
    t->start_reading();
    (i == 1 ? c->out_t_ : c->err_t_) = std::move(ref);
    (i == 1 ? c->out_ : c->err_) = std::move(reader);
  }
  c->watch();
  return p;
}

}  // namespace
}  // namespace detail

process::process(detail::process_core* c) noexcept : c_(c) {
  if (c_) c_->add_user();
}

process::process(process&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}

process& process::operator=(process&& o) noexcept {
  if (this != &o) {
    process old(std::move(*this));
    c_ = std::exchange(o.c_, nullptr);
  }
  return *this;
}

process::~process() {
  if (c_) c_->drop_user();
}

pid_t process::pid() const noexcept { return c_ ? c_->pid_ : -1; }

std::optional<int> process::returncode() const noexcept { return c_ ? c_->rc_ : std::nullopt; }

stream_writer* process::stdin() noexcept { return c_ && c_->in_ ? &c_->in_ : nullptr; }
stream_reader* process::stdout() noexcept { return c_ && c_->out_ ? &*c_->out_ : nullptr; }
stream_reader* process::stderr() noexcept { return c_ && c_->err_ ? &*c_->err_ : nullptr; }

task<int> process::wait() { return detail::wait_core(detail::process_ref(c_)); }

task<subprocess::communicate_result> process::communicate() {
  return detail::communicate_core(detail::process_ref(c_), std::nullopt);
}

task<subprocess::communicate_result> process::communicate(subprocess::bytes input) {
  return detail::communicate_core(detail::process_ref(c_), std::move(input));
}

void process::send_signal(int sig) {
  if (!c_) throw std::invalid_argument("corio::process: the object was moved from");
  if (c_->ended()) return;
  c_->collect();  // Python's Popen.send_signal polls first
  if (c_->ended()) return;
  detail::signal_child(c_->pidfd_.get(), c_->pid_, sig);
}

void process::terminate() { send_signal(SIGTERM); }
void process::kill() { send_signal(SIGKILL); }

task<process> create_subprocess_exec(std::string program, std::vector<std::string> args, process_options options) {
  detail::spawn_request r;
  r.argv.reserve(args.size() + 1);
  r.argv.push_back(program);
  for (std::string& a : args) r.argv.push_back(std::move(a));
  r.program = options.executable.value_or(program);
  co_return detail::start_process("create_subprocess_exec", r, options);
}

task<process> create_subprocess_exec(std::string program) {
  return create_subprocess_exec(std::move(program), std::vector<std::string>(), process_options());
}

task<process> create_subprocess_exec(std::string program, std::vector<std::string> args) {
  return create_subprocess_exec(std::move(program), std::move(args), process_options());
}

task<process> create_subprocess_exec(std::string program, process_options options) {
  return create_subprocess_exec(std::move(program), std::vector<std::string>(), std::move(options));
}

task<process> create_subprocess_shell(std::string cmd) { return create_subprocess_shell(std::move(cmd), process_options()); }

task<process> create_subprocess_shell(std::string cmd, process_options options) {
  detail::spawn_request r;
  detail::setup_command(r, subprocess::command(std::move(cmd)), /*shell=*/true, options.executable);
  co_return detail::start_process("create_subprocess_shell", r, options);
}

}  // namespace corio

// subprocess.Popen (see subprocess/popen.hpp).
#include <corio/detail/child.hpp>
#include <corio/detail/child_setup.hpp>
#include <corio/detail/pipes.hpp>
#include <corio/os_errors.hpp>
#include <corio/subprocess/popen.hpp>

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>

namespace corio::subprocess {

namespace {

using steady = std::chrono::steady_clock;

// Python's endtime for a timeout: none waits for ever; a timeout too large
// for the clock (more than a century) as well.
std::optional<steady::time_point> deadline_of(const std::optional<timeout_duration>& timeout) {
  if (!timeout) return std::nullopt;
  if (timeout->count() <= 0) return steady::now();
  if (timeout->count() > 3.0e9) return std::nullopt;
  return steady::now() + std::chrono::ceil<steady::duration>(*timeout);
}

constexpr std::size_t kChunk = 64 * 1024;

}  // namespace

struct popen::state {
  command args;
  pid_t pid = -1;
  detail::unique_fd pidfd;
  std::optional<pipe_file> in, out, err;
  mutable std::mutex mu;    // reaping and rc (SS-21)
  std::optional<int> rc;    // guarded by mu
  // communicate's progress, kept across a timeout (SS-16).
  bool communication_started = false;
  std::string input;
  std::size_t input_done = 0;
  std::string out_acc, err_acc;

  explicit state(command a) : args(std::move(a)) {}

  // The returncode if the child has ended (reaping it now if need be).
  std::optional<int> reap_now() {
    std::lock_guard<std::mutex> g(mu);
    if (!rc) rc = detail::try_reap(pidfd.get(), pid);
    return rc;
  }

  std::optional<bytes> partial(const std::optional<pipe_file>& f, const std::string& acc) const {
    if (!f || acc.empty()) return std::nullopt;  // None, not b'', when nothing was read
    return acc;
  }

  // Reads what the pipe has into acc; closes the pipe at EOF.
  void drain(std::optional<pipe_file>& f, std::string& acc) {
    const std::size_t old = acc.size();
    acc.resize(old + kChunk);
    const ssize_t r = ::read(f->fileno(), acc.data() + old, kChunk);
    const int e = errno;
    acc.resize(old + (r > 0 ? static_cast<std::size_t>(r) : 0));
    if (r == 0) {
      f->close();
    } else if (r < 0 && e != EAGAIN && e != EINTR) {
      throw_os_error(e, "communicate: read from the pipe of pid " + std::to_string(pid));
    }
  }

  // Writes the next part of the input; the pipe closes once all is written,
  // or when the child has closed its end (not an error: SS-15).
  void feed() {
    const std::size_t n = std::min(input.size() - input_done, std::size_t{1} << 20);
    const ssize_t r = detail::write_nosignal(in->fileno(), input.data() + input_done, n);
    if (r >= 0) {
      input_done += static_cast<std::size_t>(r);
      if (input_done == input.size()) in->close();
    } else if (r == -EPIPE) {
      in->close();
    } else if (r != -EAGAIN && r != -EINTR) {
      throw_os_error(static_cast<int>(-r), "communicate: write to the stdin of pid " + std::to_string(pid));
    }
  }
};

popen::popen(command args, popen_options o) : s_(std::make_unique<state>(args)) {
  detail::spawn_request r;
  detail::setup_command(r, args, o.shell, o.executable);
  detail::setup_options(r, o.cwd, o.env, o.extra_env, o.close_fds, o.pass_fds, o.restore_signals,
                        o.start_new_session, o.process_group);
  detail::child_stdio io = detail::setup_stdio(r, o.stdin, o.stdout, o.stderr);
  detail::spawned_child c = detail::spawn(r);
  s_->pid = c.pid;
  s_->pidfd = std::move(c.pidfd);
  const std::string of = " of pid " + std::to_string(c.pid);
  if (io.parent_end[0]) s_->in.emplace(std::move(io.parent_end[0]), false, "stdin" + of);
  if (io.parent_end[1]) s_->out.emplace(std::move(io.parent_end[1]), true, "stdout" + of);
  if (io.parent_end[2]) s_->err.emplace(std::move(io.parent_end[2]), true, "stderr" + of);
}

popen::popen(popen&&) noexcept = default;

popen& popen::operator=(popen&& o) noexcept {
  if (this != &o) {
    popen old(std::move(*this));  // waits for its child when it goes
    s_ = std::move(o.s_);
  }
  return *this;
}

popen::~popen() {
  if (!s_) return;
  // Python's __exit__: stdout, stderr, then stdin, then wait.
  if (s_->out) s_->out->close();
  if (s_->err) s_->err->close();
  if (s_->in) s_->in->close();
  try {
    wait();
  } catch (...) {  // the status could not be collected: nothing left to wait for
  }
}

namespace {
[[noreturn]] void moved_from() { throw std::invalid_argument("subprocess.popen: the object was moved from"); }
}  // namespace

const command& popen::args() const noexcept {
  static const command none{std::vector<std::string>{}};
  return s_ ? s_->args : none;
}

pid_t popen::pid() const noexcept { return s_ ? s_->pid : -1; }

std::optional<int> popen::returncode() const noexcept {
  if (!s_) return std::nullopt;
  std::lock_guard<std::mutex> g(s_->mu);
  return s_->rc;
}

pipe_file* popen::stdin() noexcept { return s_ && s_->in ? &*s_->in : nullptr; }
pipe_file* popen::stdout() noexcept { return s_ && s_->out ? &*s_->out : nullptr; }
pipe_file* popen::stderr() noexcept { return s_ && s_->err ? &*s_->err : nullptr; }

std::optional<int> popen::poll() {
  if (!s_) moved_from();
  return s_->reap_now();
}

int popen::wait(std::optional<timeout_duration> timeout) {
  if (!s_) moved_from();
  const std::optional<steady::time_point> deadline = deadline_of(timeout);
  for (;;) {
    if (std::optional<int> rc = s_->reap_now()) return *rc;
    pollfd p{s_->pidfd.get(), POLLIN, 0};
    if (detail::poll_until(&p, 1, deadline) == 0) {
      if (std::optional<int> rc = s_->reap_now()) return *rc;
      throw timeout_expired(s_->args, *timeout);
    }
  }
}

communicate_result popen::communicate(std::optional<bytes> input, std::optional<timeout_duration> timeout) {
  if (!s_) moved_from();
  state& s = *s_;
  if (s.communication_started && input && !input->empty())
    throw std::invalid_argument("Cannot send input after starting communication");
  const std::optional<steady::time_point> deadline = deadline_of(timeout);
  if (!s.communication_started) {
    s.communication_started = true;
    if (s.in) {
      if (input && !input->empty())
        s.input = std::move(*input);
      else
        s.in->close();
    }
    if (s.out) s.out_acc = s.out->take_buffered();
    if (s.err) s.err_acc = s.err->take_buffered();
  }
  for (;;) {
    pollfd fds[3];
    int who[3];
    nfds_t n = 0;
    if (s.in && !s.in->closed()) {
      fds[n] = {s.in->fileno(), POLLOUT, 0};
      who[n++] = 0;
    }
    if (s.out && !s.out->closed()) {
      fds[n] = {s.out->fileno(), POLLIN, 0};
      who[n++] = 1;
    }
    if (s.err && !s.err->closed()) {
      fds[n] = {s.err->fileno(), POLLIN, 0};
      who[n++] = 2;
    }
    if (n == 0) break;
    if (detail::poll_until(fds, n, deadline) == 0)
      throw timeout_expired(s.args, *timeout, s.partial(s.out, s.out_acc), s.partial(s.err, s.err_acc));
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (who[i] == 0)
        s.feed();
      else if (who[i] == 1)
        s.drain(s.out, s.out_acc);
      else
        s.drain(s.err, s.err_acc);
    }
  }
  try {
    // The pipes are at EOF; what is left is the exit itself.
    if (timeout) {
      const auto left = deadline ? std::chrono::duration<double>(*deadline - steady::now()) : *timeout;
      wait(left.count() > 0 ? left : timeout_duration::zero());
    } else {
      wait();
    }
  } catch (const timeout_expired&) {
    throw timeout_expired(s.args, *timeout, s.partial(s.out, s.out_acc), s.partial(s.err, s.err_acc));
  }
  communicate_result res;
  if (s.out) res.first = std::exchange(s.out_acc, std::string());
  if (s.err) res.second = std::exchange(s.err_acc, std::string());
  std::string().swap(s.input);
  s.input_done = 0;
  return res;
}

void popen::send_signal(int sig) {
  if (!s_) moved_from();
  if (poll()) return;  // ended: nothing to signal (SS-20)
  detail::signal_child(s_->pidfd.get(), s_->pid, sig);  // false: ended meanwhile, also fine
}

void popen::terminate() { send_signal(SIGTERM); }
void popen::kill() { send_signal(SIGKILL); }

}  // namespace corio::subprocess

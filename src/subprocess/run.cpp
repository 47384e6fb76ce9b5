// subprocess.run and the calls built on it (see subprocess/run.hpp).
#include <corio/subprocess/run.hpp>

#include <stdexcept>

namespace corio::subprocess {

namespace {

popen_options popen_options_of(const run_options& o) {
  popen_options p;
  p.stdin = o.stdin;
  p.stdout = o.stdout;
  p.stderr = o.stderr;
  p.shell = o.shell;
  p.cwd = o.cwd;
  p.env = o.env;
  p.extra_env = o.extra_env;
  p.executable = o.executable;
  p.close_fds = o.close_fds;
  p.pass_fds = o.pass_fds;
  p.restore_signals = o.restore_signals;
  p.start_new_session = o.start_new_session;
  p.process_group = o.process_group;
  return p;
}

// Python's text mode on read: "\r\n" and "\r" become "\n".
std::string universal_newlines(std::string s) {
  if (s.find('\r') == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\r') {
      out += s[i];
    } else {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    }
  }
  return out;
}

}  // namespace

void completed_process::check_returncode() const {
  if (returncode != 0) throw called_process_error(returncode, args, stdout, stderr);
}

completed_process run(command args, run_options o) {
  popen_options po = popen_options_of(o);
  if (o.input) {
    if (o.stdin != inherit) throw std::invalid_argument("stdin and input arguments may not both be used.");
    po.stdin = pipe;
  }
  if (o.capture_output) {
    if (o.stdout != inherit || o.stderr != inherit)
      throw std::invalid_argument("stdout and stderr arguments may not be used with capture_output.");
    po.stdout = pipe;
    po.stderr = pipe;
  }
  popen p(std::move(args), std::move(po));
  communicate_result out;
  try {
    out = p.communicate(std::move(o.input), o.timeout);
  } catch (const timeout_expired&) {
    // SS-17: kill, reap (without waiting for EOF: a grandchild may hold
    // the pipes), then pass the exception and its output on.
    p.kill();
    p.wait();
    throw;
  } catch (...) {
    p.kill();  // the destructor reaps it
    throw;
  }
  const int rc = *p.poll();
  if (o.check && rc != 0) throw called_process_error(rc, p.args(), std::move(out.first), std::move(out.second));
  return completed_process{p.args(), rc, std::move(out.first), std::move(out.second)};
}

namespace {
void refuse_run_only(const run_options& o, const char* fn) {
  if (o.input || o.capture_output || o.check)
    throw std::invalid_argument(std::string(fn) + ": input, capture_output and check are arguments of run, not of " + fn);
}
}  // namespace

int call(command args, run_options o) {
  refuse_run_only(o, "call");
  popen p(std::move(args), popen_options_of(o));
  try {
    return p.wait(o.timeout);
  } catch (...) {
    // SS-05: kill it; the destructor reaps it.
    p.kill();
    throw;
  }
}

int check_call(command args, run_options o) {
  const command cmd = args;
  const int rc = call(std::move(args), std::move(o));
  if (rc != 0) throw called_process_error(rc, cmd);
  return 0;
}

bytes check_output(command args, run_options o) {
  if (o.stdout != inherit) throw std::invalid_argument("stdout argument not allowed, it will be overridden.");
  if (o.check) throw std::invalid_argument("check argument not allowed, it will be overridden.");
  o.stdout = pipe;
  o.check = true;
  return *run(std::move(args), std::move(o)).stdout;
}

std::pair<int, std::string> getstatusoutput(const std::string& cmd) {
  run_options o;
  o.stdout = pipe;
  o.stderr = stdout;
  o.shell = true;
  completed_process r = run(cmd, std::move(o));
  std::string data = universal_newlines(std::move(*r.stdout));
  if (!data.empty() && data.back() == '\n') data.pop_back();
  return {r.returncode, std::move(data)};
}

std::string getoutput(const std::string& cmd) { return getstatusoutput(cmd).second; }

}  // namespace corio::subprocess

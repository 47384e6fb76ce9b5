// From subprocess options to a spawn_request (see detail/child_setup.hpp).
#include <corio/detail/child_setup.hpp>
#include <corio/detail/pipes.hpp>

#include <stdexcept>

namespace corio::detail {

child_stdio setup_stdio(spawn_request& r, const subprocess::stdio& in, const subprocess::stdio& out,
                        const subprocess::stdio& err) {
  using kind = subprocess::stdio::kind;
  child_stdio s;
  const subprocess::stdio* which[3] = {&in, &out, &err};
  for (int i = 0; i < 3; ++i) {
    const subprocess::stdio& w = *which[i];
    switch (w.what()) {
      case kind::inherit:
        r.stdio[i] = -1;
        break;
      case kind::pipe: {
        pipe_ends p = make_pipe(/*parent_reads=*/i != 0, /*nonblocking=*/true);
        if (i == 0) {
          s.parent_end[i] = std::move(p.write);
          s.child_end[i] = std::move(p.read);
        } else {
          s.parent_end[i] = std::move(p.read);
          s.child_end[i] = std::move(p.write);
        }
        r.stdio[i] = s.child_end[i].get();
        break;
      }
      case kind::devnull:
        if (!s.devnull) s.devnull = open_devnull();
        r.stdio[i] = s.devnull.get();
        break;
      case kind::stdout:
        if (i != 2) throw std::invalid_argument("subprocess: STDOUT can only be used for stderr");
        // Wherever the child's stdout goes, also when it is inherited (SS-11).
        r.stdio[2] = r.stdio[1] >= 0 ? r.stdio[1] : 1;
        break;
      case kind::fd:
        r.stdio[i] = w.fd();
        break;
    }
  }
  return s;
}

void setup_command(spawn_request& r, const subprocess::command& args, bool shell,
                   const std::optional<std::string>& executable) {
  const std::vector<std::string>& a = args.args();
  if (shell) {
    // Python: [executable or '/bin/sh', '-c'] + args.
    r.argv.clear();
    r.argv.push_back(executable.value_or("/bin/sh"));
    r.argv.push_back("-c");
    r.argv.insert(r.argv.end(), a.begin(), a.end());
    r.program = r.argv[0];
    return;
  }
  if (a.empty()) throw std::invalid_argument("subprocess: the argument list is empty");
  r.argv = a;
  r.program = executable.value_or(a[0]);
}

void setup_options(spawn_request& r, const std::optional<std::string>& cwd,
                   const std::optional<subprocess::environment>& env, const subprocess::environment& extra_env,
                   bool close_fds, const std::vector<int>& pass_fds, bool restore_signals, bool start_new_session,
                   const std::optional<pid_t>& process_group) {
  if (cwd) {
    if (cwd->empty()) throw std::invalid_argument("subprocess: cwd is empty");
    r.cwd = *cwd;
  }
  if (env || !extra_env.empty()) r.env = environment_block(env ? &*env : nullptr, extra_env);
  r.close_fds = close_fds || !pass_fds.empty();  // Python: pass_fds forces close_fds
  r.pass_fds = pass_fds;
  r.restore_signals = restore_signals;
  r.start_new_session = start_new_session;
  if (process_group) {
    if (*process_group < 0) throw std::invalid_argument("subprocess: process_group must be >= 0");
    r.process_group = *process_group;
  }
}

}  // namespace corio::detail

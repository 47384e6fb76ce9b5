// From the subprocess options users give (args, shell, stdio values,
// environment) to a spawn_request: what popen and the asyncio process
// share. Not for users.
#pragma once

#include <corio/detail/spawn.hpp>
#include <corio/detail/unique_fd.hpp>
#include <corio/subprocess/options.hpp>

#include <optional>
#include <string>

namespace corio::detail {

// The standard streams of a child about to start: the fds it gets
// (request.stdio) and, for pipes, the ends this process keeps (made
// non-blocking). The child's ends close when this goes (after spawn).
struct child_stdio {
  unique_fd parent_end[3];  // stdin: the write end; stdout, stderr: the read ends
  unique_fd child_end[3];   // pipe ends, owned until the child has them
  unique_fd devnull;        // /dev/null, if a stream goes there
};

// Fills r.stdio from the three stdio values; std::invalid_argument for
// subprocess::stdout given for stdin or stdout (Python 3.13: "STDOUT can
// only be used for stderr").
child_stdio setup_stdio(spawn_request& r, const subprocess::stdio& in, const subprocess::stdio& out,
                        const subprocess::stdio& err);

// Fills r.argv and r.program (Python: the start of Popen._execute_child).
void setup_command(spawn_request& r, const subprocess::command& args, bool shell,
                   const std::optional<std::string>& executable);

// Fills the rest of r from the options both APIs share.
void setup_options(spawn_request& r, const std::optional<std::string>& cwd,
                   const std::optional<subprocess::environment>& env, const subprocess::environment& extra_env,
                   bool close_fds, const std::vector<int>& pass_fds, bool restore_signals, bool start_new_session,
                   const std::optional<pid_t>& process_group);

}  // namespace corio::detail

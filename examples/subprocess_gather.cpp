// Several asyncio subprocesses at once (Python docs, asyncio "Subprocesses"):
// gather runs them side by side, each with its own output and exit status.
//
//   async def run(cmd):
//       proc = await asyncio.create_subprocess_shell(cmd, stdout=PIPE, stderr=PIPE)
//       stdout, stderr = await proc.communicate()
//       return cmd, proc.returncode, stdout, stderr
//
//   results = await asyncio.gather(
//       run('ls /zzz'), run('sleep 1; echo "hello"'), run('echo bye; exit 3'))
//
// Here the results print in gather's order once all have finished, so the
// output does not depend on which child ends first. The sleep lasts one
// delay unit (`subprocess_gather 0.2`: 0.2 s; none with --virtual).
//
// Usage: subprocess_gather [scale] [--virtual]
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <tuple>

namespace sp = corio::subprocess;

namespace {

struct outcome {
  std::string cmd;
  int returncode = 0;
  std::string out, err;
};

corio::task<outcome> run(std::string cmd) {
  corio::process_options opts;  // named, not braced in the co_await: GCC 12 (see the guide)
  opts.stdout = sp::pipe;
  opts.stderr = sp::pipe;
  opts.extra_env = {{"LC_ALL", "C"}};
  corio::process proc = co_await corio::create_subprocess_shell(cmd, opts);
  auto [out, err] = co_await proc.communicate();
  co_return outcome{cmd, *proc.returncode(), std::move(*out), std::move(*err)};
}

void show(const outcome& r) {
  std::printf("['%s' exited with %d]\n", r.cmd.c_str(), r.returncode);
  if (!r.out.empty()) std::printf("[stdout]\n%s", r.out.c_str());
  if (!r.err.empty()) std::printf("[stderr]\n%s", r.err.c_str());
}

corio::task<> main_task(demo::options o) {
  char sleep_cmd[64];
  std::snprintf(sleep_cmd, sizeof sleep_cmd, "sleep %g; echo \"hello\"", o.virtual_time ? 0.0 : o.scale);
  const auto [a, b, c] = co_await corio::gather(run("ls /zzz"), run(sleep_cmd), run("echo bye; exit 3"));
  show(a);
  show(b);
  show(c);
}

}  // namespace

int main(int argc, char** argv) { corio::run(main_task(demo::parse(argc, argv))); }

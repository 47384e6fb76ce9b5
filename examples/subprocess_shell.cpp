// asyncio.create_subprocess_shell (Python docs, asyncio "Subprocesses"):
// run a shell command, read what it printed with communicate(), and report
// its exit status.
//
//   async def run(cmd):
//       proc = await asyncio.create_subprocess_shell(
//           cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
//       stdout, stderr = await proc.communicate()
//       print(f'[{cmd!r} exited with {proc.returncode}]')
//       if stdout: print(f'[stdout]\n{stdout.decode()}')
//       if stderr: print(f'[stderr]\n{stderr.decode()}')
//
//   asyncio.run(run('ls /zzz'))
//
// Usage: subprocess_shell
#include <corio/corio.hpp>

#include <cstdio>
#include <string>

namespace sp = corio::subprocess;

namespace {

corio::task<> run(std::string cmd) {
  corio::process_options opts;  // named, not braced in the co_await: GCC 12 (see the guide)
  opts.stdout = sp::pipe;
  opts.stderr = sp::pipe;
  opts.extra_env = {{"LC_ALL", "C"}};  // ls's messages in plain English
  corio::process proc = co_await corio::create_subprocess_shell(cmd, opts);
  const auto [out, err] = co_await proc.communicate();
  std::printf("['%s' exited with %d]\n", cmd.c_str(), *proc.returncode());
  if (!out->empty()) std::printf("[stdout]\n%s", out->c_str());
  if (!err->empty()) std::printf("[stderr]\n%s", err->c_str());
}

corio::task<> main_task() {
  co_await run("ls /zzz");
  co_await run("ls -d /tmp /usr");
}

}  // namespace

int main() { corio::run(main_task()); }

// asyncio.create_subprocess_exec (Python docs, asyncio "Subprocesses"): start
// a program without a shell, read one line of its output from the stdout
// stream, and wait for it to exit.
//
//   async def get_date():
//       proc = await asyncio.create_subprocess_exec(
//           'date', stdout=asyncio.subprocess.PIPE)
//       data = await proc.stdout.readline()
//       line = data.decode('ascii').rstrip()
//       await proc.wait()
//       return line
//
//   date = asyncio.run(get_date())
//   print(f"Current date: {date}")
//
// Usage: subprocess_exec_date [--virtual]   (--virtual: a fixed date, for the test)
#include "demo_time.hpp"

#include <corio/corio.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace sp = corio::subprocess;

namespace {

corio::task<std::string> get_date(bool fixed) {
  corio::process_options opts;  // named, not braced in the co_await: GCC 12 (see the guide)
  opts.stdout = sp::pipe;
  opts.extra_env = {{"LC_ALL", "C"}};
  std::vector<std::string> args;
  if (fixed) args = {"-u", "-d", "@0", "+%Y-%m-%d %H:%M:%S"};
  corio::process proc = co_await corio::create_subprocess_exec("date", args, opts);
  std::string line = co_await proc.stdout()->readline();
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  const int status = co_await proc.wait();
  std::printf("date exited with %d\n", status);
  co_return line;
}

}  // namespace

int main(int argc, char** argv) {
  const demo::options o = demo::parse(argc, argv);
  const std::string date = corio::run(get_date(o.virtual_time));
  std::printf("Current date: %s\n", date.c_str());
}

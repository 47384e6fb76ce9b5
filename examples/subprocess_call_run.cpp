// subprocess.call and subprocess.run (Python docs, subprocess): call's
// return code, run's CompletedProcess with check and capture_output, and
// output thrown away with stdout=DEVNULL.
//
//   retcode = subprocess.call(["sh", "-c", "exit 3"])
//   subprocess.run(["ls", "-l"], stdout=subprocess.DEVNULL)
//   subprocess.run(["sh", "-c", "echo hi; exit 1"], capture_output=True)
//   subprocess.run("exit 1", shell=True, check=True)
//
// Usage: subprocess_call_run   (blocking calls: no event loop)
#include <corio/subprocess/run.hpp>

#include <cstdio>

namespace sp = corio::subprocess;

int main() {
  const int retcode = sp::call({"sh", "-c", "exit 3"});
  std::printf("call returned %d\n", retcode);

  const sp::completed_process quiet = sp::run({"ls", "-l", "/"}, {.stdout = sp::devnull});
  std::printf("run(ls -l /, stdout=DEVNULL): returncode %d, stdout %s\n", quiet.returncode,
              quiet.stdout ? "captured" : "None");

  const sp::completed_process r = sp::run({"sh", "-c", "echo hi; echo oops >&2; exit 1"}, {.capture_output = true});
  std::printf("run(capture_output): returncode %d, stdout '%s', stderr '%s'\n", r.returncode, r.stdout->c_str(),
              r.stderr->c_str());

  try {
    sp::run("exit 1", {.shell = true, .check = true});
  } catch (const sp::called_process_error& e) {
    std::printf("check=True: %s\n", e.what());
  }
}

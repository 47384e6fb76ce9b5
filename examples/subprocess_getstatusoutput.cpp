// subprocess.getstatusoutput and getoutput (Python docs, subprocess "Legacy
// Shell Invocation Functions"): a command run by the shell, stderr folded
// into stdout, one trailing newline removed; the status as Python reports
// it, never an exception.
//
//   >>> subprocess.getstatusoutput('ls /bin/ls')
//   (0, '/bin/ls')
//   >>> subprocess.getstatusoutput('cat /bin/junk')
//   (1, 'cat: /bin/junk: No such file or directory')
//   >>> subprocess.getstatusoutput('/bin/kill $$')
//   (-15, '')
//   >>> subprocess.getoutput('ls /bin/ls')
//   '/bin/ls'
//
// Usage: subprocess_getstatusoutput   (blocking calls: no event loop)
#include <corio/subprocess/run.hpp>

#include <cstdio>
#include <string>

namespace sp = corio::subprocess;

namespace {
void show(const std::string& cmd) {
  // LC_ALL=C: the messages of ls and cat in plain English, as the docs show them.
  const auto [status, output] = sp::getstatusoutput("LC_ALL=C; export LC_ALL; " + cmd);
  std::printf("getstatusoutput(%s) -> (%d, '%s')\n", cmd.c_str(), status, output.c_str());
}
}  // namespace

int main() {
  show("ls /bin/ls");                          // succeeds
  show("cat /bin/junk");                       // fails, with its message on stderr
  show("echo out; echo err >&2; exit 3");      // both streams, a status of its own
  show("/bin/kill $$");                        // the shell ends by SIGTERM
  std::printf("getoutput(ls /bin/ls) -> '%s'\n", sp::getoutput("ls /bin/ls").c_str());
}

// os.fork()'s counterpart: plain ::fork(). corio needs nothing more (no
// multiprocessing::fork): its fork handlers make the child's state safe.
// The child runs a loop of its own (the parent's belongs to the parent:
// running it in the child raises), and the parent waits for it with
// waitpid, as Python's os.waitpid.
//
//   pid = os.fork()
//   if pid == 0:
//       print('child:', asyncio.run(compute()))
//       os._exit(0)
//   os.waitpid(pid, 0)
#include <corio/runners.hpp>
#include <corio/tasks.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

corio::task<int> compute() {
  co_await corio::sleep(std::chrono::milliseconds(1));
  co_return 6 * 7;
}

int main() {
  std::printf("parent: before the fork, %d\n", corio::run(compute()));
  std::fflush(stdout);  // or the child would print it again from its copy of the buffer
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::printf("child: a new loop computes %d\n", corio::run(compute()));
    std::fflush(stdout);
    ::_exit(0);  // the parent's exit handlers and static objects are not the child's
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::printf("parent: child exited with %d\n", WEXITSTATUS(status));
}

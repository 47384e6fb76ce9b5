// Start methods (Python docs, "Contexts and start methods"):
//
//   if __name__ == '__main__':
//       mp.set_start_method('spawn')
//       q = ...; p = mp.Process(target=foo, args=(q,)); p.start()
//
//       ctx = mp.get_context('forkserver')
//       p = ctx.Process(target=foo, args=(q,)); p.start()
//
// spawn and forkserver start a fresh copy of this program, which runs only
// the target: main() must call freeze_support() first (Python's
// `if __name__ == '__main__':` guard). The target is a function; its
// arguments cross through the codec, a connection included.
#include <corio/multiprocessing.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>

namespace mp = corio::multiprocessing;

int g_set_in_main = 0;  // a spawned child starts from a fresh program: 0 there

void foo(mp::connection c, std::string greeting) {
  c.send(greeting + " from a " + mp::get_start_method() + " child, global " + std::to_string(g_set_in_main));
}

int main() {
  mp::freeze_support();  // in a spawned child: runs foo and exits here
  g_set_in_main = 1;
  mp::set_start_method("spawn");
  {
    auto [r, w] = mp::pipe();
    mp::process p(foo, std::move(w), std::string("hello"));
    p.start();
    std::printf("%s\n", r.recv<std::string>().c_str());
    p.join();
  }
  const mp::context ctx = mp::get_context("forkserver");
  {
    auto [r, w] = mp::pipe();
    mp::process p(foo, std::move(w), std::string("hi"));
    ctx.start(p);
    std::printf("%s\n", r.recv<std::string>().c_str());
    p.join();
    std::printf("exit codes 0: %s\n", p.exitcode() == 0 ? "yes" : "no");
  }
}

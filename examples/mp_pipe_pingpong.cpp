// Ping-pong over a Pipe (Python docs, "Exchanging objects between
// processes"):
//
//   def f(conn):
//       conn.send([42, None, 'hello'])
//       conn.close()
//
//   parent_conn, child_conn = Pipe()
//   p = Process(target=f, args=(child_conn,))
//   p.start()
//   print(parent_conn.recv())   # prints "[42, None, 'hello']"
//
// then a ball passed back and forth, the parent's side inside an event
// loop with the awaitable forms.
#include <corio/multiprocessing.hpp>
#include <corio/runners.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <tuple>

namespace mp = corio::multiprocessing;

using message = std::tuple<int, std::optional<int>, std::string>;

void f(mp::connection conn) {
  conn.send(message{42, std::nullopt, "hello"});
  for (;;) {
    const int ball = conn.recv<int>();
    if (ball < 0) break;
    conn.send(ball + 1);
  }
}

corio::task<int> play(mp::connection& conn) {
  int ball = 0;
  for (int i = 0; i < 5; ++i) {
    co_await conn.send_async(ball);
    ball = co_await conn.recv_async<int>();
    std::printf("pong %d\n", ball);
  }
  co_await conn.send_async(-1);
  co_return ball;
}

int main() {
  auto [parent_conn, child_conn] = mp::pipe();
  mp::process p(f, std::move(child_conn));
  p.start();
  const auto [n, none, text] = parent_conn.recv<message>();
  std::printf("[%d, %s, '%s']\n", n, none ? "?" : "None", text.c_str());
  std::printf("the ball came back as %d\n", corio::run(play(parent_conn)));
  p.join();
  std::printf("child exited with %d\n", *p.exitcode());
}

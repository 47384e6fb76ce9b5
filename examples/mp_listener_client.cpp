// Listeners and Clients (Python docs, multiprocessing, "Listeners and
// Clients"):
//
//   with Listener(('localhost', 6000), authkey=b'secret password') as listener:
//       with listener.accept() as conn:
//           print('connection accepted from', listener.last_accepted)
//           conn.send([2.25, None, 'junk'])
//           conn.send_bytes(b'hello')
//
//   with Client(('localhost', 6000), authkey=b'secret password') as conn:
//       print(conn.recv())         # => [2.25, None, 'junk']
//       print(conn.recv_bytes())   # => b'hello'
//
// The client is a child process here; it first tries a wrong key, which
// the listener refuses. Port 0 lets the system pick a free port.
#include <corio/multiprocessing.hpp>

#include <cstdio>
#include <optional>
#include <string>
#include <tuple>

namespace mp = corio::multiprocessing;

using message = std::tuple<double, std::optional<int>, std::string>;

void client_side(mp::address address) {
  try {
    mp::client(address, std::string("wrong password"));
  } catch (const mp::authentication_error&) {
    // The listener said #FAILURE#: "digest sent was rejected".
  }
  mp::connection conn = mp::client(address, std::string("secret password"));
  const auto [x, none, junk] = conn.recv<message>();
  std::printf("client got [%g, %s, '%s']\n", x, none ? "?" : "None", junk.c_str());
  std::printf("client got b'%s'\n", conn.recv_bytes().c_str());
  std::fflush(stdout);
}

int main() {
  mp::listener listener(mp::address("localhost", 0), mp::family::af_inet, 1, std::string("secret password"));
  std::fflush(stdout);  // nothing buffered may be copied into the child
  mp::process p(client_side, listener.address());
  p.start();
  try {
    listener.accept();
  } catch (const mp::authentication_error& e) {
    std::printf("refused a client: %s\n", e.what());
  }
  mp::connection conn = listener.accept();
  std::printf("connection accepted from %s\n", listener.last_accepted()->host().c_str());
  std::fflush(stdout);
  conn.send(message{2.25, std::nullopt, "junk"});
  conn.send_bytes("hello");
  p.join();
  std::printf("client exited with %d\n", *p.exitcode());
}

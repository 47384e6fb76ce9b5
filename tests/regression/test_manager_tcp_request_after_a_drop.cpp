// A proxy dropped over TCP sends a decref, which the server does not
// answer; the next request followed it at once on the same connection,
// and Nagle's algorithm held that request back until the server's
// delayed acknowledgement came (about 40 ms per drop). The client's
// connections to a manager send at once (TCP_NODELAY).
#include "manager_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>
#include <vector>

namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

// The TCP_NODELAY setting of each of this process's sockets connected to
// 127.0.0.1:port.
std::vector<int> no_delay_of_connections_to(std::uint16_t port) {
  std::vector<int> out;
  for (const int fd : corio_test::sockets_connected_to(port)) {
    int v = -1;
    socklen_t vl = sizeof v;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) != 0) v = -1;
    out.push_back(v);
  }
  return out;
}

}  // namespace

TEST_F(mp_test, a_request_after_a_dropped_proxy_over_tcp_is_sent_at_once) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), std::string("a key"));
  m.start();
  auto q = m.queue<int>();
  {
    auto d = m.dict<int, int>();
    d.set(1, 1);
  }  // the decref
  q.put(1);  // right behind it
  corio::run([](mp::queue_proxy<int> qp) -> corio::task<void> {
    EXPECT_EQ(co_await qp.get_async(), 1);  // an awaitable call's own connection
  }(q));
  const std::vector<int> settings = no_delay_of_connections_to(m.address().port());
  EXPECT_GE(settings.size(), 2u);  // the blocking calls' and the awaitable call's
  for (int v : settings) EXPECT_EQ(v, 1);
  m.shutdown();
}

CORIO_MP_TEST_MAIN()

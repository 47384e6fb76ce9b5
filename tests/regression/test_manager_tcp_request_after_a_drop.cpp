// A proxy dropped over TCP sends a decref, which the server does not
// answer; the next request followed it at once on the same connection,
// and Nagle's algorithm held that request back until the server's
// delayed acknowledgement came (about 40 ms per drop). The client's
// connections to a manager send at once (TCP_NODELAY).
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

// The TCP_NODELAY setting of each of this process's sockets connected to
// 127.0.0.1:port.
std::vector<int> no_delay_of_connections_to(std::uint16_t port) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) throw std::runtime_error("cannot list /proc/self/fd");
  while (const dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(d)) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
        peer.sin_family != AF_INET || ntohs(peer.sin_port) != port)
      continue;
    int v = -1;
    socklen_t vl = sizeof v;
    if (::getsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_NODELAY, &v, &vl) != 0) v = -1;
    out.push_back(v);
  }
  ::closedir(d);
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

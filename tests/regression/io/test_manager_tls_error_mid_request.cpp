// A TLS error on a manager connection after its handshake (a reply record
// that fails its integrity check) reached the caller as a plain os_error
// carrying OpenSSL's error code: the TLS type was lost on the way out of
// the proxy call. Now both forms raise corio::ssl_error naming the manager.
// The records are corrupted by a relay between client and server. Both
// backends run these tests.
#include "error_util.hpp"
#include "io/tls_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>
#include <corio/ssl.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using corio_test::tls_files;

namespace {

const std::string kKey = "a key only the tests know";

// A TCP relay on 127.0.0.1 to `port`, a thread per connection; when asked,
// it flips the last byte of the next chunk it passes from the server.
class corrupting_relay {
 public:
  explicit corrupting_relay(std::uint16_t server_port) : server_port_(server_port) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    if (lfd_ < 0 || ::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(lfd_, 16) < 0)
      throw std::runtime_error("relay: cannot listen");
    socklen_t n = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &n);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~corrupting_relay() {
    ::shutdown(lfd_, SHUT_RDWR);  // ends the blocked accept
    acceptor_.join();
    {
      const std::lock_guard<std::mutex> g(m_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : pairs_) t.join();
    for (int fd : open_) ::close(fd);
    ::close(lfd_);
  }
  std::uint16_t port() const { return port_; }
  void corrupt_next_reply() { corrupt_ = true; }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  void accept_loop() {
    for (;;) {
      const int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = loopback(server_port_);
      if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        ::close(c);
        if (s >= 0) ::close(s);
        continue;
      }
      const std::lock_guard<std::mutex> g(m_);
      open_.push_back(c);
      open_.push_back(s);
      pairs_.emplace_back([this, c, s] { pump(c, s); });
    }
  }

  // Both directions until either side ends.
  void pump(int client, int server) {
    pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[65536];
    for (;;) {
      if (::poll(p, 2, -1) < 0) return;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
        if (n <= 0) return;
        if (i == 1 && corrupt_.exchange(false)) buf[n - 1] = static_cast<char>(buf[n - 1] ^ 0x5a);
        if (::send(p[1 - i].fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) return;
      }
    }
  }

  std::uint16_t server_port_;
  std::uint16_t port_ = 0;
  int lfd_ = -1;
  std::atomic<bool> corrupt_{false};
  std::thread acceptor_;
  std::mutex m_;
  std::vector<int> open_;
  std::vector<std::thread> pairs_;
};

mp::manager_ssl tls() {
  mp::manager_ssl s;
  s.server = corio_test::server_context(tls_files::get().server);
  s.client = corio_test::client_context();
  return s;
}

void expect_tls_error_naming(const std::exception_ptr& e, const mp::address& where) {
  ASSERT_TRUE(e) << "nothing raised";
  EXPECT_TRUE(corio_test::holds<corio::ssl_error>(e)) << corio_test::message_of(e);
  EXPECT_NE(corio_test::message_of(e).find(where.to_string()), std::string::npos) << corio_test::message_of(e);
}

}  // namespace

TEST_F(mp_test, a_tls_error_in_a_reply_reaches_both_forms_of_a_proxy_call_as_an_ssl_error) {
  mp::sync_manager server(mp::address("127.0.0.1", 0), kKey, tls());
  server.start();
  corrupting_relay relay(server.address().port());
  const mp::address via("127.0.0.1", relay.port());
  mp::manager_ssl client_side;
  client_side.client = corio_test::client_context();
  mp::sync_manager client(via, kKey, std::move(client_side));
  client.connect();
  auto d = client.dict<std::string, int>();
  d.set("a", 1);
  EXPECT_EQ(corio::run(d.at_async("a")), 1);  // both forms' connections are open

  relay.corrupt_next_reply();
  expect_tls_error_naming(corio_test::error_of([&] { (void)d.at("a"); }), via);
  relay.corrupt_next_reply();
  expect_tls_error_naming(corio_test::error_of([&] { (void)corio::run(d.at_async("a")); }), via);
  // A new connection serves the next call.
  EXPECT_EQ(d.at("a"), 1);
}

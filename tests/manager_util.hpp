// Helpers for the manager tests that look at a server's connections and
// waiting calls from the client's side.
#pragma once

#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/proxy.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace corio_test {

// This process's fds of sockets connected to 127.0.0.1:port (any IPv4 peer
// on that port).
inline std::vector<int> sockets_connected_to(std::uint16_t port) {
  std::vector<int> out;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) throw std::runtime_error("cannot list /proc/self/fd");
  while (const dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(d)) continue;
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (::getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &len) == 0 &&
        peer.sin_family == AF_INET && ntohs(peer.sin_port) == port)
      out.push_back(static_cast<int>(fd));
  }
  ::closedir(d);
  return out;
}

// The number of calls waiting in a manager's server, asked on `c`, a
// connection of its own (multiprocessing::client with the key).
inline std::size_t waiting_calls(corio::multiprocessing::connection& c) {
  namespace mp = corio::multiprocessing;
  c.send_bytes(mp::detail::encode_request("waiting_calls", 0, ""));
  if (!c.poll(std::chrono::seconds(60))) throw std::runtime_error("no reply to waiting_calls");
  return mp::detail::decode_reply<std::size_t>(c.recv_bytes());
}

// Until `n` calls wait in the server (bounded: about a minute).
inline corio::task<void> until_waiting(corio::multiprocessing::connection& probe, std::size_t n) {
  for (int i = 0; i < 6000 && waiting_calls(probe) != n; ++i) co_await corio::sleep(std::chrono::milliseconds(10));
  EXPECT_EQ(waiting_calls(probe), n);
}

}  // namespace corio_test

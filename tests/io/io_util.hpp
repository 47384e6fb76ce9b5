// Helpers for the I/O tests, which run once per backend (ctest sets
// CORIO_BACKEND): a time limit on real time, a listening socket, an echo
// server's callback, an fd count for leak checks, a bounded wait.
#pragma once

#include <corio/runners.hpp>
#include <corio/socket.hpp>
#include <corio/streams.hpp>
#include <corio/timeouts.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace corio_test {

// Runs `main` under a real-time limit: a lost wake-up fails the test with
// timeout_error instead of hanging it.
template <class T>
T run_io(corio::task<T> main, std::chrono::seconds limit = std::chrono::seconds(30)) {
  return corio::run([](corio::task<T> m, std::chrono::seconds l) -> corio::task<T> {
    if constexpr (std::is_void_v<T>) {
      co_await corio::wait_for(std::move(m), l);
    } else {
      co_return co_await corio::wait_for(std::move(m), l);
    }
  }(std::move(main), limit));
}

// The backend ctest asked for ("io_uring" or "epoll").
inline std::string expected_backend() {
  const char* b = std::getenv("CORIO_BACKEND");
  return b ? b : "";
}

// A TCP socket listening on 127.0.0.1 on a free port.
inline corio::socket tcp_listener(int backlog = 128) {
  corio::socket s(AF_INET, SOCK_STREAM);
  s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  s.bind(corio::socket_address::ip("127.0.0.1", 0));
  s.listen(backlog);
  return s;
}

// A start_server callback that writes back what it reads, until EOF.
inline corio::task<void> echo_handler(corio::stream_reader r, corio::stream_writer w) {
  for (;;) {
    std::string data = co_await r.read(65536);
    if (data.empty()) break;
    w.write(data);
    co_await w.drain();
  }
  w.close();
}

// The port of a server's first listening socket.
inline std::uint16_t port_of(const corio::server& s) { return s.sockets().at(0).getsockname().port(); }

// Open fds of this process (for the tests that nothing leaks).
inline int open_fd_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

// Waits (yielding to the loop) until pred holds, for at most `limit` (more
// on a loaded machine: it counts 1 ms sleeps).
template <class Pred>
corio::task<bool> eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  for (std::int64_t i = 0; i < limit.count(); ++i) {
    if (pred()) co_return true;
    co_await corio::sleep(std::chrono::milliseconds(1));
  }
  co_return pred();
}

}  // namespace corio_test

// W5: the echo server of docs/benchmarks.md, written as an asyncio user
// would write it: start_server, and per connection read -> write -> drain.
// Driven by the load generator echo_load through the peers' runner
// run_echo.sh (EXTRA="corio|<this> [mode]"), both from the peers' checkout;
// bench/net.py runs them.
//
//   w5_echo_server PORT            streams: read(n) returning a string
//   w5_echo_server into PORT       streams: read_into a buffer (no allocation)
//
// The backend is io_uring unless CORIO_BACKEND=epoll.
#include <corio/os_errors.hpp>
#include <corio/runners.hpp>
#include <corio/streams.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "echo_handler.hpp"

namespace {

corio::task<void> echo_into(corio::stream_reader r, corio::stream_writer w) {
  char buf[65536];
  try {
    for (;;) {
      const std::size_t n = co_await r.read_into(std::span<char>(buf, sizeof buf));
      if (n == 0) break;
      w.write(std::string_view(buf, n));
      co_await w.drain();
    }
  } catch (const corio::connection_error&) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool into = false;
  int a = 1;
  if (argc > 2 && std::strcmp(argv[1], "into") == 0) {
    into = true;
    a = 2;
  }
  if (argc <= a) {
    std::fprintf(stderr, "usage: w5_echo_server [into] PORT\n");
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[a]));
  corio::run([](bool use_into, std::uint16_t p) -> corio::task<void> {
    corio::server_options opts;
    opts.backlog = 4096;
    corio::server srv = co_await corio::start_server(use_into ? corio::client_connected_fn(echo_into)
                                                              : corio::client_connected_fn(bench::echo_read),
                                                     "127.0.0.1", p, opts);
    std::fprintf(stderr, "corio echo on 127.0.0.1:%u (%s)\n", p, corio::get_running_loop().backend_name());
    co_await srv.serve_forever();
  }(into, port));
}

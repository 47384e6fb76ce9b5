// A small HTTP/1.1 keep-alive "Hello, World!" server built on streams (the
// W6 workload of docs/benchmarks.md), and a client that sends it a
// few requests over one connection.
//
//   async def handle(reader, writer):
//       while True:
//           head = await reader.readuntil(b'\r\n\r\n')
//           writer.write(RESPONSE)
//           await writer.drain()
//
// Usage: http_hello_server            the demo: serve, ask, print, stop
//        http_hello_server serve PORT serve on 127.0.0.1:PORT until killed
#include <corio/corio.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

// One request after another on a connection until the client closes it.
// Only what a keep-alive benchmark needs: the head ends the request (no
// body), "Connection: close" ends the connection.
corio::task<> handle(corio::stream_reader reader, corio::stream_writer writer) {
  try {
    for (;;) {
      std::string head = co_await reader.readuntil("\r\n\r\n");
      writer.write(kResponse);
      if (head.find("Connection: close") != std::string::npos) break;
      co_await writer.drain();
    }
  } catch (const corio::incomplete_read_error&) {  // the client left
  } catch (const corio::connection_error&) {
  }
  writer.close();
}

corio::task<> demo() {
  corio::server server = co_await corio::start_server(handle, "127.0.0.1", 0);
  const std::uint16_t port = server.sockets().at(0).getsockname().port();
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  for (int i = 1; i <= 3; ++i) {
    writer.write(i < 3 ? "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                       : "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    std::string status = co_await reader.readline();
    std::size_t length = 0;
    for (;;) {  // headers
      std::string line = co_await reader.readline();
      if (line == "\r\n") break;
      if (line.rfind("Content-Length:", 0) == 0) length = std::stoul(line.substr(15));
    }
    std::string body = co_await reader.readexactly(length);
    status.resize(status.size() - 2);
    std::printf("request %d: %s, body '%s'\n", i, status.c_str(), body.c_str());
  }
  std::printf("after 'Connection: close' the server hangs up: %s\n",
              (co_await reader.read()).empty() ? "yes" : "no");
  server.close();
  co_await server.wait_closed();
}

corio::task<> serve(std::uint16_t port) {
  corio::server_options opts;
  opts.backlog = 4096;
  corio::server server = co_await corio::start_server(handle, "127.0.0.1", port, opts);
  co_await server.serve_forever();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 && std::strcmp(argv[1], "serve") == 0) {
    corio::run(serve(static_cast<std::uint16_t>(std::atoi(argv[2]))));
    return 0;
  }
  corio::run(demo());
}

// TCP echo client and server using streams (Python docs, "TCP echo client
// using streams" and "TCP echo server using streams"), in one program: the
// server listens on a free port of 127.0.0.1 and the client talks to it.
//
//   async def handle_echo(reader, writer):
//       data = await reader.read(100)
//       writer.write(data); await writer.drain()
//       writer.close(); await writer.wait_closed()
//   server = await asyncio.start_server(handle_echo, '127.0.0.1', 8888)
//   reader, writer = await asyncio.open_connection('127.0.0.1', 8888)
//
// Usage: echo_server_client
#include <corio/corio.hpp>

#include <cstdio>
#include <string>

namespace {

corio::task<> handle_echo(corio::stream_reader reader, corio::stream_writer writer) {
  std::string data = co_await reader.read(100);
  std::printf("Server received '%s' from %s\n", data.c_str(), writer.peername().host().c_str());
  std::printf("Server sends: '%s'\n", data.c_str());
  writer.write(data);
  co_await writer.drain();
  std::printf("Server closes the connection\n");
  writer.close();
  co_await writer.wait_closed();
}

corio::task<> tcp_echo_client(std::uint16_t port, std::string message) {
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  std::printf("Client sends: '%s'\n", message.c_str());
  writer.write(message);
  co_await writer.drain();
  std::string data = co_await reader.read(100);
  std::printf("Client received: '%s'\n", data.c_str());
  writer.close();
  co_await writer.wait_closed();
}

corio::task<> main_task() {
  corio::server server = co_await corio::start_server(handle_echo, "127.0.0.1", 0);
  const std::uint16_t port = server.sockets().at(0).getsockname().port();
  std::printf("Serving on 127.0.0.1 (%zu socket)\n", server.sockets().size());
  co_await tcp_echo_client(port, "Hello World!");
  server.close();
  co_await server.wait_closed();
  std::printf("Server closed\n");
}

}  // namespace

int main() { corio::run(main_task()); }

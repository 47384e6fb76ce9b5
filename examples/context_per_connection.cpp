// A context_var holding the client address of each connection (Python docs,
// contextvars: "an asyncio server where a context variable holds the
// client's address, so that code deep in the handler can use it without
// passing it along"):
//
//   client_addr_var = contextvars.ContextVar('client_addr')
//   def render_goodbye():
//       client_addr = client_addr_var.get()
//       return f'Good bye, client @ {client_addr}\n'.encode()
//   async def handle_request(reader, writer):
//       addr = writer.transport.get_extra_info('socket').getpeername()
//       client_addr_var.set(addr)
//       ...
//
// Each connection's task runs in its own copy of the context, so the value
// set by one never leaks into another.
//
// Usage: context_per_connection
#include <corio/corio.hpp>

#include <cstdio>
#include <string>

namespace {

corio::context_var<std::string> client_addr("client_addr");

// Far from the handler, yet it knows who it talks to.
std::string render_goodbye() { return "Good bye, client @ " + client_addr.get() + "\n"; }

corio::task<> handle_request(corio::stream_reader reader, corio::stream_writer writer) {
  std::string who = co_await reader.readline();  // the client says its name
  who.pop_back();
  client_addr.set(writer.peername().host() + " (" + who + ")");
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty() || line == "bye\n") break;
    writer.write(line);
  }
  writer.write(render_goodbye());
  co_await writer.drain();
  writer.close();
}

corio::task<> client(std::uint16_t port, std::string name) {
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  writer.write(name + "\nhello\nbye\n");
  std::string echoed = co_await reader.readline();
  std::string goodbye = co_await reader.readline();
  std::printf("%s: %s", name.c_str(), goodbye.c_str());
  (void)echoed;
}

corio::task<> main_task() {
  corio::server server = co_await corio::start_server(handle_request, "127.0.0.1", 0);
  const std::uint16_t port = server.sockets().at(0).getsockname().port();
  // One after the other, so that the output has a fixed order.
  co_await client(port, "ann");
  co_await client(port, "bob");
  std::printf("main sees no client: %s\n", client_addr.get("<unset>").c_str());
}

}  // namespace

int main() { corio::run(main_task()); }

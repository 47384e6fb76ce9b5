// Fetching the response headers of several HTTP servers concurrently
// (Python docs, "Get HTTP headers"), against small servers started on
// 127.0.0.1 by the example itself:
//
//   async def print_http_headers(url):
//       reader, writer = await asyncio.open_connection(url.hostname, 80)
//       writer.write(f'HEAD {url.path or "/"} HTTP/1.0\r\nHost: {url.hostname}\r\n\r\n'.encode())
//       while True:
//           line = await reader.readline()
//           if not line: break
//           if line := line.decode('latin1').rstrip(): print(f'HTTP header> {line}')
//   await asyncio.gather(*(print_http_headers(u) for u in urls))
//
// Each server answers after its own delay, so the fetches overlap; gather
// returns the headers in the order asked.
//
// Usage: http_fetch_headers
#include <corio/corio.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace {

corio::client_connected_fn site(std::string name, int delay_ms) {
  return [name, delay_ms](corio::stream_reader reader, corio::stream_writer writer) -> corio::task<> {
    (void)co_await reader.readuntil("\r\n\r\n");
    co_await corio::sleep(std::chrono::milliseconds(delay_ms));
    writer.write("HTTP/1.0 200 OK\r\nServer: " + name + "\r\nContent-Type: text/html\r\n\r\n");
    writer.close();
  };
}

corio::task<std::vector<std::string>> http_headers(std::uint16_t port, std::string path) {
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port);
  writer.write("HEAD " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  std::vector<std::string> headers;
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) headers.push_back(line);
  }
  co_return headers;
}

corio::task<> main_task() {
  std::vector<corio::server> servers;
  servers.push_back(co_await corio::start_server(site("slow-site", 30), "127.0.0.1", 0));
  servers.push_back(co_await corio::start_server(site("quick-site", 1), "127.0.0.1", 0));
  servers.push_back(co_await corio::start_server(site("middle-site", 15), "127.0.0.1", 0));
  std::vector<corio::task<std::vector<std::string>>> fetches;
  for (auto& s : servers) fetches.push_back(http_headers(s.sockets().at(0).getsockname().port(), "/"));
  const auto all = co_await corio::gather(std::move(fetches));
  for (const auto& headers : all) {
    for (const auto& h : headers) std::printf("HTTP header> %s\n", h.c_str());
    std::printf("\n");
  }
}

}  // namespace

int main() { corio::run(main_task()); }

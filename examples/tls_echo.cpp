// Python docs, "Streams": the TCP echo server and client, over TLS.
//
//   ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
//   ctx.load_cert_chain("cert.pem", "key.pem")
//   server = await asyncio.start_server(handle_echo, "127.0.0.1", 8888, ssl=ctx)
//   reader, writer = await asyncio.open_connection(
//       "127.0.0.1", 8888, ssl=client_ctx, server_hostname="localhost")
//
// The certificate comes from a certificate authority made when the program
// starts (corio::testing, Python: trustme), which the client trusts; a
// client that trusts only the system's CAs is refused, and the server
// reports that handshake to the loop's exception handler.
//
// Usage: tls_echo   (options the other examples take are accepted and ignored:
// TLS runs on real sockets and the real clock)
#include <corio/events.hpp>
#include <corio/runners.hpp>
#include <corio/ssl.hpp>
#include <corio/streams.hpp>
#include <corio/testing/tls.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {

corio::task<> handle_echo(corio::stream_reader reader, corio::stream_writer writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;  // the client's close_notify
    writer.write(line);
    co_await writer.drain();
  }
  writer.close();
}

std::string reason_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const corio::ssl_error& s) {
    return s.reason();
  } catch (const std::exception& s) {
    return s.what();
  }
}

// The client of the docs, verifying the server with the CA it trusts.
corio::task<> echo_client(std::uint16_t port, corio::ssl_context ctx) {
  corio::connection_options opts;
  opts.ssl = std::move(ctx);
  opts.server_hostname = "localhost";
  auto [reader, writer] = co_await corio::open_connection("127.0.0.1", port, opts);
  const auto tls = std::any_cast<corio::ssl_object>(writer.get_extra_info("ssl_object"));
  const auto cert = std::any_cast<corio::peer_certificate>(writer.get_extra_info("peercert"));
  std::cout << "client: " << tls.version() << " with " << cert.subject.back().second << ", certified by "
            << cert.issuer.front().second << '\n';
  for (std::string message : {"Hello World!", "over TLS"}) {
    writer.write(message + "\n");
    std::string reply = co_await reader.readline();
    reply.pop_back();
    std::cout << "client: sent '" << message << "', received '" << reply << "'\n";
  }
  writer.close();
  co_await writer.wait_closed();
  std::cout << "client: closed (close_notify sent and answered)\n";
}

// A client that trusts only the system's CAs, which do not know ours.
corio::task<> stranger(std::uint16_t port) {
  corio::connection_options opts;
  opts.ssl = corio::create_default_context();
  opts.server_hostname = "localhost";
  try {
    (void)co_await corio::open_connection("127.0.0.1", port, opts);
  } catch (const corio::ssl_certificate_verification_error& e) {
    std::cout << "stranger: refused: " << e.reason() << ": " << e.verify_message() << '\n';
  }
}

corio::task<> amain() {
  corio::testing::certificate_authority ca;
  corio::ssl_context server_ctx = corio::create_default_context(corio::ssl_purpose::client_auth);
  ca.issue_cert({"localhost", "127.0.0.1"}).configure_cert(server_ctx);
  std::vector<std::string> reported;
  corio::get_running_loop().set_exception_handler([&](corio::event_loop&, const corio::exception_context& c) {
    reported.push_back(c.message + " (" + reason_of(c.exception) + ")");
  });
  corio::server_options server_opts;
  server_opts.ssl = server_ctx;
  corio::server server = co_await corio::start_server(handle_echo, "127.0.0.1", 0, server_opts);
  const std::uint16_t port = server.sockets().at(0).getsockname().port();
  std::cout << "server: serving TLS on 127.0.0.1 with a certificate for localhost\n";

  corio::ssl_context client_ctx = corio::create_default_context();
  ca.configure_trust(client_ctx);
  co_await echo_client(port, client_ctx);
  co_await stranger(port);
  for (int i = 0; i < 1000 && reported.empty(); ++i) co_await corio::sleep(std::chrono::milliseconds(5));
  for (const std::string& r : reported) std::cout << "server: " << r << '\n';
  server.close();
  co_await server.wait_closed();
}

}  // namespace

int main() {
  corio::run(amain());
  return 0;
}

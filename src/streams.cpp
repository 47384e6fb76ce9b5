#include <corio/detail/tls_layer.hpp>
#include <corio/events.hpp>
#include <corio/getaddrinfo.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/streams.hpp>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

namespace corio {

namespace {

detail::loop_core* running_core(const char* what) {
  detail::loop_core* l = detail::tls.running_loop;
  if (!l) throw std::runtime_error(std::string("corio: ") + what + ": no running event loop");
  return l;
}

stream_pair make_pair_on(socket sock, std::size_t limit, const detail::tls_settings* tls = nullptr) {
  detail::loop_core* loop = running_core("open_connection");
  stream_reader reader(limit);
  auto* t = new detail::stream_transport(loop, std::move(sock), &reader.core());
  stream_writer writer(t);
  t->release();
  if (tls) detail::tls_layer::attach(t, *tls);  // before a byte is read
  t->start_reading();
  return {std::move(reader), std::move(writer)};
}

// Python: the waiter of _create_connection_transport, set once the
// handshake is done.
task<stream_pair> tls_pair_on(socket sock, std::size_t limit, detail::tls_settings tls) {
  stream_pair p = make_pair_on(std::move(sock), limit, &tls);
  co_await detail::tls_handshake(p.second);
  co_return p;
}

// Python's rule for several failed attempts: one error, or the same one
// everywhere, is raised as it is; different ones are summed up.
[[noreturn]] void raise_connect_errors(const std::vector<std::exception_ptr>& errs, const std::string& what) {
  if (errs.empty()) throw os_error(EADDRNOTAVAIL, what + ": getaddrinfo returned no address");
  if (errs.size() == 1) std::rethrow_exception(errs[0]);
  std::string first = describe_exception(errs[0]);
  bool same = true;
  for (const auto& e : errs) same = same && describe_exception(e) == first;
  if (same) std::rethrow_exception(errs[0]);
  std::string msg = what + ": Multiple exceptions: ";
  for (std::size_t i = 0; i < errs.size(); ++i) {
    if (i) msg += ", ";
    try {
      std::rethrow_exception(errs[i]);
    } catch (const std::exception& e) {
      msg += e.what();
    }
  }
  throw os_error(ECONNREFUSED, msg);
}

void listen_on(socket& s, const server_options& opts) {
  s.listen(opts.backlog);
}

}  // namespace

task<stream_pair> open_connection(std::string host, std::uint16_t port, connection_options opts) {
  const std::string what = "open_connection(" + host + ", " + std::to_string(port) + ")";
  const std::optional<detail::tls_settings> tls = detail::client_tls(opts, host);
  std::vector<addrinfo_entry> addrs = co_await getaddrinfo(host, port, opts.family, SOCK_STREAM);
  std::vector<std::exception_ptr> errs;
  socket conn;
  for (const addrinfo_entry& a : addrs) {
    try {
      socket s(a.family, SOCK_STREAM, a.proto);
      if (opts.local_addr) s.bind(*opts.local_addr);
      co_await sock_connect(s, a.address);
      s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);  // as asyncio does for TCP
      if (!tls) co_return make_pair_on(std::move(s), opts.limit);
      conn = std::move(s);  // the handshake's errors are not connect errors
      break;
    } catch (const std::exception&) {
      errs.push_back(std::current_exception());
    }
  }
  if (!conn) raise_connect_errors(errs, what);
  co_return co_await tls_pair_on(std::move(conn), opts.limit, *tls);
}

task<stream_pair> open_connection(std::string host, std::uint16_t port) {
  return open_connection(std::move(host), port, connection_options{});
}

task<stream_pair> open_connection(socket sock, std::size_t limit) {
  if (!sock) throw std::invalid_argument("corio: open_connection: the socket is closed");
  co_return make_pair_on(std::move(sock), limit);
}

task<server> start_server(client_connected_fn cb, std::vector<std::string> hosts, std::uint16_t port,
                          server_options opts) {
  if (!cb) throw std::invalid_argument("corio: start_server: the callback is empty");
  detail::loop_core* loop = running_core("start_server");
  std::optional<detail::tls_settings> tls = detail::server_tls(opts);
  if (hosts.empty()) hosts.emplace_back();
  std::vector<socket> socks;
  for (const std::string& host : hosts) {
    std::vector<addrinfo_entry> addrs = co_await getaddrinfo(host, port, opts.family, SOCK_STREAM, 0, AI_PASSIVE);
    for (const addrinfo_entry& a : addrs) {
      socket s(a.family, SOCK_STREAM, a.proto);
      if (opts.reuse_address) s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
      if (opts.reuse_port) s.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
      // Python: an IPv6 socket serves IPv6 only, so that the IPv4 wildcard
      // can be bound beside it.
      if (a.family == AF_INET6) s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
      s.bind(a.address);
      listen_on(s, opts);
      socks.push_back(std::move(s));
    }
  }
  auto* core = new detail::server_core(loop, std::move(socks), std::move(cb), opts.limit, {});
  server srv(core);
  core->release();
  core->set_tls(std::move(tls));
  if (opts.start_serving) srv.start_serving();
  co_return srv;
}

task<server> start_server(client_connected_fn cb, std::string host, std::uint16_t port, server_options opts) {
  std::vector<std::string> hosts;
  hosts.push_back(std::move(host));
  return start_server(std::move(cb), std::move(hosts), port, opts);
}

task<server> start_server(client_connected_fn cb, std::string host, std::uint16_t port) {
  return start_server(std::move(cb), std::move(host), port, server_options{});
}

task<server> start_server(client_connected_fn cb, socket sock, server_options opts) {
  if (!cb) throw std::invalid_argument("corio: start_server: the callback is empty");
  if (!sock) throw std::invalid_argument("corio: start_server: the socket is closed");
  detail::loop_core* loop = running_core("start_server");
  std::optional<detail::tls_settings> tls = detail::server_tls(opts);
  listen_on(sock, opts);
  std::string unix_path;
  std::vector<socket> socks;
  socks.push_back(std::move(sock));
  auto* core = new detail::server_core(loop, std::move(socks), std::move(cb), opts.limit, std::move(unix_path));
  server srv(core);
  core->release();
  core->set_tls(std::move(tls));
  if (opts.start_serving) srv.start_serving();
  co_return srv;
}

task<stream_pair> open_unix_connection(std::string path, connection_options opts) {
  const std::optional<detail::tls_settings> tls = detail::client_tls(opts, {});
  socket s(AF_UNIX, SOCK_STREAM);
  co_await sock_connect(s, socket_address::unix_path(path));
  if (!tls) co_return make_pair_on(std::move(s), opts.limit);
  co_return co_await tls_pair_on(std::move(s), opts.limit, *tls);
}

task<stream_pair> open_unix_connection(std::string path) {
  return open_unix_connection(std::move(path), connection_options{});
}

task<server> start_unix_server(client_connected_fn cb, std::string path, server_options opts) {
  if (!cb) throw std::invalid_argument("corio: start_unix_server: the callback is empty");
  detail::loop_core* loop = running_core("start_unix_server");
  std::optional<detail::tls_settings> tls = detail::server_tls(opts);
  const socket_address addr = socket_address::unix_path(path);
  // Python: a stale socket file left by an earlier server is removed.
  struct ::stat st {};
  if (!path.empty() && path[0] != '\0' && ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    ::unlink(path.c_str());
  socket s(AF_UNIX, SOCK_STREAM);
  s.bind(addr);
  listen_on(s, opts);
  std::vector<socket> socks;
  socks.push_back(std::move(s));
  const bool is_file = !path.empty() && path[0] != '\0';
  auto* core = new detail::server_core(loop, std::move(socks), std::move(cb), opts.limit,
                                       is_file ? std::move(path) : std::string());
  server srv(core);
  core->release();
  core->set_tls(std::move(tls));
  if (opts.start_serving) srv.start_serving();
  co_return srv;
}

task<server> start_unix_server(client_connected_fn cb, std::string path) {
  return start_unix_server(std::move(cb), std::move(path), server_options{});
}

}  // namespace corio

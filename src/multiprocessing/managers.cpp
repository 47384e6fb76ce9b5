// base_manager, sync_manager and manager(): the server process's start and
// shutdown (MG-01..MG-03, MG-17..MG-19).
#include "manager_server.hpp"

#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/process.hpp>

#include <unistd.h>

#include <variant>

namespace corio::multiprocessing {

namespace detail {

struct manager_state {
  std::optional<multiprocessing::address> requested;
  std::optional<multiprocessing::address> address;  // the requested one, then the bound one
  std::string authkey;
  base_manager::state st = base_manager::state::initial;
  std::unique_ptr<process> server;  // when this manager started the server
  std::vector<detail::registered_type> types;
  std::optional<multiprocessing::address> source;  // bind_client()
  manager_ssl ssl;
  // The client context becomes this process's for the manager's address.
  void register_tls() const {
    if (ssl.client && address) register_manager_ssl(*address, *ssl.client, ssl.server_hostname);
  }
};

}  // namespace detail

base_manager::base_manager(std::optional<multiprocessing::address> address, std::optional<std::string> authkey)
    : s_(std::make_unique<detail::manager_state>()) {
  s_->requested = address;
  s_->address = std::move(address);
  s_->authkey = authkey ? std::move(*authkey) : current_process().authkey();
}

base_manager::base_manager(std::optional<multiprocessing::address> address, std::optional<std::string> authkey,
                           manager_ssl ssl)
    : base_manager(std::move(address), std::move(authkey)) {
  if (ssl.server && ssl.server->protocol() != ssl_protocol::tls_server)
    throw std::invalid_argument("manager: manager_ssl::server must be a server context (ssl_protocol::tls_server)");
  if (ssl.client && ssl.client->protocol() != ssl_protocol::tls_client)
    throw std::invalid_argument("manager: manager_ssl::client must be a client context (ssl_protocol::tls_client)");
  if (ssl.server && ssl.server_factory)
    throw std::invalid_argument("manager: manager_ssl::server and manager_ssl::server_factory both given; give one");
  s_->ssl = std::move(ssl);
}

base_manager::base_manager(base_manager&&) noexcept = default;

base_manager& base_manager::operator=(base_manager&& o) noexcept {
  if (this != &o) {
    if (s_) {
      try {
        shutdown();
      } catch (...) {
      }
    }
    s_ = std::move(o.s_);
  }
  return *this;
}

base_manager::~base_manager() {
  if (!s_) return;
  try {
    shutdown();
  } catch (...) {
  }
}

void base_manager::check_started(const char* what) const {
  if (!s_) throw process_error(std::string(what) + ": the manager was moved from");
  if (s_->st == state::initial) throw process_error(std::string(what) + ": the manager is not started");
  if (s_->st == state::shutdown) throw process_error("Manager has shut down");
}

void base_manager::start() { start(get_context()); }

void base_manager::start(const context& ctx) {
  if (!s_) throw process_error("start: the manager was moved from");
  if (s_->st == state::started) throw process_error("Already started server");
  if (s_->st == state::shutdown) throw process_error("Manager has shut down");
  auto [reader, writer] = pipe(false);
  const std::string where = s_->requested ? s_->requested->to_string() : std::string("a fresh address");
  detail::server_config cfg{s_->requested, s_->authkey, s_->types, std::nullopt};
  if (s_->ssl.server || s_->ssl.server_factory) {
    if (!s_->ssl.client)
      throw std::invalid_argument("manager at " + where + ": a server ssl_context needs manager_ssl::client too, "
                                  "for the manager's own connections to its server");
    if (s_->ssl.server && ctx.get_start_method() != "fork")
      throw std::invalid_argument("manager at " + where + ": a server ssl_context reaches the server process by fork "
                                  "only (an OpenSSL context has no encoding), not by " + ctx.get_start_method() +
                                  "; give manager_ssl::server_factory, a function that builds it in the server process");
    if (s_->ssl.server_factory)
      cfg.ssl_factory = detail::locate_code(reinterpret_cast<detail::any_fn>(s_->ssl.server_factory.get()),
                                            "manager_ssl::server_factory");
  }
  std::unique_ptr<process> proc;
  if (s_->ssl.server) {
    proc = std::make_unique<process>([cfg = std::move(cfg), tls = *s_->ssl.server, w = std::move(writer)]() mutable {
      detail::manager_server_main_tls(std::move(cfg), std::move(w), tls);
    });
  } else {
    proc = std::make_unique<process>(&detail::manager_server_main, std::move(cfg), std::move(writer));
  }
  ctx.start(*proc);
  std::optional<detail::start_report> r;
  try {
    r = reader.recv<detail::start_report>();
  } catch (const eof_error&) {
    proc->join();
    throw process_error("manager: the server process exited with code " + std::to_string(proc->exitcode().value_or(0)) +
                        " before reporting its address");
  }
  if (r->index() == 0) {
    proc->join();
    std::rethrow_exception(std::get<0>(*r));
  }
  if (r->index() == 2) {
    proc->join();
    // The factory's own exception stays reachable (std::rethrow_if_nested).
    try {
      std::rethrow_exception(std::get<2>(*r).error);
    } catch (const std::exception& e) {
      std::throw_with_nested(process_error("manager at " + where +
                                           ": manager_ssl::server_factory failed in the server process: " + e.what()));
    } catch (...) {
      std::throw_with_nested(process_error("manager at " + where +
                                           ": manager_ssl::server_factory failed in the server process"));
    }
  }
  s_->address = std::get<1>(*r);
  s_->server = std::move(proc);
  s_->st = state::started;
  s_->register_tls();
}

void base_manager::register_raw(std::string type_id, const char* kind, detail::any_fn maker, detail::any_fn factory,
                                std::int64_t maxsize) {
  if (!s_) throw process_error("register: the manager was moved from");
  if (s_->st != state::initial) throw process_error("register: the manager is already started");
  detail::registered_type t;
  t.type_id = std::move(type_id);
  t.kind = kind;
  if (maker != nullptr) t.maker = detail::locate_code(maker, "a manager's maker");
  if (factory != nullptr) t.factory = detail::locate_code(factory, "a manager's factory");
  t.maxsize = maxsize;
  for (auto& old : s_->types) {
    if (old.type_id == t.type_id) {
      old = std::move(t);
      return;
    }
  }
  s_->types.push_back(std::move(t));
}

const multiprocessing::address& manager_server::address() const noexcept { return detail::bound_address(*s_); }

void manager_server::serve_forever() { detail::serve(*s_); }

manager_server base_manager::get_server() const {
  if (!s_) throw process_error("get_server: the manager was moved from");
  if (s_->st == state::started) throw process_error("Already started server");
  if (s_->st == state::shutdown) throw process_error("Manager has shut down");
  std::optional<ssl_context> tls = s_->ssl.server;
  if (s_->ssl.server_factory) {
    tls = s_->ssl.server_factory.get()();
    if (tls->protocol() != ssl_protocol::tls_server)
      throw std::invalid_argument("get_server: manager_ssl::server_factory returned a client context, not a server "
                                  "one (ssl_protocol::tls_server)");
  }
  return manager_server(
      detail::bind_server(detail::server_config{s_->requested, s_->authkey, s_->types, std::nullopt}, std::move(tls)));
}

void base_manager::bind_client(multiprocessing::address source) {
  if (!s_) throw process_error("bind_client: the manager was moved from");
  s_->source = std::move(source);
}

void base_manager::connect() {
  if (!s_) throw process_error("connect: the manager was moved from");
  if (s_->st == state::shutdown) throw process_error("Manager has shut down");
  if (!s_->address) throw std::invalid_argument("connect: the manager has no address");
  s_->register_tls();
  detail::decode_reply<void>(
      detail::round_trip_raw(*s_->address, s_->authkey, detail::encode_request("ping", 0, ""), s_->source));
  s_->st = state::started;
}

void base_manager::shutdown(duration timeout) {
  if (!s_ || s_->st != state::started) return;
  s_->st = state::shutdown;
  if (!s_->server) return;  // only connected: the server is not ours to stop
  process& p = *s_->server;
  try {
    connection c = detail::manager_connect(*s_->address, s_->authkey);
    c.send_bytes(detail::encode_request("shutdown", 0, ""));
    if (c.poll(timeout)) c.recv_bytes();
  } catch (...) {
    // Already gone: the waits below return at once.
  }
  p.join(timeout);
  if (p.is_alive()) {
    p.terminate();
    p.join(std::chrono::milliseconds(100));
    if (p.is_alive()) {
      p.kill();
      p.join();
    }
  }
  detail::forget_manager_connections();
  if (s_->address && s_->address->is_unix() && !s_->address->is_abstract()) ::unlink(s_->address->path().c_str());  // a server killed leaves its path
}

const multiprocessing::address& base_manager::address() const {
  if (!s_) throw process_error("address: the manager was moved from");
  if (!s_->address) throw process_error("address: the manager has none before it is started");
  return *s_->address;
}

base_manager::state base_manager::get_state() const noexcept { return s_ ? s_->st : state::shutdown; }

std::optional<pid_t> base_manager::server_pid() const {
  if (!s_ || !s_->server) return std::nullopt;
  return s_->server->pid();
}

std::size_t base_manager::number_of_objects() const {
  check_started("number_of_objects");
  return detail::decode_reply<std::size_t>(
      detail::round_trip_raw(*s_->address, s_->authkey, detail::encode_request("number_of_objects", 0, ""), s_->source));
}

std::shared_ptr<const detail::proxy_ref> base_manager::create_raw(std::string_view type_id,
                                                                   const std::string& request) const {
  check_started("create");
  const auto id =
      detail::decode_reply<std::uint64_t>(detail::round_trip_raw(*s_->address, s_->authkey, request, s_->source));
  return std::make_shared<detail::proxy_ref>(detail::token{std::string(type_id), *s_->address, id}, s_->authkey,
                                             s_->source);
}

sync_manager manager() {
  sync_manager m;
  m.start();
  return m;
}

}  // namespace corio::multiprocessing

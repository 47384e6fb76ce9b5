// Managers reached over TLS (managers.hpp, manager_ssl): a server that
// presents a certificate from the tests' throwaway CA, clients that verify
// it, the authkey handshake inside the channel, and the clear errors of a
// peer on the other side of a mismatch. Run once per backend.
#include "error_util.hpp"
#include "io/tls_util.hpp"
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>
#include <corio/ssl.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;
using corio_test::what_of;
using corio_test::tls_files;

namespace {

using int_dict = mp::dict_proxy<std::string, int>;

const std::string kKey = "a key only the tests know";

// A manager on a free TCP port of 127.0.0.1 that presents `cert` and whose
// own connections verify it against the test CA.
mp::manager_ssl tls_of(const corio::testing::issued_cert& cert, std::string server_hostname = {}) {
  mp::manager_ssl s;
  s.server = corio_test::server_context(cert);
  s.client = corio_test::client_context();
  s.server_hostname = std::move(server_hostname);
  return s;
}

mp::sync_manager started_tls_manager(const corio::testing::issued_cert& cert, std::string server_hostname = {}) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_of(cert, std::move(server_hostname)));
  m.start();
  return m;
}

// The same server reached by a name this process has no context for.
mp::address by_name(const mp::base_manager& m) { return mp::address("localhost", m.address().port()); }

// "<kind><thread>-<i>" (built by appending: g++ 12 warns falsely about
// a literal + std::string here).
std::string key_of(char kind, int thread, int i) {
  std::string k(1, kind);
  k += std::to_string(thread);
  k += '-';
  k += std::to_string(i);
  return k;
}

// In a child: one blocking call and one awaitable call through the proxy.
void child_uses_both_forms(int_dict d) {
  d.set("blocking", 1);
  corio::run([](int_dict p) -> corio::task<> { co_await p.set_async("awaitable", 2); }(d));
}

// In a spawned child: the proxy is decoded before this runs.
void child_gets_a_proxy(int_dict d) { d.set("never", 1); }

// Server context factories (manager_ssl::server_factory). A spawned server
// is a fresh copy of this program, whose own tls_files would come from
// another CA: the test exports the path of the certificate its clients
// trust before it starts the manager, and the factory reads it.
constexpr const char* kServerPemVar = "CORIO_TEST_MANAGER_SERVER_PEM";

void export_server_pem() { ::setenv(kServerPemVar, tls_files::get().server_combined.c_str(), 1); }

corio::ssl_context server_context_from_the_environment() {
  const char* pem = std::getenv(kServerPemVar);
  if (pem == nullptr) throw std::runtime_error(std::string(kServerPemVar) + " is not set");
  corio::ssl_context ctx = corio::create_default_context(corio::ssl_purpose::client_auth);
  ctx.load_cert_chain(pem);
  return ctx;
}

const std::string kMissingPem = "/nonexistent-corio-dir/manager-server.pem";

corio::ssl_context server_context_from_a_missing_file() {
  corio::ssl_context ctx = corio::create_default_context(corio::ssl_purpose::client_auth);
  ctx.load_cert_chain(kMissingPem);
  return ctx;
}

corio::ssl_context server_context_that_throws() { throw std::runtime_error("the certificate store is locked"); }

corio::ssl_context a_client_context_by_mistake() { return corio_test::client_context(); }

mp::manager_ssl tls_by_factory(mp::ssl_context_factory factory, std::string server_hostname = {}) {
  mp::manager_ssl s;
  s.client = corio_test::client_context();
  s.server_hostname = std::move(server_hostname);
  s.server_factory = factory;
  return s;
}

// Starts a manager whose server builds its context with
// server_context_from_the_environment, by `method`, and uses it over TLS
// from this process and from a child.
void serves_over_tls_with_a_factory_started_by(const char* method) {
  export_server_pem();
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_by_factory(&server_context_from_the_environment));
  m.start(mp::get_context(method));
  int_dict d = m.dict<std::string, int>();
  mp::process p(&child_uses_both_forms, d);
  p.start();
  p.join();
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_EQ(d.at("blocking"), 1);
  EXPECT_EQ(corio::run(d.at_async("awaitable")), 2);
  m.shutdown();
  EXPECT_EQ(m.get_state(), mp::base_manager::state::shutdown);
}

// What start() raised, and the exception nested in it.
struct start_failure {
  std::string what;
  std::exception_ptr nested;
};

start_failure start_failure_of(mp::base_manager& m, const char* method) {
  start_failure f;
  try {
    m.start(mp::get_context(method));
    f.what = "(nothing raised)";
  } catch (const mp::process_error& e) {
    f.what = e.what();
    try {
      std::rethrow_if_nested(e);
    } catch (...) {
      f.nested = std::current_exception();
    }
  }
  return f;
}

}  // namespace

TEST_F(mp_test, a_manager_over_tls_serves_blocking_and_awaitable_proxies_from_another_process) {
  auto m = started_tls_manager(tls_files::get().server);
  int_dict d = m.dict<std::string, int>();
  mp::process p(&child_uses_both_forms, d);
  p.start();
  p.join();
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_EQ(d.at("blocking"), 1);
  EXPECT_EQ(d.at("awaitable"), 2);
  EXPECT_EQ(corio::run(d.size_async()), 2u);
  EXPECT_EQ(m.number_of_objects(), 1u);
}

TEST_F(mp_test, messages_of_many_tls_records_cross_in_both_forms) {
  auto m = started_tls_manager(tls_files::get().server);
  auto d = m.dict<std::string, std::string>();
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  d.set("blocking", big);
  corio::run([](mp::dict_proxy<std::string, std::string> p, std::string v) -> corio::task<> {
    co_await p.set_async("awaitable", std::move(v));
  }(d, big));
  EXPECT_EQ(d.at("awaitable"), big);
  EXPECT_EQ(corio::run(d.at_async("blocking")), big);
}

TEST_F(mp_test, over_tls_a_cancelled_get_takes_no_item_and_the_gets_behind_it_complete_in_order) {
  auto m = started_tls_manager(tls_files::get().server);
  auto q = m.queue<int>();
  corio::run([](mp::queue_proxy<int> qp) -> corio::task<> {
    // Asked on the thread's blocking connection, inside TLS too.
    auto waiting = [&qp] {
      return mp::detail::decode_reply<std::size_t>(
          mp::detail::round_trip(*qp.ref(), mp::detail::encode_request("waiting_calls", 0, "")));
    };
    std::vector<corio::task<int>> gets;
    for (int i = 0; i < 3; ++i) gets.push_back(corio::create_task(qp.get_async()));
    for (int i = 0; i < 6000 && waiting() != 1; ++i) co_await corio::sleep(10ms);
    EXPECT_EQ(waiting(), 1u);  // the first waits in the server, the others behind it
    gets[0].cancel();
    EXPECT_THROW(co_await gets[0], corio::cancelled_error);
    qp.put(1);
    qp.put(2);
    EXPECT_EQ(co_await corio::wait_for(gets[1], 60s), 1);
    EXPECT_EQ(co_await corio::wait_for(gets[2], 60s), 2);
    EXPECT_EQ(co_await qp.qsize_async(), 0u);
  }(q));
}

TEST_F(mp_test, threads_share_the_registered_client_context_each_on_its_own_connection) {
  auto m = started_tls_manager(tls_files::get().server);
  int_dict d = m.dict<std::string, int>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([d, t] {
      for (int i = 0; i < 20; ++i) d.set(key_of('b', t, i), i);
      corio::run([](int_dict p, int n) -> corio::task<> {
        for (int i = 0; i < 20; ++i) co_await p.set_async(key_of('a', n, i), i);
      }(d, t));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(d.size(), 120u);
}

TEST_F(mp_test, a_client_with_the_wrong_key_is_refused_inside_tls_and_the_server_goes_on) {
  auto m = started_tls_manager(tls_files::get().server);
  int_dict d = m.dict<std::string, int>();
  mp::base_manager stranger(m.address(), std::string("not the key"), tls_of(tls_files::get().server));
  const std::string what = what_of<mp::authentication_error>([&] { stranger.connect(); });
  EXPECT_NE(what.find("manager at " + m.address().to_string()), std::string::npos) << what;
  EXPECT_NE(what.find("digest"), std::string::npos) << what;
  d.set("after", 3);
  EXPECT_EQ(d.at("after"), 3);
}

TEST_F(mp_test, a_client_without_tls_is_closed_by_a_tls_server_with_an_error_naming_the_address) {
  auto m = started_tls_manager(tls_files::get().server);
  int_dict d = m.dict<std::string, int>();
  // Nothing is registered for "localhost": this client speaks plain, and
  // waits for a challenge that the server, waiting for a ClientHello, never
  // sends, until the server's handshake limit closes the connection.
  mp::base_manager plain(by_name(m), kKey);
  const std::string what = what_of<mp::eof_error>([&] { plain.connect(); });
  EXPECT_NE(what.find("manager at " + by_name(m).to_string()), std::string::npos) << what;
  EXPECT_NE(what.find("TLS"), std::string::npos) << what;
  d.set("after", 4);
  EXPECT_EQ(d.at("after"), 4);
}

TEST_F(mp_test, a_tls_client_against_a_plain_server_gets_an_ssl_error_naming_the_address) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey);
  m.start();
  int_dict d = m.dict<std::string, int>();
  mp::base_manager tls_client(by_name(m), kKey, mp::manager_ssl{{}, corio_test::client_context(), {}});
  const std::string what = what_of<corio::ssl_error>([&] { tls_client.connect(); });
  EXPECT_NE(what.find("the manager at " + by_name(m).to_string()), std::string::npos) << what;
  d.set("after", 5);
  EXPECT_EQ(d.at("after"), 5);
}

TEST_F(mp_test, a_server_certificate_from_an_unknown_ca_is_refused_naming_the_address) {
  auto m = started_tls_manager(tls_files::get().untrusted);
  const std::string what = what_of<corio::ssl_certificate_verification_error>([&] { (void)m.dict<std::string, int>(); });
  EXPECT_NE(what.find("the manager at " + m.address().to_string()), std::string::npos) << what;
  EXPECT_NE(what.find("certificate verify failed"), std::string::npos) << what;
  // The manager's own shutdown cannot reach its server either: it stops it
  // with a signal after its timeout.
  m.shutdown(std::chrono::milliseconds(100));
}

TEST_F(mp_test, a_hostname_mismatch_is_refused_on_both_paths_and_the_server_goes_on) {
  auto m = started_tls_manager(tls_files::get().server);
  int_dict d = m.dict<std::string, int>();
  d.set("before", 1);
  mp::register_manager_ssl(m.address(), corio_test::client_context(), "other.example");
  const std::string blocking =
      what_of<corio::ssl_certificate_verification_error>([&] { (void)d.at("before"); });
  EXPECT_NE(blocking.find("the manager at " + m.address().to_string()), std::string::npos) << blocking;
  EXPECT_NE(blocking.find("hostname mismatch"), std::string::npos) << blocking;
  const std::string awaitable =
      what_of<corio::ssl_certificate_verification_error>([&] { (void)corio::run(d.size_async()); });
  EXPECT_NE(awaitable.find("the manager at " + m.address().to_string()), std::string::npos) << awaitable;
  EXPECT_NE(awaitable.find("hostname mismatch"), std::string::npos) << awaitable;
  mp::register_manager_ssl(m.address(), corio_test::client_context());
  EXPECT_EQ(d.at("before"), 1);
  EXPECT_EQ(corio::run(d.size_async()), 1u);
}

TEST_F(mp_test, a_proxy_of_a_tls_manager_decoded_without_a_client_context_raises_naming_the_address) {
  auto m = started_tls_manager(tls_files::get().server);
  int_dict d = m.dict<std::string, int>();
  corio_test::stderr_capture err;
  mp::process p(&child_gets_a_proxy, d);
  mp::get_context("spawn").start(p);
  p.join();
  const std::string text = err.text();
  EXPECT_EQ(p.exitcode(), 1);
  EXPECT_NE(text.find("manager at " + m.address().to_string()), std::string::npos) << text;
  EXPECT_NE(text.find("register_manager_ssl"), std::string::npos) << text;
  EXPECT_FALSE(d.contains("never"));
}

TEST_F(mp_test, over_a_unix_path_tls_checks_the_server_hostname_it_is_given_and_needs_one) {
  mp::sync_manager named(std::nullopt, kKey, tls_of(tls_files::get().server, "localhost"));
  named.start();
  auto d = named.dict<std::string, int>();
  d.set("unix", 6);
  EXPECT_EQ(corio::run(d.at_async("unix")), 6);
  mp::sync_manager unnamed(std::nullopt, kKey, tls_of(tls_files::get().server));
  unnamed.start();
  const std::string what = what_of<std::invalid_argument>([&] { (void)unnamed.dict<std::string, int>(); });
  EXPECT_NE(what.find("manager at " + unnamed.address().to_string()), std::string::npos) << what;
  EXPECT_NE(what.find("server_hostname"), std::string::npos) << what;
  unnamed.shutdown(std::chrono::milliseconds(100));
}

TEST_F(mp_test, get_server_serves_over_tls_with_the_context_of_its_own_process) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_of(tls_files::get().server));
  auto srv = m.get_server();
  // Served in a child, so that this process can stop it with a signal.
  mp::process serving([&srv] { srv.serve_forever(); });
  serving.start();
  {
    mp::sync_manager client(srv.address(), kKey, mp::manager_ssl{{}, corio_test::client_context(), {}});
    client.connect();
    auto d = client.dict<int, int>();
    d.set(1, 2);
    EXPECT_EQ(d.at(1), 2);
    EXPECT_EQ(corio::run(d.at_async(1)), 2);
    mp::base_manager named(mp::address("localhost", srv.address().port()), kKey,
                           mp::manager_ssl{{}, corio_test::client_context(), {}});
    named.connect();  // the certificate names "localhost" too
  }  // the proxy is released while its server still serves (this process holds the listening socket)
  serving.kill();
  serving.join();
}

TEST_F(mp_test, a_server_context_needs_the_fork_start_method_and_a_client_context) {
  mp::sync_manager spawned(mp::address("127.0.0.1", 0), kKey, tls_of(tls_files::get().server));
  const std::string what = what_of<std::invalid_argument>([&] { spawned.start(mp::get_context("spawn")); });
  EXPECT_NE(what.find("manager at 127.0.0.1:0"), std::string::npos) << what;
  EXPECT_NE(what.find("by spawn"), std::string::npos) << what;
  EXPECT_NE(what.find("server_factory"), std::string::npos) << what;
  EXPECT_EQ(spawned.get_state(), mp::base_manager::state::initial);
  mp::manager_ssl server_only;
  server_only.server = corio_test::server_context();
  mp::sync_manager lone(mp::address("127.0.0.1", 0), kKey, server_only);
  EXPECT_THROW(lone.start(), std::invalid_argument);
  mp::manager_ssl factory_only;
  factory_only.server_factory = &server_context_from_the_environment;
  mp::sync_manager lone_factory(mp::address("127.0.0.1", 0), kKey, factory_only);
  EXPECT_THROW(lone_factory.start(mp::get_context("spawn")), std::invalid_argument);
  mp::manager_ssl swapped;
  swapped.server = corio_test::client_context();
  EXPECT_THROW(mp::sync_manager(mp::address("127.0.0.1", 0), kKey, swapped), std::invalid_argument);
  mp::manager_ssl both = tls_of(tls_files::get().server);
  both.server_factory = &server_context_from_the_environment;
  EXPECT_THROW(mp::sync_manager(mp::address("127.0.0.1", 0), kKey, both), std::invalid_argument);
}

TEST_F(mp_test, a_tls_server_started_by_spawn_builds_its_context_with_the_factory) {
  serves_over_tls_with_a_factory_started_by("spawn");
}

TEST_F(mp_test, a_tls_server_started_by_forkserver_builds_its_context_with_the_factory) {
  serves_over_tls_with_a_factory_started_by("forkserver");
}

TEST_F(mp_test, a_tls_server_started_by_fork_builds_its_context_with_the_factory_too) {
  serves_over_tls_with_a_factory_started_by("fork");
}

TEST_F(mp_test, a_capture_less_lambda_is_a_factory_too) {
  export_server_pem();
  mp::sync_manager m(std::nullopt, kKey,
                     tls_by_factory([] { return server_context_from_the_environment(); }, "localhost"));
  m.start(mp::get_context("spawn"));
  auto d = m.dict<std::string, int>();
  d.set("unix", 7);
  EXPECT_EQ(d.at("unix"), 7);
}

TEST_F(mp_test, a_factory_that_throws_fails_start_naming_the_address_and_the_factory) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_by_factory(&server_context_that_throws));
  const start_failure f = start_failure_of(m, "spawn");
  EXPECT_NE(f.what.find("manager at 127.0.0.1:0"), std::string::npos) << f.what;
  EXPECT_NE(f.what.find("manager_ssl::server_factory failed in the server process"), std::string::npos) << f.what;
  EXPECT_NE(f.what.find("the certificate store is locked"), std::string::npos) << f.what;
  EXPECT_THROW(std::rethrow_exception(f.nested), std::runtime_error);
  EXPECT_EQ(m.get_state(), mp::base_manager::state::initial);
  EXPECT_FALSE(m.server_pid().has_value());
}

TEST_F(mp_test, a_factory_with_a_wrong_certificate_path_fails_start_with_the_os_error_nested) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_by_factory(&server_context_from_a_missing_file));
  const start_failure f = start_failure_of(m, "forkserver");
  EXPECT_NE(f.what.find("manager at 127.0.0.1:0"), std::string::npos) << f.what;
  EXPECT_NE(f.what.find("manager_ssl::server_factory"), std::string::npos) << f.what;
  EXPECT_NE(f.what.find(kMissingPem), std::string::npos) << f.what;
  try {
    std::rethrow_exception(f.nested);
  } catch (const corio::file_not_found_error& e) {
    EXPECT_EQ(e.code().value(), ENOENT);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "nested: " << e.what();
  }
  // The manager can start once the factory can.
  EXPECT_EQ(m.get_state(), mp::base_manager::state::initial);
}

TEST_F(mp_test, a_factory_that_returns_a_client_context_fails_start) {
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_by_factory(&a_client_context_by_mistake));
  const start_failure f = start_failure_of(m, "spawn");
  EXPECT_NE(f.what.find("manager_ssl::server_factory"), std::string::npos) << f.what;
  EXPECT_NE(f.what.find("client context"), std::string::npos) << f.what;
  EXPECT_THROW(std::rethrow_exception(f.nested), std::invalid_argument);
}

TEST_F(mp_test, get_server_calls_the_factory_in_its_own_process) {
  export_server_pem();
  mp::sync_manager m(mp::address("127.0.0.1", 0), kKey, tls_by_factory(&server_context_from_the_environment));
  auto srv = m.get_server();
  mp::process serving([&srv] { srv.serve_forever(); });
  serving.start();
  {
    mp::sync_manager client(srv.address(), kKey, mp::manager_ssl{{}, corio_test::client_context(), {}});
    client.connect();
    auto d = client.dict<int, int>();
    d.set(1, 2);
    EXPECT_EQ(d.at(1), 2);
  }
  serving.kill();
  serving.join();
  mp::sync_manager wrong(mp::address("127.0.0.1", 0), kKey, tls_by_factory(&server_context_that_throws));
  EXPECT_THROW((void)wrong.get_server(), std::runtime_error);
}

CORIO_MP_TEST_MAIN()

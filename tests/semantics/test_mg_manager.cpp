// docs/semantics.md section 16, managers: the server's life (MG-01..MG-04,
// MG-17..MG-19), calls from threads, processes and loops (MG-05), errors
// (MG-07) and proxies crossing processes with their references (MG-14).
// The shared containers themselves are in test_mg_containers.cpp.
//
// MG-02's `with manager:` is the manager's destructor in C++.
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/listener.hpp>
#include <corio/multiprocessing/managers.hpp>
#include <corio/os_errors.hpp>
#include <corio/runners.hpp>
#include <corio/gather.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

using int_dict = mp::dict_proxy<std::string, int>;

// A proxy that calls any method by name, as Python's _callmethod does.
struct raw_proxy : mp::base_proxy {
  explicit raw_proxy(const mp::base_proxy& p) : base_proxy(mp::detail::from_ref{}, p.ref()) {}
  using base_proxy::call_method;
};

void child_sets(int_dict d) { d.set("child", 42); }

std::string key(int a, int b = -1) {
  std::string k = "k";
  k += std::to_string(a);
  if (b >= 0) {
    k += '-';
    k += std::to_string(b);
  }
  return k;
}

void child_increments(int_dict d, int n) {
  for (int i = 0; i < n; ++i) d.set(key(i), i);
}

template <class F>
std::string what_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_F(mp_test, MG_01_manager_returns_a_started_manager_whose_objects_live_in_a_server_process) {
  auto m = mp::manager();
  EXPECT_EQ(m.get_state(), mp::base_manager::state::started);
  ASSERT_TRUE(m.server_pid());
  EXPECT_NE(*m.server_pid(), ::getpid());
  auto d = m.dict<std::string, int>();
  d.set("a", 1);
  EXPECT_EQ(d.at("a"), 1);
}

TEST_F(mp_test, MG_01_the_server_ignores_sigint) {
  auto m = mp::manager();
  auto v = m.value<int>(7);
  ASSERT_EQ(::kill(*m.server_pid(), SIGINT), 0);
  v.set(8);  // one round trip after the signal: the server is still there
  EXPECT_EQ(v.get(), 8);
}

TEST_F(mp_test, MG_02_starting_twice_or_after_shutdown_raises_process_error) {
  mp::sync_manager m;
  EXPECT_EQ(m.get_state(), mp::base_manager::state::initial);
  m.start();
  EXPECT_EQ(what_of([&] { m.start(); }), "Already started server");
  m.shutdown();
  EXPECT_EQ(m.get_state(), mp::base_manager::state::shutdown);
  EXPECT_EQ(what_of([&] { m.start(); }), "Manager has shut down");
  EXPECT_THROW((m.dict<int, int>()), mp::process_error);
}

TEST_F(mp_test, MG_02_destroying_a_started_manager_shuts_its_server_down) {
  pid_t pid = 0;
  {
    auto m = mp::manager();
    pid = *m.server_pid();
    EXPECT_EQ(mp::active_children().size(), 1u);
  }
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_NE(::kill(pid, 0), 0);  // reaped, not a zombie
}

TEST_F(mp_test, MG_03_shutdown_may_be_repeated_and_a_connected_manager_cannot_stop_the_server) {
  auto m = mp::manager();
  {
    mp::sync_manager other(m.address());
    other.connect();
    other.shutdown();  // only connected: nothing happens to the server
  }
  auto d = m.dict<int, int>();
  d.set(1, 2);
  EXPECT_EQ(d.at(1), 2);
  m.shutdown();
  m.shutdown();
  EXPECT_TRUE(mp::active_children().empty());
}

TEST_F(mp_test, MG_04_a_proxy_used_after_shutdown_raises_an_error_naming_the_address) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  d.set("a", 1);  // the thread's connection is open
  const std::string where = m.address().to_string();
  m.shutdown();
  try {
    (void)d.at("a");
    FAIL() << "no error after the shutdown";
  } catch (const corio::os_error& e) {
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
  } catch (const mp::eof_error& e) {
    EXPECT_NE(std::string(e.what()).find(where), std::string::npos) << e.what();
  }
  // The awaitable form too, and dropping the proxy is silent.
  EXPECT_THROW(corio::run(d.at_async("a")), std::exception);
}

TEST_F(mp_test, MG_05_calls_from_several_threads_run_side_by_side_each_on_its_own_connection) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([d, t] {
      for (int i = 0; i < 50; ++i) d.set(key(t, i), i);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(d.size(), 200u);
  EXPECT_EQ(d.at(key(3, 49)), 49);
}

TEST_F(mp_test, MG_05_awaitable_calls_run_concurrently_on_one_loop) {
  auto m = mp::manager();
  auto d = m.dict<int, int>();
  const auto n = corio::run([&]() -> corio::task<std::size_t> {
    std::vector<corio::task<void>> sets;
    for (int i = 0; i < 20; ++i) sets.push_back(d.set_async(i, i * i));
    co_await corio::gather(std::move(sets));
    co_return co_await d.size_async();
  });
  EXPECT_EQ(n, 20u);
  EXPECT_EQ(d.at(7), 49);
}

TEST_F(mp_test, MG_07_an_exception_of_the_object_comes_back_with_its_type) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  EXPECT_THROW((void)d.at("missing"), std::out_of_range);
  auto l = m.list<int>();
  EXPECT_THROW((void)l.at(3), std::out_of_range);
  EXPECT_THROW(l.remove(3), std::invalid_argument);
  EXPECT_THROW(corio::run(d.at_async("missing")), std::out_of_range);
}

TEST_F(mp_test, MG_07_an_unknown_method_is_a_remote_error_and_the_proxy_still_works) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  raw_proxy raw(d);
  try {
    raw.call_method<void>("no_such_method");
    FAIL();
  } catch (const mp::remote_error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_method"), std::string::npos) << e.what();
  }
  EXPECT_THROW(raw.call_method<void>("__getitem__"), mp::remote_error);  // wrong number of arguments
  d.set("x", 1);
  EXPECT_EQ(d.at("x"), 1);
}

TEST_F(mp_test, MG_14_a_proxy_crosses_to_a_child_process_with_each_start_method) {
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    SCOPED_TRACE(method);
    auto m = mp::manager();
    auto d = m.dict<std::string, int>();
    mp::process p(child_sets, d);
    mp::get_context(method).start(p);
    p.join(60s);
    ASSERT_EQ(p.exitcode(), 0);
    EXPECT_EQ(d.at("child"), 42);
  }
}

TEST_F(mp_test, MG_14_an_object_dies_with_its_last_proxy) {
  auto m = mp::manager();
  {
    auto d = m.dict<int, int>();
    auto copy = d;  // copies share one reference
    EXPECT_EQ(m.number_of_objects(), 1u);
    {
      // A decoded proxy holds a reference of its own, dropped with it.
      auto decoded = mp::decode<mp::dict_proxy<int, int>>(mp::encode(d));
      decoded.set(1, 1);
    }
    EXPECT_EQ(copy.at(1), 1);
    EXPECT_EQ(m.number_of_objects(), 1u);
  }
  EXPECT_EQ(m.number_of_objects(), 0u);
}

TEST_F(mp_test, MG_14_a_forked_child_uses_its_parents_reference_and_leaves_it_alone) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  mp::process p(child_increments, d, 3);
  mp::get_context("fork").start(p);
  p.join(60s);
  ASSERT_EQ(p.exitcode(), 0);
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(m.number_of_objects(), 1u);
  d = m.dict<std::string, int>();  // the first one's last reference goes
  EXPECT_EQ(m.number_of_objects(), 1u);
}

TEST_F(mp_test, MG_17_the_address_is_a_unix_path_by_default_and_a_tcp_port_when_asked) {
  auto m = mp::manager();
  EXPECT_EQ(m.address().family(), mp::family::af_unix);
  EXPECT_FALSE(m.address().path().empty());
  mp::sync_manager t(mp::address("127.0.0.1", 0));
  t.start();
  EXPECT_EQ(t.address().family(), mp::family::af_inet);
  EXPECT_NE(t.address().port(), 0);
  auto v = t.value<std::string>("tcp");
  EXPECT_EQ(v.get(), "tcp");
}

TEST_F(mp_test, MG_17_a_new_manager_binds_the_address_of_one_just_shut_down) {
  mp::sync_manager a(mp::address("127.0.0.1", 0));
  a.start();
  const auto addr = a.address();
  auto va = a.value<int>(1);
  EXPECT_EQ(va.get(), 1);
  a.shutdown();
  mp::sync_manager b(addr);
  b.start();
  EXPECT_EQ(b.address(), addr);
  auto vb = b.value<int>(2);
  EXPECT_EQ(vb.get(), 2);
}

TEST_F(mp_test, MG_17_starting_at_an_address_in_use_raises_the_servers_error_and_leaves_no_process) {
  mp::sync_manager a(mp::address("127.0.0.1", 0));
  a.start();
  mp::sync_manager b(a.address());
  EXPECT_THROW(b.start(), corio::os_error);
  EXPECT_EQ(b.get_state(), mp::base_manager::state::initial);
  EXPECT_EQ(mp::active_children().size(), 1u);  // a's server only
}

TEST_F(mp_test, MG_18_get_server_binds_at_once_and_serve_forever_serves_until_a_shutdown_request) {
  mp::sync_manager m(mp::address("127.0.0.1", 0));
  auto srv = m.get_server();
  EXPECT_NE(srv.address().port(), 0);
  EXPECT_EQ(m.get_state(), mp::base_manager::state::initial);
  auto serving = std::async(std::launch::async, [&srv] { srv.serve_forever(); });
  mp::sync_manager client(srv.address());
  client.connect();
  auto d = client.dict<int, int>();
  d.set(1, 2);
  EXPECT_EQ(d.at(1), 2);
  // What a starting manager's shutdown() sends.
  mp::connection c = mp::client(srv.address(), mp::current_process().authkey());
  c.send_bytes(mp::detail::encode_request("shutdown", 0, ""));
  ASSERT_EQ(serving.wait_for(60s), std::future_status::ready);
  serving.get();
  EXPECT_THROW(srv.serve_forever(), mp::process_error);  // once
}

TEST_F(mp_test, MG_19_connect_joins_a_running_server_and_fails_clearly_when_none_listens) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  d.set("shared", 5);
  mp::sync_manager other(m.address());
  other.connect();
  auto mine = other.dict<std::string, int>();
  mine.set("x", 1);
  EXPECT_EQ(m.number_of_objects(), 2u);

  mp::sync_manager none(mp::address("/nonexistent-dir/corio-manager"));
  EXPECT_THROW(none.connect(), corio::file_not_found_error);
  mp::sync_manager refused(mp::address("127.0.0.1", 1));
  EXPECT_THROW(refused.connect(), corio::connection_refused_error);
}

CORIO_MP_TEST_MAIN()

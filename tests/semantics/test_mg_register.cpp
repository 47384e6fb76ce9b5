// docs/semantics.md section 16, user types in a manager: exposed methods
// (MG-08), register and the typed proxies (MG-09), managers reached over
// TCP with connect() (MG-19) and the shared remote queues (MG-20). That a
// member not exposed cannot be called at all is checked at compile time
// (tests/regression/compile_fail/proxy_call_of_an_unexposed_member.cpp).
#include "multiprocessing_util.hpp"

#include <corio/locks.hpp>
#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;

struct counter {
  int n = 0;
  int increment(int by) {
    if (by < 0) throw std::invalid_argument("counter: negative step " + std::to_string(by));
    return n += by;
  }
  int get() const { return n; }
  void reset() { n = 0; }  // not exposed
};

// A member that waits on the server's loop: wait_value() returns once
// put_value() was called, by any client.
struct mailbox {
  int value = 0;
  std::unique_ptr<corio::event> ready = std::make_unique<corio::event>();
  void put_value(int v) {
    value = v;
    ready->set();
  }
  corio::task<int> wait_value() {
    co_await ready->wait();
    co_return value;
  }
};

}  // namespace

CORIO_EXPOSE(counter, increment, get)
CORIO_EXPOSE(mailbox, put_value, wait_value)

namespace {

counter make_counter(int start) { return counter{start}; }
std::shared_ptr<counter> the_counter() {
  static const auto c = std::make_shared<counter>();
  return c;
}
mailbox make_mailbox() { return {}; }

using counter_proxy = mp::proxy<counter>;

mp::sync_manager counting_manager(std::optional<mp::address> address = std::nullopt) {
  mp::sync_manager m(std::move(address));
  m.register_type<counter>("Counter", make_counter);
  m.register_type<counter>("TheCounter", the_counter);
  m.register_type<mailbox>("Mailbox", make_mailbox);
  return m;
}

// A raw call by name, as Python's _callmethod.
struct raw_proxy : mp::base_proxy {
  explicit raw_proxy(const mp::base_proxy& p) : base_proxy(mp::detail::from_ref{}, p.ref()) {}
  using base_proxy::call_method;
};

}  // namespace

TEST_F(mp_test, MG_09_register_makes_objects_of_a_user_type_in_the_server) {
  auto m = counting_manager();
  m.start();
  auto c = m.make<counter_proxy>("Counter", 5);
  EXPECT_EQ(c.call<&counter::increment>(2), 7);
  EXPECT_EQ(c.call<&counter::get>(), 7);
  EXPECT_EQ(corio::run(c.call_async<&counter::increment>(1)), 8);
  auto other = m.make<counter_proxy>("Counter", 0);  // a new object each time
  EXPECT_EQ(other.call<&counter::get>(), 0);
  EXPECT_EQ(m.number_of_objects(), 2u);
}

TEST_F(mp_test, MG_09_a_factory_returning_one_shared_object_gives_proxies_to_the_same_object) {
  auto m = counting_manager();
  m.start();
  auto a = m.make<counter_proxy>("TheCounter");
  auto b = m.make<counter_proxy>("TheCounter");
  EXPECT_NE(a.id(), b.id());
  a.call<&counter::increment>(3);
  EXPECT_EQ(b.call<&counter::get>(), 3);
}

TEST_F(mp_test, MG_07_an_exception_of_a_user_method_comes_back_with_its_type) {
  auto m = counting_manager();
  m.start();
  auto c = m.make<counter_proxy>("Counter", 0);
  try {
    c.call<&counter::increment>(-1);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("negative step -1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.make<counter_proxy>("NoSuchType"), mp::remote_error);
  EXPECT_THROW(m.make<counter_proxy>("Counter"), mp::remote_error);  // the factory takes one argument
}

TEST_F(mp_test, MG_08_a_method_not_exposed_cannot_be_called_by_name_either) {
  auto m = counting_manager();
  m.start();
  auto c = m.make<counter_proxy>("Counter", 0);
  raw_proxy raw(c);
  EXPECT_THROW(raw.call_method<void>("reset"), mp::remote_error);
  EXPECT_EQ(raw.call_method<int>("get"), 0);
}

TEST_F(mp_test, MG_09_a_coroutine_member_waits_on_the_server_loop_without_holding_up_others) {
  auto m = counting_manager();
  m.start();
  auto box = m.make<mp::proxy<mailbox>>("Mailbox");
  auto waiting = std::async(std::launch::async, [box] { return box.call<&mailbox::wait_value>(); });
  EXPECT_EQ(waiting.wait_for(20ms), std::future_status::timeout);
  box.call<&mailbox::put_value>(9);
  ASSERT_EQ(waiting.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(waiting.get(), 9);
}

TEST_F(mp_test, MG_09_user_types_reach_a_server_started_with_spawn_or_forkserver) {
  for (const char* method : {"spawn", "forkserver"}) {
    SCOPED_TRACE(method);
    auto m = counting_manager();
    m.start(mp::get_context(method));
    auto c = m.make<counter_proxy>("Counter", 1);
    EXPECT_EQ(c.call<&counter::increment>(1), 2);
    auto d = m.dict<std::string, int>();
    d.set("x", 1);
    EXPECT_EQ(d.at("x"), 1);
  }
}

TEST_F(mp_test, MG_19_a_client_connects_over_tcp_and_makes_registered_objects_without_the_factory) {
  auto m = counting_manager(mp::address("127.0.0.1", 0));
  m.start();
  auto mine = m.make<counter_proxy>("TheCounter");
  mine.call<&counter::increment>(4);
  mp::base_manager client(m.address());
  client.connect();
  auto theirs = client.make<counter_proxy>("TheCounter");
  EXPECT_EQ(theirs.call<&counter::get>(), 4);
}

TEST_F(mp_test, MG_20_every_call_of_a_registered_queue_returns_a_proxy_to_the_same_queue) {
  mp::base_manager m(mp::address("127.0.0.1", 0));
  m.register_queue("get_task_queue");
  m.register_queue("get_result_queue", 1);
  m.start();
  mp::base_manager worker(m.address());
  worker.connect();
  auto tasks_master = m.make<mp::queue_proxy<int>>("get_task_queue");
  auto tasks_worker = worker.make<mp::queue_proxy<int>>("get_task_queue");
  EXPECT_NE(tasks_master.id(), tasks_worker.id());
  tasks_master.put(7);
  EXPECT_EQ(tasks_worker.get(true, kBound), 7);
  auto results = worker.make<mp::queue_proxy<int>>("get_result_queue");
  results.put(1);
  EXPECT_THROW(results.put(2, true, 20ms), corio::queue_full);  // maxsize 1
  EXPECT_THROW(tasks_worker.get(false), corio::queue_empty);
  EXPECT_EQ(m.make<mp::queue_proxy<int>>("get_result_queue").get(), 1);
}

CORIO_MP_TEST_MAIN()

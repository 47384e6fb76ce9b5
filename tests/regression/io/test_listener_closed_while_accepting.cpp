// A multiprocessing listener closed, destroyed or moved while an
// accept_async of it waits. On io_uring a close did not end the accept (an
// op in flight holds its file), which waited for ever; a move left the
// waiting accept with the moved-from listener's members (no key: the
// connection it made skipped authentication). Now a close or destruction
// ends the wait with an error naming the listener, and a move changes
// nothing for it. Both backends run these tests.
#include <corio/multiprocessing/listener.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "error_util.hpp"
#include "io/io_util.hpp"
#include "loop_util.hpp"

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;

namespace {

corio::task<void> yield_a_few() {
  for (int i = 0; i < 3; ++i) co_await corio::sleep(0s);
}

void expect_closed_while_accepting(const std::exception_ptr& e, const mp::address& where) {
  ASSERT_TRUE(e) << "the accept went on";
  EXPECT_TRUE(corio_test::holds<corio::os_error>(e)) << corio_test::message_of(e);
  EXPECT_FALSE(corio_test::holds<corio::timeout_error>(e)) << "the accept still waits";
  EXPECT_NE(corio_test::message_of(e).find("closed while accepting"), std::string::npos) << corio_test::message_of(e);
  EXPECT_NE(corio_test::message_of(e).find(where.to_string()), std::string::npos) << corio_test::message_of(e);
}

}  // namespace

TEST(ListenerClosedWhileAccepting, a_pending_accept_async_ends_with_an_error_naming_the_closed_listener) {
  const int before = corio_test::open_fd_count();
  corio_test::run_io([]() -> corio::task<void> {
    mp::listener l(mp::address("127.0.0.1", 0));
    auto accepting = corio::create_task(l.accept_async());
    co_await yield_a_few();
    l.close();
    expect_closed_while_accepting(co_await corio_test::outcome(corio::wait_for(std::move(accepting), 10s)),
                                  l.address());
  }());
  EXPECT_EQ(corio_test::open_fd_count(), before);
}

TEST(ListenerClosedWhileAccepting, a_listener_destroyed_while_accept_async_waits_ends_the_wait) {
  const int before = corio_test::open_fd_count();
  corio_test::run_io([]() -> corio::task<void> {
    std::optional<mp::listener> l(std::in_place);  // an AF_UNIX listener in a directory of its own
    const mp::address where = l->address();
    auto accepting = corio::create_task(l->accept_async());
    co_await yield_a_few();
    l.reset();
    expect_closed_while_accepting(co_await corio_test::outcome(corio::wait_for(std::move(accepting), 10s)), where);
  }());
  EXPECT_EQ(corio_test::open_fd_count(), before);
}

TEST(ListenerClosedWhileAccepting, a_listener_moved_while_accept_async_waits_still_authenticates) {
  corio_test::run_io([]() -> corio::task<void> {
    std::optional<mp::listener> l(std::in_place, mp::address("127.0.0.1", 0), std::nullopt, 1, "key");
    const mp::address where = l->address();
    auto accepting = corio::create_task(l->accept_async());
    co_await yield_a_few();
    mp::listener moved(std::move(*l));
    l.reset();  // the moved-from object is gone too
    // A client with another key is refused: the accept kept its listener's key.
    auto wrong = corio::create_task(mp::client_async(where, "another key"));
    const std::exception_ptr refused = co_await corio_test::outcome(corio::wait_for(std::move(accepting), 10s));
    EXPECT_TRUE(corio_test::holds<mp::authentication_error>(refused)) << corio_test::message_of(refused);
    (void)co_await corio_test::outcome(corio::wait_for(std::move(wrong), 10s));
    auto second = corio::create_task(moved.accept_async());
    mp::connection c = co_await corio::wait_for(mp::client_async(where, "key"), 10s);
    mp::connection s = co_await corio::wait_for(std::move(second), 10s);
    c.send_bytes("x");
    EXPECT_EQ(s.recv_bytes(), "x");
    EXPECT_TRUE(moved.last_accepted().has_value());
  }());
}

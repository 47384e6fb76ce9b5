// On the epoll backend, an fd waited on with wait_readable and then closed
// with ::close kept its "registered" state: a new fd given the same number
// was never added to the epoll set, and waits on it never woke (through
// wait_readable, add_reader or the operations of a corio socket). io_uring
// was not affected; both backends run these tests.
#include <corio/events.hpp>
#include <corio/sock_ops.hpp>
#include <corio/socket.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::run_io;

namespace {

// A wait that should end at once is bounded anyway, so a lost wake-up fails
// here instead of at the test's overall limit.
constexpr auto kBound = 10s;

struct pipe_fds {
  int r = -1;
  int w = -1;
  pipe_fds() {
    int p[2];
    if (::pipe(p) == 0) {
      r = p[0];
      w = p[1];
    }
  }
  pipe_fds(const pipe_fds&) = delete;
  pipe_fds& operator=(const pipe_fds&) = delete;
  ~pipe_fds() { close(); }
  void close() {
    if (r >= 0) ::close(r);
    if (w >= 0) ::close(w);
    r = w = -1;
  }
};

// Waits on `p.r` until a write that happens after the wait has begun.
corio::task<std::uint32_t> readable_after_a_later_write(const pipe_fds& p) {
  corio::get_running_loop().call_soon([w = p.w] { (void)::write(w, "x", 1); });
  co_return co_await corio::wait_for(corio::wait_readable(p.r), kBound);
}

}  // namespace

TEST(WaitOnAReusedFdNumber, wait_readable_wakes_on_a_new_fd_that_took_a_closed_ones_number) {
  run_io([]() -> corio::task<void> {
    pipe_fds first;
    if (first.r < 0) throw std::runtime_error("pipe failed");
    const std::uint32_t before = co_await readable_after_a_later_write(first);
    EXPECT_TRUE(before & POLLIN);
    const int number = first.r;
    first.close();
    pipe_fds second;  // the lowest free numbers: the same ones
    EXPECT_EQ(second.r, number);
    const std::uint32_t after = co_await readable_after_a_later_write(second);
    EXPECT_TRUE(after & POLLIN);
  }());
}

TEST(WaitOnAReusedFdNumber, add_reader_fires_for_a_new_fd_that_took_the_number_of_one_waited_on) {
  run_io([]() -> corio::task<void> {
    pipe_fds first;
    if (first.r < 0) throw std::runtime_error("pipe failed");
    const std::uint32_t before = co_await readable_after_a_later_write(first);
    EXPECT_TRUE(before & POLLIN);
    const int number = first.r;
    first.close();
    pipe_fds second;
    EXPECT_EQ(second.r, number);
    corio::event_loop& loop = corio::get_running_loop();
    corio::future<bool> fired = loop.create_future<bool>();
    loop.add_reader(second.r, [&fired] {
      if (!fired.done()) fired.set_result(true);
    });
    loop.call_soon([w = second.w] { (void)::write(w, "x", 1); });
    const bool ok = co_await corio::wait_for(fired, kBound);
    EXPECT_TRUE(ok);
    EXPECT_TRUE(loop.remove_reader(second.r));
  }());
}

TEST(WaitOnAReusedFdNumber, a_socket_that_took_the_number_of_an_fd_waited_on_receives) {
  run_io([]() -> corio::task<void> {
    pipe_fds first;
    if (first.r < 0) throw std::runtime_error("pipe failed");
    const std::uint32_t before = co_await readable_after_a_later_write(first);
    EXPECT_TRUE(before & POLLIN);
    const int number = first.r;
    first.close();
    auto [a, b] = corio::socketpair();
    EXPECT_EQ(a.fileno(), number);
    auto got = corio::create_task(corio::wait_for(corio::sock_recv(a, 16), kBound));
    co_await corio::sleep(0s);  // the receive waits now
    co_await corio::sock_sendall(b, "hi");
    EXPECT_EQ(co_await got, "hi");
  }());
}

TEST(WaitOnAReusedFdNumber, a_wait_on_a_socket_shares_its_registration_and_leaves_it_in_place) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    // The socket's own operations and a bare readiness wait on its number,
    // in both orders.
    auto first = corio::create_task(corio::wait_for(corio::sock_recv(a, 16), kBound));
    co_await corio::sleep(0s);
    co_await corio::sock_sendall(b, "1");
    EXPECT_EQ(co_await first, "1");
    auto ready = corio::create_task(corio::wait_for(corio::wait_readable(a.fileno()), kBound));
    co_await corio::sleep(0s);
    co_await corio::sock_sendall(b, "2");
    const std::uint32_t rev = co_await ready;
    EXPECT_TRUE(rev & POLLIN);
    EXPECT_EQ(co_await corio::sock_recv(a, 16), "2");
    auto second = corio::create_task(corio::wait_for(corio::sock_recv(a, 16), kBound));
    co_await corio::sleep(0s);
    co_await corio::sock_sendall(b, "3");
    EXPECT_EQ(co_await second, "3");
  }());
}

// remove_reader used to make the epoll backend forget the whole fd, which
// also stopped the operations of a socket corio owns on that fd.
TEST(WaitOnAReusedFdNumber, remove_reader_leaves_a_receive_on_the_same_socket_waiting) {
  run_io([]() -> corio::task<void> {
    auto [a, b] = corio::socketpair();
    corio::event_loop& loop = corio::get_running_loop();
    auto got = corio::create_task(corio::wait_for(corio::sock_recv(a, 16), kBound));
    co_await corio::sleep(0s);  // the receive waits now
    loop.add_reader(a.fileno(), [] {});
    co_await corio::sleep(0s);
    EXPECT_TRUE(loop.remove_reader(a.fileno()));
    co_await corio::sleep(0s);
    EXPECT_FALSE(got.done());
    co_await corio::sock_sendall(b, "still");
    EXPECT_EQ(co_await got, "still");
  }());
}

// The fd closed while a wait on it is still pending (the wait ends only with
// its cancel on epoll): a socket given the number still receives.
TEST(WaitOnAReusedFdNumber, a_socket_that_took_the_number_of_an_fd_closed_under_a_wait_receives) {
  run_io([]() -> corio::task<void> {
    pipe_fds first;
    if (first.r < 0) throw std::runtime_error("pipe failed");
    auto stale = corio::create_task(
        [](int fd) -> corio::task<std::uint32_t> { co_return co_await corio::wait_readable(fd); }(first.r));
    co_await corio::sleep(0s);  // the wait is with the backend
    const int number = first.r;
    first.close();
    auto [a, b] = corio::socketpair();
    EXPECT_EQ(a.fileno(), number);
    auto got = corio::create_task(corio::wait_for(corio::sock_recv(a, 16), kBound));
    co_await corio::sleep(0s);
    co_await corio::sock_sendall(b, "hi");
    EXPECT_EQ(co_await got, "hi");
    stale.cancel();
    try {
      co_await stale;  // cancelled, or ended by the close on io_uring
    } catch (const corio::cancelled_error&) {
    }
  }());
}

// Semantic tests for docs/semantics.md section 8, the rules of the writer and
// the server (ST-14..ST-22), over real sockets on both backends. ST-01..ST-13
// (the reader alone) are in tests/semantics/test_st_reader.cpp.
//
// Parts of rules with nothing to test in C++:
//   ST-15  "low >= 0": limits are std::size_t.
//   ST-22  "SSL arguments only with SSL": TLS options are tested with TLS.
#include <corio/streams.hpp>

#include <corio/events.hpp>
#include <corio/gather.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>
#include <corio/tasks.hpp>
#include <corio/timeouts.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/io_util.hpp"

using namespace std::chrono_literals;
using corio_test::run_io;

namespace {

std::uint16_t port_of(const corio::server& s) { return s.sockets().at(0).getsockname().port(); }

// A server whose connections do nothing until `go` is set, then read all.
struct sink_server {
  corio::event go;
  std::size_t received = 0;
  corio::task<void> handle(corio::stream_reader r, corio::stream_writer) {
    co_await go.wait();
    for (;;) {
      std::string d = co_await r.read(1 << 20);
      if (d.empty()) break;
      received += d.size();
    }
  }
};

// A connected client whose peer never reads until told.
corio::task<corio::stream_pair> connect_to_sink(sink_server& sink, corio::server& srv) {
  srv = co_await corio::start_server(
      [&sink](corio::stream_reader r, corio::stream_writer w) { return sink.handle(std::move(r), std::move(w)); },
      "127.0.0.1", 0);
  co_return co_await corio::open_connection("127.0.0.1", port_of(srv));
}

// Writes until drain() has to wait (the peer reads nothing).
corio::task<std::size_t> fill_until_paused(corio::stream_writer& w) {
  const std::string chunk(256 * 1024, 'p');
  std::size_t written = 0;
  for (int i = 0; i < 1000; ++i) {
    w.write(chunk);
    written += chunk.size();
    try {
      co_await corio::wait_for(w.drain(), 100ms);
    } catch (const corio::timeout_error&) {
      co_return written;
    }
  }
  ADD_FAILURE() << "the writer never paused";
  co_return written;
}

TEST(ST, ST_14_write_never_blocks_and_drain_returns_at_once_below_high_water) {
  run_io([]() -> corio::task<void> {
    sink_server sink;
    corio::server srv;
    auto [r, w] = co_await connect_to_sink(sink, srv);
    w.write("small");
    auto d = corio::create_task([](corio::stream_writer& wr) -> corio::task<void> { co_await wr.drain(); }(w));
    co_await corio::sleep(0s);
    co_await corio::sleep(0s);
    EXPECT_TRUE(d.done());
    sink.go.set();
  }());
}

TEST(ST, ST_14_many_concurrent_drains_are_all_released_on_resume) {
  run_io([]() -> corio::task<void> {
    sink_server sink;
    corio::server srv;
    auto [r, w] = co_await connect_to_sink(sink, srv);
    const std::size_t written = co_await fill_until_paused(w);
    std::vector<corio::task<void>> drains;
    for (int i = 0; i < 5; ++i)
      drains.push_back(corio::create_task([](corio::stream_writer& wr) -> corio::task<void> { co_await wr.drain(); }(w)));
    co_await corio::sleep(10ms);
    for (auto& d : drains) EXPECT_FALSE(d.done());
    sink.go.set();  // the peer reads: the buffer drains below low water
    for (auto& d : drains) co_await corio::wait_for(std::move(d), 10s);
    w.close();
    co_await w.wait_closed();
    srv.close();
    co_await srv.wait_closed();
    EXPECT_EQ(sink.received, written);
  }());
}

TEST(ST, ST_15_default_limits_and_validation) {
  run_io([]() -> corio::task<void> {
    sink_server sink;
    corio::server srv;
    auto [r, w] = co_await connect_to_sink(sink, srv);
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{16384, 65536}));
    w.set_write_buffer_limits(1000);
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{250, 1000}));
    w.set_write_buffer_limits(std::nullopt, 100);
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{100, 400}));
    EXPECT_THROW(w.set_write_buffer_limits(10, 20), std::invalid_argument);
    w.set_write_buffer_limits();
    EXPECT_EQ(w.get_write_buffer_limits(), (std::pair<std::size_t, std::size_t>{16384, 65536}));
    sink.go.set();
  }());
}

TEST(ST, ST_15_new_limits_pause_and_resume_at_once) {
  run_io([]() -> corio::task<void> {
    sink_server sink;
    corio::server srv;
    auto [r, w] = co_await connect_to_sink(sink, srv);
    (void)co_await fill_until_paused(w);
    const std::size_t size = w.get_write_buffer_size();
    EXPECT_GT(size, 0u);
    // Raising the marks above the buffered size resumes writing now.
    w.set_write_buffer_limits(size * 4, size * 2);
    auto d = corio::create_task([](corio::stream_writer& wr) -> corio::task<void> { co_await wr.drain(); }(w));
    co_await corio::sleep(0s);
    co_await corio::sleep(0s);
    EXPECT_TRUE(d.done());
    // Lowering them below it pauses again.
    w.set_write_buffer_limits(1, 0);
    EXPECT_THROW(co_await corio::wait_for(w.drain(), 20ms), corio::timeout_error);
    sink.go.set();
  }());
}

TEST(ST, ST_16_drain_after_the_connection_is_lost_raises) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer w) -> corio::task<void> {
          w.abort();  // the peer goes away at once
          co_return;
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    EXPECT_EQ(co_await r.read(), "");
    bool raised = false;
    for (int i = 0; i < 100 && !raised; ++i) {  // the first writes may still be accepted
      w.write(std::string(65536, 'x'));
      try {
        co_await corio::wait_for(w.drain(), 5s);
        co_await corio::sleep(1ms);
      } catch (const corio::connection_error&) {
        raised = true;
      }
    }
    EXPECT_TRUE(raised);
  }());
}

TEST(ST, ST_16_write_and_drain_after_close_raise_connection_reset) {
  run_io([]() -> corio::task<void> {
    sink_server sink;
    corio::server srv;
    auto [r, w] = co_await connect_to_sink(sink, srv);
    w.close();
    w.write("late");
    EXPECT_THROW(co_await w.drain(), corio::connection_reset_error);
    sink.go.set();
  }());
}

TEST(ST, ST_17_close_is_closing_at_once_and_wait_closed_with_unread_data) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer w) -> corio::task<void> {
          w.write("unread data");
          co_await w.drain();
          co_await corio::sleep(1h);
        },
        "127.0.0.1", 0);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    co_await corio::sleep(10ms);  // the data arrives and stays unread
    EXPECT_FALSE(w.is_closing());
    w.close();
    EXPECT_TRUE(w.is_closing());
    co_await corio::wait_for(w.wait_closed(), 5s);
    // The reader still has what arrived, then EOF.
    EXPECT_EQ(co_await r.read(), "unread data");
    EXPECT_TRUE(r.at_eof());
  }());
}

TEST(ST, ST_19_each_connection_runs_the_callback_as_its_own_task) {
  run_io([]() -> corio::task<void> {
    std::vector<std::string> tasks;
    corio::server srv = co_await corio::start_server(
        [&tasks](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          tasks.push_back(corio::current_task().get_name());
          w.write(co_await r.readline());
        },
        "127.0.0.1", 0);
    EXPECT_TRUE(srv.is_serving());
    auto [r1, w1] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    auto [r2, w2] = co_await corio::open_connection("127.0.0.1", port_of(srv));
    w2.write("two\n");
    w1.write("one\n");
    EXPECT_EQ(co_await r2.readline(), "two\n");
    EXPECT_EQ(co_await r1.readline(), "one\n");
    EXPECT_EQ(tasks.size(), 2u);
    if (tasks.size() == 2) {
      EXPECT_NE(tasks[0], tasks[1]);
    }
  }());
}

TEST(ST, ST_19_start_serving_false_defers_accepting) {
  run_io([]() -> corio::task<void> {
    int served = 0;
    corio::server_options opts;
    opts.start_serving = false;
    corio::server srv = co_await corio::start_server(
        [&served](corio::stream_reader, corio::stream_writer) -> corio::task<void> {
          ++served;
          co_return;
        },
        "127.0.0.1", 0, opts);
    EXPECT_FALSE(srv.is_serving());
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port_of(srv));  // queued in the backlog
    co_await corio::sleep(10ms);
    EXPECT_EQ(served, 0);
    srv.start_serving();
    EXPECT_TRUE(srv.is_serving());
    EXPECT_EQ(co_await corio::wait_for(r.read(), 5s), "");
    EXPECT_EQ(served, 1);
  }());
}

TEST(ST, ST_20_serve_forever_rules) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader, corio::stream_writer) -> corio::task<void> { co_return; }, "127.0.0.1", 0);
    auto forever = corio::create_task(srv.serve_forever());
    co_await corio::sleep(0s);
    EXPECT_THROW(co_await srv.serve_forever(), std::runtime_error);  // a second one
    forever.cancel();
    EXPECT_THROW(co_await forever, corio::cancelled_error);
    EXPECT_TRUE(srv.sockets().empty());
    EXPECT_FALSE(srv.is_serving());
    EXPECT_THROW(co_await srv.serve_forever(), std::runtime_error);  // closed
  }());
}

TEST(ST, ST_20_the_last_handle_closes_the_server) {
  run_io([]() -> corio::task<void> {
    std::uint16_t port;
    {
      corio::server srv = co_await corio::start_server(
          [](corio::stream_reader, corio::stream_writer) -> corio::task<void> { co_return; }, "127.0.0.1", 0);
      port = port_of(srv);
    }  // Python: leaving `async with server`
    co_await corio::sleep(1ms);
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port), corio::connection_refused_error);
  }());
}

TEST(ST, ST_21_close_keeps_connections_and_wait_closed_waits_for_them) {
  run_io([]() -> corio::task<void> {
    corio::server srv = co_await corio::start_server(
        [](corio::stream_reader r, corio::stream_writer w) -> corio::task<void> {
          for (;;) {
            std::string line = co_await r.readline();
            if (line.empty()) break;
            w.write(line);
          }
        },
        "127.0.0.1", 0);
    const std::uint16_t port = port_of(srv);
    auto [r, w] = co_await corio::open_connection("127.0.0.1", port);
    w.write("a\n");
    EXPECT_EQ(co_await r.readline(), "a\n");
    srv.close();
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port), corio::connection_refused_error);
    auto closed = corio::create_task(srv.wait_closed());
    w.write("b\n");
    EXPECT_EQ(co_await r.readline(), "b\n");
    EXPECT_FALSE(closed.done());
    w.close();
    co_await corio::wait_for(std::move(closed), 5s);
  }());
}

TEST(ST, ST_22_open_connection_errors_are_os_errors) {
  run_io([]() -> corio::task<void> {
    std::uint16_t port;
    {
      corio::socket l = corio_test::tcp_listener();
      port = l.getsockname().port();
    }
    EXPECT_THROW((void)co_await corio::open_connection("127.0.0.1", port), corio::os_error);
    EXPECT_THROW((void)co_await corio::open_connection("no-such-host.invalid", 80), corio::gai_error);
    EXPECT_THROW((void)co_await corio::open_unix_connection("/nonexistent/corio.sock"), corio::file_not_found_error);
  }());
}

}  // namespace

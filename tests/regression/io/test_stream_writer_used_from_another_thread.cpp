// Writing to a stream from a worker thread (the door is
// call_soon_threadsafe) raced with the loop's own use of the transport and
// said nothing in debug mode. Debug mode now refuses it at the call, as it
// does for futures, tasks and the locks and queues.
#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "error_util.hpp"

using namespace std::chrono_literals;
using corio_test::error_of;
using corio_test::message_of;

namespace {

TEST(StreamWriterUsedFromAnotherThread, write_and_write_eof_raise_in_debug_mode_and_send_nothing) {
  corio::loop_options o;
  o.debug = true;
  corio::event_loop loop(o);
  const std::string got = loop.run_until_complete([]() -> corio::task<std::string> {
    auto [a, b] = corio::socketpair();
    auto [ra, wa] = co_await corio::open_connection(std::move(a));
    auto [rb, wb] = co_await corio::open_connection(std::move(b));
    std::string write_err, eof_err;
    std::thread th([&, w = wa] {
      corio::stream_writer writer = w;
      write_err = message_of(error_of([&] { writer.write("from the wrong thread"); }));
      eof_err = message_of(error_of([&] { writer.write_eof(); }));
    });
    th.join();
    EXPECT_NE(write_err.find("Non-thread-safe operation"), std::string::npos) << write_err;
    EXPECT_NE(write_err.find("stream_writer.write"), std::string::npos) << write_err;
    EXPECT_NE(eof_err.find("stream_writer.write_eof"), std::string::npos) << eof_err;
    wa.write("right thread");
    wa.write_eof();
    co_return co_await rb.read();
  }());
  EXPECT_EQ(got, "right thread");
}

}  // namespace

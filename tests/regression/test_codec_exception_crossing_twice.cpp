// An exception that crossed a process and is passed on keeps its type when
// it crosses again. The codec rebuilds a known exception nested over its
// remote traceback (std::throw_with_nested), whose dynamic type is
// std::_Nested_exception<E>; encoding that again wrote the wrapper's name,
// so the next process got a remote_error instead of an E. Found with a task
// queue worker that passes on the exception of a function it ran in a pool
// process.
#include "error_util.hpp"

#include <corio/exceptions.hpp>
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/errors.hpp>
#include <corio/multiprocessing/pool.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <exception>
#include <stdexcept>
#include <string>

namespace mp = corio::multiprocessing;

namespace {

std::exception_ptr cross(const std::exception_ptr& e) { return mp::decode<std::exception_ptr>(mp::encode(e)); }

std::string traceback_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::nested_exception& n) {
    try {
      n.rethrow_nested();
    } catch (const mp::remote_traceback& tb) {
      return tb.what();
    } catch (...) {
    }
  } catch (...) {
  }
  return "<none>";
}

}  // namespace

TEST(codec_exception_crossing_twice, a_standard_exception_keeps_its_type_and_first_traceback) {
  const std::exception_ptr once = cross(std::make_exception_ptr(std::invalid_argument("bad input")));
  const std::exception_ptr twice = cross(once);
  EXPECT_TRUE(corio_test::holds<std::invalid_argument>(twice)) << corio_test::message_of(twice);
  EXPECT_EQ(corio_test::message_of(twice), "bad input");
  EXPECT_EQ(traceback_of(twice), traceback_of(once));
  EXPECT_NE(traceback_of(twice).find("std::invalid_argument: bad input"), std::string::npos) << traceback_of(twice);
}

TEST(codec_exception_crossing_twice, corio_and_os_errors_keep_their_types) {
  const std::exception_ptr t = cross(cross(std::make_exception_ptr(corio::timeout_error("too slow"))));
  EXPECT_TRUE(corio_test::holds<corio::timeout_error>(t)) << corio_test::message_of(t);
  const std::exception_ptr f =
      cross(cross(std::make_exception_ptr(corio::file_not_found_error(ENOENT, "open", "/nowhere"))));
  EXPECT_TRUE(corio_test::holds<corio::file_not_found_error>(f)) << corio_test::message_of(f);
  try {
    std::rethrow_exception(f);
  } catch (const corio::file_not_found_error& x) {
    EXPECT_EQ(x.filename(), "/nowhere");
    EXPECT_EQ(x.error_number(), ENOENT);
  } catch (...) {
  }
}

TEST(codec_exception_crossing_twice, the_pools_errors_cross_as_themselves) {
  const std::exception_ptr e = cross(cross(std::make_exception_ptr(mp::worker_lost_error("worker 12 was killed"))));
  EXPECT_TRUE(corio_test::holds<mp::worker_lost_error>(e)) << corio_test::message_of(e);
  EXPECT_EQ(corio_test::message_of(e), "worker 12 was killed");
  EXPECT_TRUE(corio_test::holds<mp::broken_pool_error>(cross(std::make_exception_ptr(mp::broken_pool_error("x")))));
  EXPECT_TRUE(
      corio_test::holds<mp::pool_terminated_error>(cross(std::make_exception_ptr(mp::pool_terminated_error("x")))));
}

TEST(codec_exception_crossing_twice, an_unknown_type_keeps_its_name) {
  struct my_error : std::runtime_error {
    using std::runtime_error::runtime_error;
  };
  const std::exception_ptr e = cross(cross(std::make_exception_ptr(my_error("mine"))));
  EXPECT_TRUE(corio_test::holds<mp::remote_error>(e));
  EXPECT_NE(corio_test::message_of(e).find("my_error: mine"), std::string::npos) << corio_test::message_of(e);
}

// Unit tests for <corio/os_errors.hpp>: which os_error subclass an errno
// becomes (Python's OSError subclasses), and OSError.filename.
#include <corio/os_errors.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "error_util.hpp"

using corio_test::holds;

TEST(OsErrors, each_errno_becomes_pythons_subclass) {
  EXPECT_TRUE(holds<corio::file_not_found_error>(corio::make_os_error(ENOENT, "x")));
  EXPECT_TRUE(holds<corio::file_exists_error>(corio::make_os_error(EEXIST, "x")));
  EXPECT_TRUE(holds<corio::permission_error>(corio::make_os_error(EACCES, "x")));
  EXPECT_TRUE(holds<corio::permission_error>(corio::make_os_error(EPERM, "x")));
  EXPECT_TRUE(holds<corio::is_a_directory_error>(corio::make_os_error(EISDIR, "x")));
  EXPECT_TRUE(holds<corio::not_a_directory_error>(corio::make_os_error(ENOTDIR, "x")));
  EXPECT_TRUE(holds<corio::child_process_error>(corio::make_os_error(ECHILD, "x")));
  EXPECT_TRUE(holds<corio::process_lookup_error>(corio::make_os_error(ESRCH, "x")));
  EXPECT_TRUE(holds<corio::broken_pipe_error>(corio::make_os_error(EPIPE, "x")));
  EXPECT_TRUE(holds<corio::connection_error>(corio::make_os_error(ECONNRESET, "x")));
  const std::exception_ptr other = corio::make_os_error(EBADF, "x");
  EXPECT_TRUE(holds<corio::os_error>(other));
  EXPECT_FALSE(holds<corio::file_not_found_error>(other));
}

TEST(OsErrors, the_message_names_the_context_and_the_filename_travels_with_it) {
  try {
    std::rethrow_exception(corio::make_os_error(ENOENT, "cannot run 'prog'", "prog"));
  } catch (const corio::file_not_found_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot run 'prog': No such file or directory");
    EXPECT_EQ(e.filename(), "prog");
    EXPECT_EQ(e.error_number(), ENOENT);
  }
  try {
    corio::throw_os_error(EACCES, "open");
  } catch (const corio::os_error& e) {
    EXPECT_EQ(e.filename(), "");
  }
}

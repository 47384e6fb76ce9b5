// describe_exception of an exception whose what() is empty (a bare
// cancelled_error, the most common one in a loop's reports) ended in a
// dangling ": " ("corio::cancelled_error: "). Python's traceback prints the
// type alone: "CancelledError".
#include <corio/exceptions.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>

TEST(DescribeException, an_empty_message_gives_the_type_alone) {
  EXPECT_EQ(corio::describe_exception(std::make_exception_ptr(corio::cancelled_error())), "corio::cancelled_error");
  EXPECT_EQ(corio::describe_exception(std::make_exception_ptr(std::runtime_error(""))), "std::runtime_error");
}

TEST(DescribeException, a_message_still_follows_the_type) {
  EXPECT_EQ(corio::describe_exception(std::make_exception_ptr(corio::cancelled_error("stop"))),
            "corio::cancelled_error: stop");
  EXPECT_EQ(corio::describe_exception(std::make_exception_ptr(std::runtime_error("boom"))),
            "std::runtime_error: boom");
}

// Unit tests for <corio/exceptions.hpp>: the base_exception / std::exception
// split, the named errors, and exception groups.
#include <corio/exceptions.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

template <class E>
std::exception_ptr ptr(E e) {
  return std::make_exception_ptr(std::move(e));
}

// What catch clause a thrown group lands in.
enum class caught { exception_group, base_exception_group, other };

caught throw_and_classify(std::vector<std::exception_ptr> excs) {
  try {
    corio::throw_exception_group("grp", std::move(excs));
  } catch (const corio::exception_group&) {
    return caught::exception_group;
  } catch (const corio::base_exception_group&) {
    return caught::base_exception_group;
  } catch (...) {
    return caught::other;
  }
}

struct my_error : std::runtime_error {
  my_error() : std::runtime_error("mine") {}
};

}  // namespace

// -- the hierarchy -------------------------------------------------------------------

static_assert(!std::is_base_of_v<std::exception, corio::base_exception>);
static_assert(!std::is_base_of_v<std::exception, corio::cancelled_error>);
static_assert(!std::is_base_of_v<std::exception, corio::keyboard_interrupt>);
static_assert(!std::is_base_of_v<std::exception, corio::system_exit>);
static_assert(std::is_base_of_v<corio::base_exception, corio::cancelled_error>);
static_assert(std::is_base_of_v<std::logic_error, corio::invalid_state_error>);
static_assert(std::is_base_of_v<std::runtime_error, corio::timeout_error>);
static_assert(std::is_base_of_v<std::exception, corio::exception_group>);
static_assert(std::is_base_of_v<corio::base_exception_group, corio::exception_group>);
static_assert(!std::is_base_of_v<std::exception, corio::base_exception_group>);

TEST(Exceptions, catch_std_exception_does_not_catch_a_cancellation) {
  bool by_std = false;
  bool by_base = false;
  try {
    try {
      throw corio::cancelled_error("stop");
    } catch (const std::exception&) {
      by_std = true;
    }
  } catch (const corio::base_exception& e) {
    by_base = true;
    EXPECT_STREQ(e.what(), "stop");
  }
  EXPECT_FALSE(by_std);
  EXPECT_TRUE(by_base);
}

TEST(Exceptions, cancelled_error_without_a_message_has_an_empty_what) {
  EXPECT_STREQ(corio::cancelled_error().what(), "");
  EXPECT_STREQ(corio::cancelled_error("because").what(), "because");
}

TEST(Exceptions, keyboard_interrupt_and_system_exit_describe_themselves) {
  EXPECT_STREQ(corio::keyboard_interrupt().what(), "keyboard interrupt");
  EXPECT_STREQ(corio::keyboard_interrupt("ctrl-c").what(), "ctrl-c");
  corio::system_exit e(3);
  EXPECT_EQ(e.code(), 3);
  EXPECT_STREQ(e.what(), "system exit 3");
  EXPECT_EQ(corio::system_exit().code(), 0);
}

TEST(Exceptions, timeout_error_defaults_to_timed_out) {
  EXPECT_STREQ(corio::timeout_error().what(), "timed out");
  EXPECT_STREQ(corio::timeout_error("late").what(), "late");
  EXPECT_STREQ(corio::invalid_state_error("pending").what(), "pending");
}

// -- helpers -------------------------------------------------------------------------

TEST(Exceptions, is_std_exception_tells_the_two_families_apart) {
  EXPECT_TRUE(corio::is_std_exception(ptr(std::runtime_error("x"))));
  EXPECT_TRUE(corio::is_std_exception(ptr(corio::timeout_error())));
  EXPECT_FALSE(corio::is_std_exception(ptr(corio::cancelled_error())));
  EXPECT_FALSE(corio::is_std_exception(std::make_exception_ptr(42)));
  EXPECT_FALSE(corio::is_std_exception(nullptr));
}

TEST(Exceptions, is_cancelled_error_recognises_only_cancellations) {
  EXPECT_TRUE(corio::is_cancelled_error(ptr(corio::cancelled_error("m"))));
  EXPECT_FALSE(corio::is_cancelled_error(ptr(corio::keyboard_interrupt())));
  EXPECT_FALSE(corio::is_cancelled_error(ptr(std::runtime_error("x"))));
  EXPECT_FALSE(corio::is_cancelled_error(nullptr));
}

TEST(Exceptions, describe_exception_gives_type_and_message) {
  EXPECT_EQ(corio::describe_exception(ptr(std::runtime_error("boom"))), "std::runtime_error: boom");
  EXPECT_EQ(corio::describe_exception(ptr(corio::cancelled_error("c"))), "corio::cancelled_error: c");
  EXPECT_EQ(corio::describe_exception(ptr(corio::timeout_error())), "corio::timeout_error: timed out");
  EXPECT_EQ(corio::describe_exception(std::make_exception_ptr(42)), "int");
  EXPECT_EQ(corio::describe_exception(nullptr), "(none)");
}

// -- exception groups --------------------------------------------------------------

TEST(ExceptionGroup, only_std_exceptions_build_an_exception_group) {
  EXPECT_EQ(throw_and_classify({ptr(std::runtime_error("a")), ptr(std::logic_error("b"))}), caught::exception_group);
}

TEST(ExceptionGroup, a_cancellation_among_the_members_builds_a_base_exception_group) {
  EXPECT_EQ(throw_and_classify({ptr(std::runtime_error("a")), ptr(corio::cancelled_error())}),
            caught::base_exception_group);
  EXPECT_EQ(throw_and_classify({std::make_exception_ptr(7)}), caught::base_exception_group);
}

TEST(ExceptionGroup, an_exception_group_is_caught_as_std_exception) {
  bool caught_std = false;
  try {
    corio::throw_exception_group("grp", {ptr(std::runtime_error("a"))});
  } catch (const std::exception& e) {
    caught_std = true;
    EXPECT_NE(std::string(e.what()).find("grp"), std::string::npos);
  }
  EXPECT_TRUE(caught_std);
}

TEST(ExceptionGroup, a_base_exception_group_escapes_catch_std_exception) {
  bool by_std = false;
  bool by_base = false;
  try {
    try {
      corio::throw_exception_group("grp", {ptr(corio::cancelled_error())});
    } catch (const std::exception&) {
      by_std = true;
    }
  } catch (const corio::base_exception&) {
    by_base = true;
  }
  EXPECT_FALSE(by_std);
  EXPECT_TRUE(by_base);
}

TEST(ExceptionGroup, keeps_members_in_order_and_the_message_apart) {
  std::vector<std::exception_ptr> excs{ptr(std::runtime_error("first")), ptr(std::logic_error("second"))};
  corio::exception_group g("two things failed", excs);
  ASSERT_EQ(g.exceptions().size(), 2u);
  EXPECT_EQ(g.exceptions()[0], excs[0]);
  EXPECT_EQ(g.exceptions()[1], excs[1]);
  EXPECT_EQ(g.message(), "two things failed");
}

TEST(ExceptionGroup, what_lists_every_member) {
  corio::exception_group g("two things failed", {ptr(std::runtime_error("first")), ptr(std::logic_error("second"))});
  const std::string w = g.what();
  EXPECT_EQ(w,
            "two things failed (2 sub-exceptions)\n"
            "  [1] std::runtime_error: first\n"
            "  [2] std::logic_error: second");
  // Both bases see the same text.
  EXPECT_STREQ(static_cast<const std::exception&>(g).what(), w.c_str());
  EXPECT_STREQ(static_cast<const corio::base_exception&>(g).what(), w.c_str());
}

TEST(ExceptionGroup, what_of_a_single_member_group_says_sub_exception) {
  corio::base_exception_group g("one", {ptr(corio::cancelled_error("c"))});
  EXPECT_EQ(std::string(g.what()), "one (1 sub-exception)\n  [1] corio::cancelled_error: c");
}

TEST(ExceptionGroup, matching_finds_members_of_a_type_and_its_subtypes) {
  auto a = ptr(std::runtime_error("a"));
  auto b = ptr(std::logic_error("b"));
  auto c = ptr(my_error());
  corio::exception_group g("grp", {a, b, c});
  auto runtime = g.matching<std::runtime_error>();
  ASSERT_EQ(runtime.size(), 2u);
  EXPECT_EQ(runtime[0], a);
  EXPECT_EQ(runtime[1], c);
  EXPECT_EQ(g.matching<my_error>().size(), 1u);
  EXPECT_EQ(g.matching<std::exception>().size(), 3u);
  EXPECT_TRUE(g.matching<corio::timeout_error>().empty());
}

TEST(ExceptionGroup, matching_and_contains_search_nested_groups) {
  auto inner_cancel = ptr(corio::cancelled_error("inner"));
  auto inner_timeout = ptr(corio::timeout_error());
  std::exception_ptr inner;
  try {
    corio::throw_exception_group("inner", {inner_cancel, inner_timeout});
  } catch (...) {
    inner = std::current_exception();
  }
  corio::base_exception_group outer("outer", {ptr(std::runtime_error("top")), inner});
  EXPECT_TRUE(outer.contains<corio::cancelled_error>());
  EXPECT_TRUE(outer.contains<corio::timeout_error>());
  EXPECT_TRUE(outer.contains<std::runtime_error>());  // timeout_error is one, and so is "top"
  EXPECT_EQ(outer.matching<std::runtime_error>().size(), 2u);
  EXPECT_FALSE(outer.contains<std::logic_error>());
  auto cancels = outer.matching<corio::cancelled_error>();
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0], inner_cancel);
  // The nested group is listed in the outer's what().
  EXPECT_NE(std::string(outer.what()).find("corio::base_exception_group"), std::string::npos) << outer.what();
}

TEST(ExceptionGroup, matching_a_group_type_returns_the_nested_group_itself) {
  std::exception_ptr inner = ptr(corio::exception_group("inner", {ptr(std::runtime_error("x"))}));
  corio::exception_group outer("outer", {inner});
  auto groups = outer.matching<corio::exception_group>();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0], inner);
}

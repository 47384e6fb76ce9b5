// create_task(f(std::string("x"))) with f(const std::string&), or a coroutine
// lambda called as a temporary, runs its body after the temporary is gone.
// Debug mode now catches the cases the library can see (a referent in a
// stack frame that returned before the task's first step): the task ends
// with an error naming it, and never reads the freed memory.
#include <corio/corio.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>

using namespace std::chrono_literals;

namespace {

corio::loop_options debug_on() {
  corio::loop_options o;
  o.debug = true;
  return o;
}

corio::task<std::size_t> length(const std::string& s) {
  co_await corio::sleep(0s);
  co_return s.size();
}

corio::task<std::size_t> length_by_value(std::string s) {
  co_await corio::sleep(0s);
  co_return s.size();
}

// What awaiting `t` gives: its value, or the error's text.
corio::task<std::string> outcome(corio::task<std::size_t> t) {
  try {
    co_return std::to_string(co_await t);
  } catch (const std::runtime_error& e) {
    co_return e.what();
  }
}

// A plain function scheduling a task on a temporary: the temporary lives in
// this function's stack frame, gone when it returns.
__attribute__((noinline)) corio::task<std::size_t> spawn_on_a_temporary() {
  return corio::create_task(length(std::string(40, 'x')));
}
__attribute__((noinline)) corio::task<std::size_t> spawn_lambda_temporary() {
  const std::size_t n = 41;
  return corio::create_task([n]() -> corio::task<std::size_t> {
    co_await corio::sleep(0s);
    co_return n;
  }());
}

bool names_the_dangling_reference(const std::string& what) {
  return what.find("was given a reference to stack memory that was released") != std::string::npos &&
         what.find("length") != std::string::npos;
}

TEST(DebugDanglingReference, a_task_scheduled_on_a_temporary_of_a_returned_function_fails_instead_of_running) {
  corio::event_loop loop(debug_on());
  const std::string r = loop.run_until_complete([]() -> corio::task<std::string> {
    co_return co_await outcome(spawn_on_a_temporary());
  }());
  EXPECT_TRUE(names_the_dangling_reference(r)) << r;
}

TEST(DebugDanglingReference, a_coroutine_lambda_scheduled_as_a_temporary_fails_instead_of_running) {
  corio::event_loop loop(debug_on());
  const std::string r = loop.run_until_complete([]() -> corio::task<std::string> {
    co_return co_await outcome(spawn_lambda_temporary());
  }());
  EXPECT_NE(r.find("was given a reference to stack memory"), std::string::npos) << r;
}

TEST(DebugDanglingReference, references_that_outlive_the_first_step_pass) {
  corio::event_loop loop(debug_on());
  std::string named(42, 'y');  // a local of this function, alive while the loop runs
  auto t = loop.create_task(length(named));
  EXPECT_EQ(loop.run_until_complete(t), 42u);
  // A temporary around run_until_complete lives until it returns.
  EXPECT_EQ(loop.run_until_complete(length(std::string(43, 'z'))), 43u);
  const std::string r = loop.run_until_complete([]() -> corio::task<std::string> {
    // Awaited at once: the temporary lives across the await.
    std::size_t a = co_await length(std::string(44, 'w'));
    // By value: the frame owns a copy.
    std::size_t b = co_await corio::create_task(length_by_value(std::string(45, 'v')));
    // A heap object is not judged.
    auto owned = std::make_unique<std::string>(46, 'u');
    std::size_t c = co_await corio::create_task(length(*owned));
    // A capture-less lambda's closure holds nothing that could dangle.
    std::string in_frame(47, 't');
    std::size_t d = co_await corio::create_task([](const std::string& s) -> corio::task<std::size_t> {
      co_await corio::sleep(0s);
      co_return s.size();
    }(in_frame));
    co_return std::to_string(a + b + c + d);
  }());
  EXPECT_EQ(r, std::to_string(44 + 45 + 46 + 47));
}

TEST(DebugDanglingReference, without_debug_mode_nothing_is_recorded) {
  corio::event_loop loop;
  if (loop.get_debug()) GTEST_SKIP() << "CORIO_DEBUG is set";
  std::string named(7, 'y');
  EXPECT_EQ(loop.run_until_complete(loop.create_task(length(named))), 7u);
}

}  // namespace

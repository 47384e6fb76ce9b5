// A program that starts spawn children must call freeze_support() first in
// main() (Python: the `if __name__ == "__main__":` guard); this file does
// not (it uses gtest's main). The spawned copy then runs main() again, runs
// this test again, and its attempt to start a process must raise instead of
// spawning a grandchild (a fork bomb); at exit it must say what was missing
// and exit with 1, so the parent sees a clear failure.
#include "multiprocessing_util.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;

namespace {
void never_runs() { std::_Exit(42); }
}  // namespace

TEST(spawn_without_freeze_support, the_child_refuses_to_start_processes_and_exits_with_1_saying_why) {
  const bool in_child = std::getenv(mp::detail::kChildEnv) != nullptr;
  mp::process p(never_runs);
  if (in_child) {
    // The spawned copy, running main() again: no grandchild may start.
    EXPECT_THROW(mp::get_context("spawn").start(p), std::runtime_error);
    EXPECT_THROW(mp::get_context("fork").start(p), std::runtime_error);
    return;
  }
  corio_test::stderr_capture out(1), err(2);
  mp::get_context("spawn").start(p);
  p.join(60s);
  out.restore();
  err.restore();
  EXPECT_EQ(p.exitcode(), 1);
  const std::string text = err.text();
  EXPECT_NE(text.find("did not call corio::multiprocessing::freeze_support() first"), std::string::npos) << text;
  EXPECT_TRUE(corio_test::no_children());
}

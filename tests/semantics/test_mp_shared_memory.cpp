// Semantic tests for docs/semantics.md section 15, shared memory segments
// (MP-33..MP-35): corio::multiprocessing::shared_memory, and the resource
// tracker that removes what a process tree created and left behind.
// Scenarios follow CPython's _TestSharedMemory.
//
// The tracker scenarios need a process tree of their own (this process's
// tracker lives as long as this process): they run in this test program
// executed again with CORIO_TEST_SHM_SCENARIO set, which runs the scenario
// before main and exits. Every segment a test makes is recorded, and the
// test environment checks at the end that none is left in /dev/shm.
//
// Parts of rules with nothing to test in C++:
//   MP-33  a generated name that exists already is drawn again (Python's
//          test mocks _make_filename); corio's loop is the same, not mocked.
#include <corio/multiprocessing/shared_memory.hpp>

#include <corio/os_errors.hpp>
#include <corio/subprocess/popen.hpp>
#include <corio/subprocess/run.hpp>

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

#include "fork_util.hpp"
#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;

using corio_test::children;
using corio_test::eventually;
using corio_test::what_of;

namespace {

constexpr int kOk = 0, kWrong = 1;

bool segment_exists(const std::string& name) { return std::filesystem::exists("/dev/shm/" + name); }

// -- scenarios, run in a fresh process -------------------------------------------------------

// Prints a line on stdout at once.
void say(const std::string& line) {
  std::cout << line << std::endl;
}

// Blocks until stdin is closed or the process is killed.
void block() {
  char c;
  while (::read(0, &c, 1) > 0) {
  }
}

int run_scenario(const std::string& s) {
  try {
    if (s == "create") {
      // A tracked and an untracked segment, then wait to be killed.
      mp::shared_memory tracked(std::nullopt, true, 100);
      mp::shared_memory untracked(std::nullopt, true, 100, false);
      say(tracked.name());
      say(untracked.name());
      block();
    } else if (s == "create_and_exit") {
      mp::shared_memory leaked(std::nullopt, true, 100);
      say(leaked.name());
      leaked.close();
    } else if (s == "attach_and_create") {
      // Attaches to the parent's segment, makes one of its own, and exits.
      mp::shared_memory theirs(std::string(std::getenv("CORIO_TEST_SHM_NAME")));
      theirs.buf()[0] = std::byte{42};
      mp::shared_memory mine(std::nullopt, true, 100);
      say(mine.name());
    } else {
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "scenario " << s << ": " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

const bool scenario_ran = [] {
  if (const char* s = std::getenv("CORIO_TEST_SHM_SCENARIO")) {
    const int code = run_scenario(s);
    std::cout.flush();
    ::_exit(code);
  }
  return false;
}();

// This program run as a scenario: stdin, stdout and stderr are pipes.
corio::subprocess::popen start_scenario(const std::string& s, const std::string& name = "") {
  namespace sp = corio::subprocess;
  sp::environment env{{"CORIO_TEST_SHM_SCENARIO", s}};
  if (!name.empty()) env["CORIO_TEST_SHM_NAME"] = name;
  return sp::popen({std::filesystem::read_symlink("/proc/self/exe").string()},
                   {.stdin = sp::pipe, .stdout = sp::pipe, .stderr = sp::pipe, .extra_env = env});
}

// The next line the scenario printed, without its newline.
std::string line_of(corio::subprocess::popen& p) {
  std::string s = p.stdout()->readline();
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// -- every segment the tests make, checked at the end -----------------------------------------

std::mutex g_mu;
std::set<std::string> g_made;

std::string record(const std::string& name) {
  std::lock_guard g(g_mu);
  g_made.insert(name);
  return name;
}

// A name of this test run's own.
std::string test_name(const std::string& what) {
  return record("corio_test_" + std::to_string(::getpid()) + "_" + what);
}

class no_segments_left : public ::testing::Environment {
 public:
  void TearDown() override {
    std::lock_guard g(g_mu);
    for (const std::string& name : g_made) EXPECT_FALSE(segment_exists(name)) << "left in /dev/shm: " << name;
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new no_segments_left);

}  // namespace

// == MP-33 ==================================================================================

TEST(MP_33, create_attach_and_the_basic_attributes) {
  // _TestSharedMemory.test_shared_memory_basics
  const std::string name = test_name("basics");
  mp::shared_memory sms(name, true, 512);
  EXPECT_EQ(sms.name(), name);
  EXPECT_GE(sms.size(), 512u);
  EXPECT_GE(sms.buf().size(), sms.size());
  std::ostringstream repr;
  repr << sms;
  EXPECT_NE(repr.str().find(name), std::string::npos) << repr.str();
  EXPECT_NE(repr.str().find("512"), std::string::npos) << repr.str();

  sms.buf()[0] = std::byte{42};
  EXPECT_EQ(sms.buf()[0], std::byte{42});
  mp::shared_memory also(name);
  EXPECT_EQ(also.buf()[0], std::byte{42});
  also.close();

  // Attaching ignores the size asked for.
  mp::shared_memory same(name, false, 20 * 512);
  EXPECT_EQ(same.size(), 512u);
  same.close();
  sms.unlink();
}

TEST(MP_33, bad_sizes_and_a_missing_name_raise) {
  // _TestSharedMemory.test_invalid_shared_memory_cration
  EXPECT_THROW(mp::shared_memory(std::nullopt, true, -2), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(std::nullopt, true, -1), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(std::nullopt, true, 0), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(test_name("neg"), false, -1), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(std::nullopt, false, 10), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(std::string(""), true, 10), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(std::string("a/b"), true, 10), std::invalid_argument);
  EXPECT_THROW(mp::shared_memory(std::string(300, 'x'), true, 10), std::invalid_argument);
}

TEST(MP_33, creating_an_existing_name_and_attaching_a_missing_one_raise) {
  const std::string name = test_name("exists");
  mp::shared_memory first(name, true, 64);
  try {
    mp::shared_memory(name, true, 64);
    ADD_FAILURE() << "no file_exists_error";
  } catch (const corio::file_exists_error& e) {
    EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
  first.unlink();
  const std::string missing = test_name("missing");
  EXPECT_THROW(mp::shared_memory{missing}, corio::file_not_found_error);
}

TEST(MP_33, a_leading_slash_is_dropped_and_generated_names_are_unique) {
  // _TestSharedMemory.test_shared_memory_recreate
  const std::string name = test_name("slash");
  mp::shared_memory a("/" + name, true, 16);
  EXPECT_EQ(a.name(), name);
  mp::shared_memory b(name);
  b.close();
  a.unlink();
  std::set<std::string> names;
  for (int i = 0; i < 20; ++i) {
    mp::shared_memory m(std::nullopt, true, 1);
    record(m.name());
    EXPECT_EQ(m.name().rfind("psm_", 0), 0u) << m.name();
    EXPECT_EQ(m.name().find('/'), std::string::npos);
    names.insert(m.name());
    m.unlink();
  }
  EXPECT_EQ(names.size(), 20u);
}

// == MP-34 ==================================================================================

TEST(MP_34, close_unmaps_this_handle_and_keeps_the_segment) {
  const std::string name = test_name("close");
  mp::shared_memory m(name, true, 100);
  m.buf()[7] = std::byte{7};
  m.close();
  m.close();  // twice is fine
  EXPECT_THROW(m.buf(), std::runtime_error);
  EXPECT_TRUE(segment_exists(name));
  mp::shared_memory again(name);
  EXPECT_EQ(again.buf()[7], std::byte{7});
  again.unlink();  // unlink after close is by name
}

TEST(MP_34, unlink_removes_the_name_and_mappings_stay_valid_and_a_second_unlink_raises) {
  const std::string name = test_name("unlink");
  mp::shared_memory uno(name, true, 5000);
  mp::shared_memory duo(name);
  duo.unlink();  // first shm_unlink
  EXPECT_FALSE(segment_exists(name));
  EXPECT_THROW(mp::shared_memory{name}, corio::file_not_found_error);
  duo.buf()[1] = std::byte{9};  // both mappings still work
  EXPECT_EQ(uno.buf()[1], std::byte{9});
  duo.close();
  uno.close();
  EXPECT_THROW(uno.unlink(), corio::file_not_found_error);  // a second unlink is bad
}

TEST(MP_34, another_process_attaching_by_name_or_by_handle_maps_the_same_bytes) {
  // _TestSharedMemory.test_shared_memory_across_processes
  CORIO_SKIP_FORK_UNDER_TSAN();
  mp::shared_memory sms(std::nullopt, true, 64);
  record(sms.name());
  const mp::shared_handle h = sms.corio_handle();
  EXPECT_EQ(h.kind, "shared_memory");
  EXPECT_EQ(h.segment, sms.name());
  children kids;
  const pid_t by_name = kids.start([&] {
    mp::shared_memory m(sms.name());
    std::memcpy(m.buf().data(), "howdy", 5);
    return kOk;
  });
  ASSERT_EQ(kids.wait(by_name), kOk);
  EXPECT_EQ(std::memcmp(sms.buf().data(), "howdy", 5), 0);
  const pid_t by_handle = kids.start([&] {
    mp::shared_memory m = mp::shared_memory::from_handle(h);
    std::memcpy(m.buf().data(), "HOWDY", 5);
    return m.size() == 64 ? kOk : kWrong;
  });
  ASSERT_EQ(kids.wait(by_handle), kOk);
  EXPECT_EQ(std::memcmp(sms.buf().data(), "HOWDY", 5), 0);
  sms.unlink();
}

TEST(MP_34, a_handle_of_an_unlinked_segment_raises_file_not_found) {
  // _TestSharedMemory.test_shared_memory_pickle_unpickle_dead_object
  mp::shared_memory sms(std::nullopt, true, 64);
  record(sms.name());
  const mp::shared_handle h = sms.corio_handle();
  sms.close();
  sms.unlink();
  EXPECT_THROW(mp::shared_memory::from_handle(h), corio::file_not_found_error);
  mp::shared_handle wrong = h;
  wrong.kind = "lock";
  EXPECT_THROW(mp::shared_memory::from_handle(wrong), std::invalid_argument);
}

TEST(MP_34, a_python_process_attaching_by_name_reads_the_same_bytes) {
  // The segment is Python's SharedMemory: CPython attaches to it by name.
  // (Python 3.11 registers what it attaches to with its own tracker, which
  // would unlink the segment at its exit: the script unregisters it.)
  if (std::system("command -v python3 > /dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  const std::string name = test_name("python");
  mp::shared_memory m(name, true, 64);
  std::memcpy(m.buf().data(), "corio", 5);
  namespace sp = corio::subprocess;
  const std::string script =
      "import sys\n"
      "from multiprocessing import shared_memory, resource_tracker\n"
      "s = shared_memory.SharedMemory(sys.argv[1])\n"
      "resource_tracker.unregister(s._name, 'shared_memory')\n"
      "sys.stdout.write(bytes(s.buf[:5]).decode())\n"
      "s.buf[5:11] = b'python'\n"
      "s.close()\n";
  const std::string out = sp::check_output({"python3", "-c", script, name});
  EXPECT_EQ(out, "corio");
  EXPECT_EQ(std::memcmp(m.buf().data() + 5, "python", 6), 0);
  m.unlink();
}

TEST(MP_34, every_open_handle_holds_a_shared_flock_until_closed) {
  // What the tracker relies on to tell whether anyone still uses a segment.
  const std::string name = test_name("flock");
  mp::shared_memory m(name, true, 64);
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  EXPECT_NE(::flock(fd, LOCK_EX | LOCK_NB), 0);
  m.close();
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ::close(fd);
  m.unlink();
}

// == MP-35 ==================================================================================

TEST(MP_35, a_segment_left_by_a_killed_tree_is_removed_with_a_warning_and_an_untracked_one_stays) {
  // _TestSharedMemory.test_shared_memory_cleaned_after_process_termination
  // and (3.13) test_shared_memory_untracking.
  corio_test::watchdog guard(120s, "MP-35 killed tree");
  auto p = start_scenario("create");
  const std::string tracked = record(line_of(p));
  const std::string untracked = record(line_of(p));
  ASSERT_EQ(tracked.rfind("psm_", 0), 0u) << tracked;
  ASSERT_EQ(untracked.rfind("psm_", 0), 0u) << untracked;
  EXPECT_TRUE(segment_exists(tracked));
  p.kill();
  p.wait();
  EXPECT_TRUE(eventually([&] { return !segment_exists(tracked); }, 30s));
  const std::string warning = p.stderr()->read();  // EOF once the tracker is done
  EXPECT_NE(warning.find("leaked shared_memory objects"), std::string::npos) << warning;
  EXPECT_NE(warning.find(tracked), std::string::npos) << warning;
  EXPECT_EQ(warning.find(untracked), std::string::npos) << warning;
  EXPECT_TRUE(segment_exists(untracked));  // track=false: the program's to remove
  mp::shared_memory(untracked).unlink();
}

TEST(MP_35, a_segment_left_at_a_normal_exit_is_removed) {
  corio_test::watchdog guard(120s, "MP-35 normal exit");
  auto p = start_scenario("create_and_exit");
  const std::string leaked = record(line_of(p));
  EXPECT_EQ(p.wait(), 0);
  EXPECT_TRUE(eventually([&] { return !segment_exists(leaked); }, 30s));
}

TEST(MP_35, a_process_that_merely_attached_never_removes_the_segment) {
  // Departure: Python 3.11's tracker removes what any process attached to.
  corio_test::watchdog guard(120s, "MP-35 attacher");
  const std::string ours = test_name("attached");
  mp::shared_memory m(ours, true, 64);
  m.close();  // kept for whoever attaches later, open nowhere
  auto p = start_scenario("attach_and_create", ours);
  const std::string theirs = record(line_of(p));
  EXPECT_EQ(p.wait(), 0);
  // Its tracker has run (what it created is gone) ...
  EXPECT_TRUE(eventually([&] { return !segment_exists(theirs); }, 30s));
  // ... and left ours alone.
  EXPECT_TRUE(segment_exists(ours));
  mp::shared_memory again(ours);
  EXPECT_EQ(again.buf()[0], std::byte{42});
  again.unlink();
}

TEST(MP_35, a_leaked_segment_still_open_elsewhere_is_removed_once_closed) {
  corio_test::watchdog guard(120s, "MP-35 still open");
  auto p = start_scenario("create");
  const std::string tracked = record(line_of(p));
  const std::string untracked = record(line_of(p));
  mp::shared_memory user(tracked);  // holds it open
  p.kill();
  p.wait();
  // The tracker has warned (and then waits for us): the segment stays.
  const std::string warning = p.stderr()->read();
  EXPECT_NE(warning.find("still open elsewhere"), std::string::npos) << warning;
  EXPECT_TRUE(segment_exists(tracked));
  user.buf()[0] = std::byte{1};
  user.close();
  EXPECT_TRUE(eventually([&] { return !segment_exists(tracked); }, 30s));
  mp::shared_memory(untracked).unlink();
}

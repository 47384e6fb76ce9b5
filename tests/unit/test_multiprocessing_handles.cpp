// Unit tests for <corio/multiprocessing/shared_handle.hpp> and the shared
// heap (detail/shared_heap.hpp): what crosses to a spawned process in place
// of a shared object, and what from_handle() accepts.
//
// A spawned child has none of its parent's mappings: the test of that runs
// this program again (CORIO_TEST_HANDLE_* set), which attaches through the
// handles before main, works on the objects and exits.
#include <corio/multiprocessing/shared_handle.hpp>
#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/os_errors.hpp>
#include <corio/subprocess/popen.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fork_util.hpp"
#include "threading_util.hpp"

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;

using corio_test::children;

namespace {

constexpr int kOk = 0, kWrong = 1;

// A handle as one line of text (what a codec would do), for the environment.
std::string encode(const mp::shared_handle& h) {
  std::string s = h.kind + "|" + h.segment + "|" + std::to_string(h.offset) + "|" + std::to_string(h.length) + "|" +
                  std::to_string(h.device) + "|" + std::to_string(h.inode) + "|" + std::to_string(h.parts.size()) + "|";
  for (const auto& p : h.parts) s += encode(p);
  return s;
}

mp::shared_handle decode(std::string_view& s) {
  const auto field = [&] {
    const auto bar = s.find('|');
    std::string f(s.substr(0, bar));
    s.remove_prefix(bar + 1);
    return f;
  };
  mp::shared_handle h;
  h.kind = field();
  h.segment = field();
  h.offset = std::stoull(field());
  h.length = std::stoull(field());
  h.device = std::stoull(field());
  h.inode = std::stoull(field());
  const auto n = std::stoul(field());
  for (std::size_t i = 0; i < n; ++i) h.parts.push_back(decode(s));
  return h;
}

mp::shared_handle decode(const char* text) {
  std::string_view s = text;
  return decode(s);
}

// In the spawned copy: adds 1000 to the value under its lock, counts on the
// array, then sets the event.
int run_child(const char* value, const char* array, const char* done) {
  try {
    auto v = mp::value<long>::from_handle(decode(value));
    auto a = mp::array<int>::from_handle(decode(array));
    auto e = mp::event::from_handle(decode(done));
    for (int i = 0; i < 1000; ++i) {
      auto g = v.get_lock().scoped();
      v.set(v.get() + 1);
    }
    for (std::size_t i = 0; i < a.size(); ++i) a.set(i, a.get(i) + static_cast<int>(i));
    e.set();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "attach failed: " << e.what() << std::endl;
    return 1;
  }
}

const bool child_ran = [] {
  if (const char* v = std::getenv("CORIO_TEST_HANDLE_VALUE"))
    ::_exit(run_child(v, std::getenv("CORIO_TEST_HANDLE_ARRAY"), std::getenv("CORIO_TEST_HANDLE_EVENT")));
  return false;
}();

}  // namespace

TEST(MultiprocessingHandles, a_fresh_process_attaches_through_handles_and_shares_the_objects) {
  // What the spawn start method does: the child has nothing of the
  // parent's memory, only the handles.
  mp::value<long> v(0);
  mp::array<int> a{10, 20, 30};
  mp::event done;
  namespace sp = corio::subprocess;
  sp::popen p({std::filesystem::read_symlink("/proc/self/exe").string()},
              {.stderr = sp::pipe,
               .extra_env = {{"CORIO_TEST_HANDLE_VALUE", encode(v.corio_handle())},
                             {"CORIO_TEST_HANDLE_ARRAY", encode(a.corio_handle())},
                             {"CORIO_TEST_HANDLE_EVENT", encode(done.corio_handle())}}});
  for (int i = 0; i < 1000; ++i) {
    auto g = v.get_lock().scoped();
    v.set(v.get() + 1);
  }
  EXPECT_TRUE(done.wait(60s));
  EXPECT_EQ(p.wait(), 0) << p.stderr()->read();
  EXPECT_EQ(v.get(), 2000);
  EXPECT_EQ(a.to_vector(), (std::vector<int>{10, 21, 32}));
}

TEST(MultiprocessingHandles, the_handle_names_the_segment_kind_and_the_lock) {
  mp::value<int> v(1);
  const mp::shared_handle h = v.corio_handle();
  EXPECT_EQ(h.kind, "value<int>");
  EXPECT_EQ(h.segment.rfind("/proc/" + std::to_string(::getpid()) + "/fd/", 0), 0u) << h.segment;
  EXPECT_NE(h.inode, 0u);
  ASSERT_EQ(h.parts.size(), 1u);
  EXPECT_EQ(h.parts[0].kind, "rlock");
  EXPECT_EQ(h.parts[0].segment, h.segment);  // the default lock shares the value's block
  EXPECT_EQ(mp::array<double>(3).corio_handle().kind, "array<double>");
  EXPECT_EQ(mp::array<double>(3).corio_handle().length, 3u);
  static_assert(mp::shareable<mp::lock> && mp::shareable<mp::rlock> && mp::shareable<mp::semaphore> &&
                mp::shareable<mp::bounded_semaphore> && mp::shareable<mp::event> && mp::shareable<mp::condition> &&
                mp::shareable<mp::value<int>> && mp::shareable<mp::array<int>> && mp::shareable<mp::raw_value<int>> &&
                mp::shareable<mp::raw_array<int>>);
}

TEST(MultiprocessingHandles, from_handle_in_the_same_process_is_the_same_object) {
  mp::lock lk;
  mp::lock again = mp::lock::from_handle(lk.corio_handle());
  EXPECT_EQ(again, lk);
  again.acquire();
  EXPECT_TRUE(lk.owned_by_me());
  lk.release();

  mp::rlock rl;
  mp::condition c(rl);
  mp::condition c2 = mp::condition::from_handle(c.corio_handle());
  EXPECT_EQ(c2, c);
  auto g = c2.scoped();
  EXPECT_TRUE(rl.owned_by_me());  // over the same rlock

  mp::value<double> v(2.5);
  auto v2 = mp::value<double>::from_handle(v.corio_handle());
  v2.set(3.5);
  EXPECT_EQ(v.get(), 3.5);
  EXPECT_EQ(v2.get_lock(), v.get_lock());

  int acted = 0;
  mp::barrier b(1);
  auto b2 = mp::barrier::from_handle(b.corio_handle(), [&] { ++acted; });
  b2.wait();
  EXPECT_EQ(acted, 1);  // this handle's own action
}

TEST(MultiprocessingHandles, copies_are_handles_to_the_same_object) {
  mp::semaphore s(2);
  mp::semaphore copy = s;
  copy.acquire();
  EXPECT_EQ(s.get_value(), 1);
  mp::raw_array<int> a(4);
  mp::raw_array<int> b = a;
  b[2] = 5;
  EXPECT_EQ(a[2], 5);
}

TEST(MultiprocessingHandles, a_handle_of_another_kind_is_refused) {
  mp::lock lk;
  EXPECT_THROW(mp::rlock::from_handle(lk.corio_handle()), std::invalid_argument);
  EXPECT_THROW(mp::event::from_handle(lk.corio_handle()), std::invalid_argument);
  mp::value<int> v(1);
  EXPECT_THROW(mp::value<float>::from_handle(v.corio_handle()), std::invalid_argument);
  EXPECT_THROW(mp::raw_value<int>::from_handle(v.corio_handle()), std::invalid_argument);
  EXPECT_THROW((mp::value<int, mp::lock>::from_handle(v.corio_handle())), std::invalid_argument);  // its lock is an rlock
  mp::semaphore plain(1);
  EXPECT_THROW(mp::bounded_semaphore::from_handle(plain.corio_handle()), std::invalid_argument);
  mp::bounded_semaphore bounded(1);
  mp::semaphore as_plain = mp::semaphore::from_handle(bounded.corio_handle());
  EXPECT_THROW(as_plain.release(), std::invalid_argument);  // keeps its bound
  mp::shared_handle no_lock = v.corio_handle();
  no_lock.parts.clear();
  EXPECT_THROW(mp::value<int>::from_handle(no_lock), std::invalid_argument);
}

TEST(MultiprocessingHandles, a_handle_that_is_not_a_corio_arena_is_refused) {
  mp::lock lk;
  mp::shared_handle h = lk.corio_handle();
  for (const char* path : {"/etc/passwd", "/proc/self/fd/0", "/proc/1/fd/../../etc/passwd", "", "/proc/x/fd/1"}) {
    h.segment = path;
    h.device = h.inode = 12345;  // not in this process's table either
    EXPECT_THROW(mp::lock::from_handle(h), std::exception) << path;
  }
  h = lk.corio_handle();
  h.segment = "/proc/self/fd/0";
  h.device = h.inode = 1;
  EXPECT_THROW(mp::lock::from_handle(h), std::invalid_argument);
}

TEST(MultiprocessingHandles, an_offset_out_of_the_arena_or_misaligned_is_refused) {
  mp::raw_array<char> big(1 << 20);  // an arena of its own: not mapped by any other handle's key
  mp::shared_handle h = big.corio_handle();
  h.kind = "raw_value<long>";
  h.offset = (1 << 20) - 4;
  EXPECT_THROW(mp::raw_value<long>::from_handle(h), std::invalid_argument);
  h.offset = ~std::uint64_t{0} - 2;
  EXPECT_THROW(mp::raw_value<long>::from_handle(h), std::invalid_argument);
  h.offset = 3;
  EXPECT_THROW(mp::raw_value<long>::from_handle(h), std::invalid_argument);
  h = big.corio_handle();
  h.length = (1 << 20) + 1;
  EXPECT_THROW(mp::raw_array<char>::from_handle(h), std::invalid_argument);
  h.length = ~std::uint64_t{0};
  EXPECT_THROW(mp::raw_array<std::uint64_t>::from_handle(h), std::invalid_argument);
}

TEST(MultiprocessingHandles, a_handle_of_an_object_its_process_dropped_raises_file_not_found) {
  mp::shared_handle h;
  {
    mp::raw_array<int> big(1 << 20);  // an arena of its own, gone with it
    h = big.corio_handle();
  }
  try {
    mp::raw_array<int>::from_handle(h);
    ADD_FAILURE() << "no error";
  } catch (const corio::file_not_found_error& e) {
    EXPECT_NE(std::string(e.what()).find("has exited or dropped it"), std::string::npos) << e.what();
  } catch (const std::invalid_argument& e) {
    // The fd number was taken by another file meanwhile: refused as such.
    EXPECT_NE(std::string(e.what()).find("raw_array"), std::string::npos) << e.what();
  }
}

TEST(MultiprocessingHandles, a_forked_child_allocates_from_arenas_of_its_own) {
  CORIO_SKIP_FORK_UNDER_TSAN();
  // Before the fork the parent carves an arena; afterwards both carve: if the
  // child carved the parent's arena too, the two would hand out the same
  // memory.
  mp::raw_value<int> before(1);
  children kids;
  corio_test::signal_pipe made, parent_made;
  std::vector<mp::raw_value<int>> mine;
  const pid_t c = kids.start([&] {
    std::vector<mp::raw_value<int>> theirs;
    for (int i = 0; i < 3000; ++i) theirs.emplace_back(-i);  // more than one arena
    made.post();
    if (!parent_made.take()) return kWrong;  // the parent has made its own
    for (int i = 0; i < 3000; ++i)
      if (theirs[static_cast<std::size_t>(i)].get() != -i) return kWrong;
    return before.get() == 1 ? kOk : kWrong;
  });
  ASSERT_TRUE(made.take());
  for (int i = 0; i < 3000; ++i) mine.emplace_back(i + 1);
  parent_made.post();
  EXPECT_EQ(kids.wait(c), kOk);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(mine[static_cast<std::size_t>(i)].get(), i + 1);
}

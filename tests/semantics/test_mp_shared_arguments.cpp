// Shared objects as process arguments, with every start method: with fork
// the child's copy maps the same memory; with spawn and forkserver the
// object crosses as its handle (the segment's fd passed along), and the
// child attaches with from_handle(). The rules: MP-23 (such objects reach a
// child by inheritance), MP-31 and MP-32 (a child's writes are the
// parent's), MP-36 (a lock between processes), MP-34 (shared_memory by
// name).
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/shared_memory.hpp>
#include <corio/multiprocessing/sharedctypes.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;
constexpr const char* kMethods[] = {"fork", "spawn", "forkserver"};

void add(mp::value<int> v, int times) {
  for (int i = 0; i < times; ++i) {
    auto g = v.get_lock().scoped();
    v.set(v.get() + 1);
  }
}

void squares(mp::array<double> a) {
  for (std::size_t i = 0; i < a.size(); ++i) a.set(i, double(i * i));
}

// Takes the lock, says so, holds it until told to let go.
void hold(mp::lock lk, mp::event held, mp::event let_go) {
  lk.acquire();
  held.set();
  const bool told = let_go.wait(kBound);
  lk.release();
  if (!told) std::_Exit(3);
}

// 1 if the event was set within the bound, 2 if not.
void wait_for(mp::event e, mp::raw_value<int> result) { result.set(e.wait(kBound) ? 1 : 2); }

void write_42(mp::shared_memory shm) { shm.buf()[0] = std::byte{42}; }

void sum_to_pipe(mp::connection c, mp::array<std::int32_t> a) {
  std::int64_t s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a.get(i);
  c.send(s);
}

// How many fds of this process open corio's shared memory arenas.
int arena_fds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string().starts_with("/memfd:corio-shared")) ++n;
  }
  return n;
}

// Sends how many arena fds it holds with `v` and `w` (one arena) attached.
void count_arena_fds(mp::connection c, mp::value<int> v, mp::value<int> w) {
  c.send(std::pair<int, int>(arena_fds(), v.get() + w.get()));
}

// Receives a value in a message, adds 41 to it, answers 0.
void add_41_from_message(mp::connection c) {
  auto got = c.recv<mp::value<int>>();
  got.set(got.get() + 41);
  c.send(0);
}

}  // namespace

TEST_F(mp_test, MP_31_a_value_a_child_changes_is_changed_for_the_parent_with_every_start_method) {
  for (const char* method : kMethods) {
    mp::value<int> v(5);
    mp::process a(add, v, 500), b(add, v, 500);
    mp::get_context(method).start(a);
    mp::get_context(method).start(b);
    a.join(kBound);
    b.join(kBound);
    EXPECT_EQ(a.exitcode(), 0) << method;
    EXPECT_EQ(b.exitcode(), 0) << method;
    EXPECT_EQ(v.get(), 1005) << method;  // two children under the value's lock
  }
}

TEST_F(mp_test, MP_32_an_array_a_child_fills_is_filled_for_the_parent_with_every_start_method) {
  for (const char* method : kMethods) {
    mp::array<double> a(6);
    mp::process p(squares, a);
    mp::get_context(method).start(p);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
    EXPECT_EQ(a.to_vector(), (std::vector<double>{0, 1, 4, 9, 16, 25})) << method;
  }
}

TEST_F(mp_test, MP_36_a_lock_a_child_holds_is_held_for_the_parent_until_the_child_releases_it) {
  for (const char* method : kMethods) {
    mp::lock lk;
    mp::event held, let_go;
    mp::process p(hold, lk, held, let_go);
    mp::get_context(method).start(p);
    ASSERT_TRUE(held.wait(kBound)) << method;
    EXPECT_FALSE(lk.acquire(false)) << method;
    let_go.set();
    EXPECT_TRUE(lk.acquire(kBound)) << method;
    lk.release();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
  }
}

TEST_F(mp_test, an_event_the_parent_sets_wakes_a_child_waiting_on_it_with_every_start_method) {
  for (const char* method : kMethods) {
    mp::event e;
    mp::raw_value<int> result(0);
    mp::process p(wait_for, e, result);
    mp::get_context(method).start(p);
    e.set();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
    EXPECT_EQ(result.get(), 1) << method;
  }
}

TEST_F(mp_test, MP_34_a_shared_memory_segment_crosses_by_name_with_every_start_method) {
  for (const char* method : kMethods) {
    mp::shared_memory shm(std::nullopt, true, 64, false);
    mp::process p(write_42, mp::shared_memory(shm.name()));  // a second view, given to the child
    mp::get_context(method).start(p);
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
    EXPECT_EQ(shm.buf()[0], std::byte{42}) << method;
    shm.unlink();
  }
}

TEST_F(mp_test, a_shared_array_the_parent_drops_right_after_start_still_reaches_a_spawned_child) {
  for (const char* method : {"spawn", "forkserver"}) {
    auto [r, w] = mp::pipe();
    // Large enough for an arena of its own, which the parent gives back
    // when its last handle goes: the child must not need it.
    auto p = std::make_unique<mp::process>(sum_to_pipe, std::move(w),
                                           mp::array<std::int32_t>(std::vector<std::int32_t>(100000, 1)));
    mp::get_context(method).start(*p);  // the parent's last handle goes with the target
    EXPECT_EQ(r.recv<std::int64_t>(), 100000) << method;
    p->join(kBound);
    EXPECT_EQ(p->exitcode(), 0) << method;
  }
}

TEST_F(mp_test, a_spawned_child_keeps_one_fd_per_arena_it_attached_not_the_ones_it_was_given) {
  for (const char* method : {"spawn", "forkserver"}) {
    auto [r, w] = mp::pipe();
    mp::value<int> a(1), b(2);  // one arena: the child is given its fd twice
    mp::process p(count_arena_fds, std::move(w), a, b);
    mp::get_context(method).start(p);
    const auto [fds, sum] = r.recv<std::pair<int, int>>();
    EXPECT_EQ(fds, 1) << method;  // the arena's own, opened when attaching
    EXPECT_EQ(sum, 3) << method;
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
  }
}

TEST_F(mp_test, a_shared_value_sent_in_a_message_is_the_same_value_while_the_sender_keeps_it) {
  mp::value<int> v(1);
  auto [a, b] = mp::pipe();
  mp::process p(add_41_from_message, std::move(b));
  mp::get_context("spawn").start(p);
  a.send(v);
  EXPECT_EQ(a.recv<int>(), 0);
  EXPECT_EQ(v.get(), 42);
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), 0);
}

CORIO_MP_TEST_MAIN()

// docs/semantics.md section 15, the pool (MP-40 .. MP-48), on real worker
// processes of every start method, and the faults a pool must survive: a
// worker killed mid-task, a target that throws, values that fail to decode,
// a parent killed, a fork from a program with a running loop and a thread
// pool. Each test reaps what it started (mp_test); tasks that must be
// running when something happens to them say so through a pipe; every
// wait is bounded.
//
// Departures (docs/python-mapping.md): MP-43 (a raising callback is
// reported and the pool goes on), MP-45 (terminate() fails unfinished work
// instead of leaving it never ready), MP-47 (a raising initializer breaks
// the pool), MP-48 (a lost task fails with worker_lost_error).
#include "multiprocessing_util.hpp"

#include <corio/futures/thread_pool_executor.hpp>
#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <list>
#include <ranges>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;  // no wait in these tests should come near it
const char* const kMethods[] = {"fork", "spawn", "forkserver"};

int square(int x) { return x * x; }
long add(long a, long b) { return a + b; }
std::string greet(std::string who, int n) { return "hello " + who + " " + std::to_string(n); }
int pid_after(int) { return static_cast<int>(::getpid()); }
void nothing() {}
int fail_on(int x) {
  if (x == 7) throw std::invalid_argument("seven is not allowed");
  return x;
}
int raise_runtime(int) { throw std::runtime_error("boom in the worker"); }
int die_now(int sig) {
  ::raise(sig);
  return 0;
}

// Returns 1 at once for an empty path; else blocks until the test writes a
// byte into the FIFO at `path`, and returns 300.
int block_or_one(std::string path) {
  if (path.empty()) return 1;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const int pid = 0;
  (void)!::write(fd, &pid, sizeof pid);  // "started": the reader side ignores it
  ::close(fd);
  const int rd = ::open((path + ".go").c_str(), O_RDONLY | O_CLOEXEC);
  char c = 0;
  (void)!::read(rd, &c, 1);
  ::close(rd);
  return 300;
}

int start_a_process() {
  mp::process p(nothing);
  p.start();
  p.join();
  return 0;
}
int g_initialized = 0;
void init_global(int v) { g_initialized = v; }
int read_global() { return g_initialized; }
void init_raises() { throw std::runtime_error("initializer failed"); }
int sleep_then(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(x));
  return x;
}
std::vector<std::string> split_words(std::string s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

// A pool of `n` workers of `method`.
mp::pool make_pool(const char* method, int n = 2, mp::pool_initializer init = {}, std::optional<int> maxtasks = {}) {
  return mp::pool(n, std::move(init), maxtasks, mp::get_context(method));
}

bool pid_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

// -- MP-40 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_40_pool_starts_its_workers_as_daemonic_processes_in_the_constructor) {
  for (const char* method : kMethods) {
    mp::pool p(3, {}, {}, mp::get_context(method));
    EXPECT_EQ(p.processes(), 3) << method;
    EXPECT_EQ(p.start_method(), method);
    const auto pids = p.worker_pids();
    ASSERT_EQ(pids.size(), 3u) << method;
    const auto children = mp::active_children();
    EXPECT_EQ(children.size(), 3u) << method;
    for (const auto& c : children) EXPECT_TRUE(c.daemon()) << method;
    std::set<int> seen;
    for (int pid : p.map(pid_after, std::vector<int>(30, 0), 1)) seen.insert(pid);
    for (int pid : seen) EXPECT_NE(std::find(pids.begin(), pids.end(), pid), pids.end()) << method;
  }
}

TEST_F(mp_test, MP_40_processes_below_one_and_maxtasksperchild_below_one_are_value_errors) {
  EXPECT_THROW(mp::pool(0), std::invalid_argument);
  EXPECT_THROW(mp::pool(-1), std::invalid_argument);
  EXPECT_THROW(mp::pool(1, {}, 0), std::invalid_argument);
  EXPECT_THROW(mp::pool(1, {}, -3), std::invalid_argument);
}

TEST_F(mp_test, MP_40_processes_defaults_to_the_cpu_count) {
  mp::pool p;
  EXPECT_EQ(p.processes(), mp::cpu_count());
}

TEST_F(mp_test, MP_40_a_task_cannot_start_a_process_because_workers_are_daemonic) {
  mp::pool p(1);
  try {
    p.apply(start_a_process);
    FAIL() << "a daemonic worker started a process";
  } catch (const mp::process_error& e) {
    EXPECT_NE(std::string(e.what()).find("daemonic"), std::string::npos) << e.what();
  }
}

// -- MP-41 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_41_apply_map_and_starmap_return_results_in_input_order) {
  for (const char* method : kMethods) {
    auto p = make_pool(method);
    EXPECT_EQ(p.apply(square, 7), 49) << method;
    EXPECT_EQ(p.apply(greet, std::string("pool"), 3), "hello pool 3") << method;
    std::vector<int> xs(100);
    std::iota(xs.begin(), xs.end(), 0);
    std::vector<int> want;
    for (int x : xs) want.push_back(x * x);
    EXPECT_EQ(p.map(square, xs), want) << method;
    EXPECT_EQ(p.map(square, xs, 1), want) << method;
    EXPECT_EQ(p.map(square, xs, 33), want) << method;
    std::vector<std::tuple<long, long>> pairs;
    for (long i = 0; i < 10; ++i) pairs.emplace_back(i, 10 * i);
    std::vector<long> sums;
    for (long i = 0; i < 10; ++i) sums.push_back(11 * i);
    EXPECT_EQ(p.starmap(add, pairs), sums) << method;
    const std::vector<std::vector<std::string>> words = p.map(split_words, std::vector<std::string>{"a b", "c"});
    EXPECT_EQ(words, (std::vector<std::vector<std::string>>{{"a", "b"}, {"c"}})) << method;
  }
}

TEST_F(mp_test, MP_41_map_takes_an_input_without_a_size_and_cuts_it_into_chunks) {
  auto p = make_pool("fork");
  std::list<int> xs{1, 2, 3, 4, 5};
  EXPECT_EQ(p.map(square, xs), (std::vector<int>{1, 4, 9, 16, 25}));
  auto view = std::views::iota(0, 10) | std::views::transform([](int x) { return x + 1; });
  EXPECT_EQ(p.map(square, view, 3).size(), 10u);
}

TEST_F(mp_test, MP_41_imap_yields_in_input_order_and_imap_unordered_in_completion_order) {
  auto p = make_pool("fork");
  std::vector<int> xs(20);
  std::iota(xs.begin(), xs.end(), 0);
  std::vector<int> got;
  for (int r : p.imap(square, xs)) got.push_back(r);
  std::vector<int> want;
  for (int x : xs) want.push_back(x * x);
  EXPECT_EQ(got, want);
  got.clear();
  for (int r : p.imap(square, xs, 3)) got.push_back(r);
  EXPECT_EQ(got, want);
  std::multiset<int> unordered;
  for (int r : p.imap_unordered(square, xs, 2)) unordered.insert(r);
  EXPECT_EQ(unordered, std::multiset<int>(want.begin(), want.end()));
  // The first task blocks until released: results of later ones come first.
  corio_test::report_fifo f;
  auto it = p.imap_unordered(block_or_one, std::vector<std::string>{f.path(), "", "", "", "", ""});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(it.next(kBound), 1) << i;
  f.release();
  std::multiset<int> rest;
  while (auto v = it.next(kBound)) rest.insert(*v);
  EXPECT_EQ(rest, (std::multiset<int>{1, 1, 300}));
  EXPECT_THROW(p.imap(square, xs, 0), std::invalid_argument);
  EXPECT_THROW(p.map(square, xs, 0), std::invalid_argument);
}

TEST_F(mp_test, MP_41_an_empty_input_gives_an_empty_result_at_once) {
  auto p = make_pool("fork");
  EXPECT_TRUE(p.map(square, std::vector<int>{}).empty());
  auto r = p.map_async(square, std::vector<int>{});
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.get().empty());
  EXPECT_FALSE(p.imap(square, std::vector<int>{}).next(0s).has_value());
}

TEST_F(mp_test, MP_41_default_chunksize_is_the_ceiling_of_len_over_four_times_processes) {
  // 2 workers, 9 items: chunks of ceil(9 / 8) = 2, so 5 chunks; each chunk
  // runs in one worker, which the pids show (items of one chunk share one).
  auto p = make_pool("fork", 2);
  const auto pids = p.map(pid_after, std::vector<int>(9, 0));
  ASSERT_EQ(pids.size(), 9u);
  for (std::size_t i = 0; i + 1 < pids.size(); i += 2) EXPECT_EQ(pids[i], pids[i + 1]) << i;
}

// -- MP-42 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_42_get_with_a_timeout_raises_multiprocessing_timeout_error_and_successful_needs_ready) {
  auto p = make_pool("fork", 1);
  corio_test::report_fifo f;
  auto hang = p.apply_async(corio_test::report_and_hang, f.path());
  ASSERT_GT(f.next_pid(), 0);
  EXPECT_THROW(hang.get(0.05s), mp::timeout_error);
  EXPECT_FALSE(hang.ready());
  EXPECT_THROW(hang.successful(), std::invalid_argument);
  hang.wait(0.01s);  // returns nothing, not ready
  EXPECT_FALSE(hang.ready());
  auto it = p.imap(square, std::vector<int>{1});
  EXPECT_THROW(it.next(0.05s), mp::timeout_error);
  p.terminate();
  EXPECT_THROW(hang.get(kBound), mp::pool_terminated_error);
  EXPECT_TRUE(hang.ready());
  EXPECT_FALSE(hang.successful());
}

TEST_F(mp_test, MP_42_ready_and_successful_once_done) {
  auto p = make_pool("spawn", 1);
  auto a = p.apply_async(square, 9);
  a.wait(kBound);
  EXPECT_TRUE(a.ready());
  EXPECT_TRUE(a.successful());
  EXPECT_EQ(a.get(), 81);
  auto v = p.apply_async(nothing);
  v.get(kBound);
  EXPECT_TRUE(v.successful());
}

// -- MP-43 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_43_callbacks_run_once_in_the_handler_thread_before_the_result_is_ready) {
  auto p = make_pool("fork");
  std::atomic<int> got{0};
  std::thread::id cb_thread;
  auto r = p.apply_async(mp::callbacks{[&](int& v) {
                           got = v;
                           cb_thread = std::this_thread::get_id();
                         }},
                         square, 5);
  EXPECT_EQ(r.get(kBound), 25);
  EXPECT_EQ(got.load(), 25);
  EXPECT_NE(cb_thread, std::this_thread::get_id());
  std::vector<int> whole;
  auto m = p.map_async(square, std::vector<int>{1, 2, 3}, std::nullopt,
                       mp::callbacks{[&](std::vector<int>& v) { whole = v; }});
  EXPECT_EQ(m.get(kBound), (std::vector<int>{1, 4, 9}));
  EXPECT_EQ(whole, (std::vector<int>{1, 4, 9}));
  std::string err;
  int calls = 0;
  auto e = p.map_async(fail_on, std::vector<int>{1, 7, 3, 7}, 1,
                       mp::callbacks{nullptr, [&](std::exception_ptr x) {
                                       ++calls;
                                       try {
                                         std::rethrow_exception(x);
                                       } catch (const std::exception& ex) {
                                         err = ex.what();
                                       }
                                     }});
  EXPECT_THROW(e.get(kBound), std::invalid_argument);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(err.find("seven"), std::string::npos);
}

TEST_F(mp_test, MP_43_a_callback_that_raises_is_reported_and_the_pool_goes_on) {
  auto p = make_pool("fork");
  corio_test::stderr_capture cap;
  auto r = p.apply_async(mp::callbacks{[](int&) { throw std::runtime_error("callback broke"); }}, square, 3);
  EXPECT_EQ(r.get(kBound), 9);
  EXPECT_EQ(p.apply(square, 4), 16);
  const std::string text = cap.text();
  EXPECT_NE(text.find("callback broke"), std::string::npos) << text;
  p.terminate();
}

// -- MP-44 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_44_a_workers_exception_is_raised_again_with_its_type_and_the_remote_traceback) {
  for (const char* method : kMethods) {
    auto p = make_pool(method);
    try {
      p.apply(raise_runtime, 1);
      FAIL() << method;
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom in the worker") << method;
      try {
        std::rethrow_if_nested(e);
        ADD_FAILURE() << "no remote traceback " << method;
      } catch (const mp::remote_traceback& tb) {
        EXPECT_NE(std::string(tb.what()).size(), 0u);
      }
    }
    EXPECT_EQ(p.apply(square, 3), 9) << method << ": the pool stays usable";
  }
}

TEST_F(mp_test, MP_44_map_waits_for_every_chunk_and_raises_the_first_failure) {
  auto p = make_pool("fork");
  std::vector<int> xs{1, 2, 7, 4, 5, 6, 7, 8};
  EXPECT_THROW(p.map(fail_on, xs, 1), std::invalid_argument);
  auto it = p.imap(fail_on, xs);
  std::vector<int> got;
  int errors = 0;
  for (;;) {
    try {
      auto v = it.next(kBound);
      if (!v) break;
      got.push_back(*v);
    } catch (const std::invalid_argument&) {
      ++errors;
    }
  }
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(got, (std::vector<int>{1, 2, 4, 5, 6, 8}));
}

TEST_F(mp_test, MP_44_a_callable_that_cannot_cross_with_spawn_raises_at_the_call) {
  auto p = make_pool("spawn", 1);
  const int k = 3;
  EXPECT_THROW(p.apply([k](int x) { return x + k; }, 1), std::invalid_argument);
  EXPECT_EQ(p.apply([](int x) { return x + 1; }, 1), 2);
}

TEST_F(mp_test, MP_44_with_fork_a_callable_capturing_values_crosses_as_its_bytes) {
  auto p = make_pool("fork", 1);
  const int k = 3;
  const double f = 0.5;
  EXPECT_EQ(p.apply([k, f](int x) { return x * k + f; }, 2), 6.5);
  EXPECT_EQ(p.map([k](int x) { return x + k; }, std::vector<int>{1, 2}), (std::vector<int>{4, 5}));
}

// -- MP-45 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_45_close_refuses_new_work_while_queued_work_completes_and_join_waits) {
  for (const char* method : kMethods) {
    auto p = make_pool(method);
    auto r = p.map_async(sleep_then, std::vector<int>{20, 20, 20, 20}, 1);
    EXPECT_THROW(p.join(), std::invalid_argument) << method;  // "Pool is still running"
    p.close();
    EXPECT_THROW(p.apply(square, 1), std::invalid_argument) << method;
    EXPECT_THROW(p.map(square, std::vector<int>{1}), std::invalid_argument) << method;
    EXPECT_THROW(p.imap(square, std::vector<int>{1}), std::invalid_argument) << method;
    p.join();
    EXPECT_TRUE(r.ready()) << method;
    EXPECT_EQ(r.get(), (std::vector<int>{20, 20, 20, 20})) << method;
    EXPECT_TRUE(p.worker_pids().empty()) << method;
    EXPECT_TRUE(mp::active_children().empty()) << method;
  }
}

TEST_F(mp_test, MP_45_terminate_stops_the_workers_at_once_and_the_destructor_terminates) {
  std::vector<pid_t> pids;
  mp::async_result<int> hang;
  {
    auto p = make_pool("fork", 1);
    pids = p.worker_pids();
    corio_test::report_fifo f;
    hang = p.apply_async(corio_test::report_and_hang, f.path());
    ASSERT_GT(f.next_pid(), 0);
    auto queued = p.apply_async(square, 2);
    p.terminate();
    EXPECT_THROW(queued.get(kBound), mp::pool_terminated_error);
    p.join();
  }
  EXPECT_THROW(hang.get(kBound), mp::pool_terminated_error);
  {
    auto p = make_pool("fork", 1);
    corio_test::report_fifo f;
    hang = p.apply_async(corio_test::report_and_hang, f.path());
    ASSERT_GT(f.next_pid(), 0);
  }  // as Python's `with` exit: terminate
  EXPECT_THROW(hang.get(kBound), mp::pool_terminated_error);
  EXPECT_TRUE(mp::active_children().empty());
}

// -- MP-46 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_46_maxtasksperchild_replaces_each_worker_after_its_tasks) {
  for (const char* method : {"fork", "spawn"}) {
    auto p = make_pool(method, 2, {}, 2);
    const auto pids = p.map(pid_after, std::vector<int>(12, 0), 1);
    std::map<int, int> per_pid;
    for (int pid : pids) ++per_pid[pid];
    EXPECT_GE(per_pid.size(), 6u) << method;
    for (auto [pid, n] : per_pid) EXPECT_LE(n, 2) << method;
    p.close();
    p.join();
  }
}

TEST_F(mp_test, MP_46_close_and_join_complete_every_task_with_maxtasksperchild) {
  auto p = make_pool("fork", 2, {}, 1);
  std::vector<mp::async_result<int>> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(p.apply_async(square, i));
  p.close();
  p.join();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rs[static_cast<std::size_t>(i)].get(0s), i * i);
}

// -- MP-47 -----------------------------------------------------------------------------

TEST_F(mp_test, MP_47_the_initializer_runs_once_in_each_worker_replacements_included) {
  for (const char* method : kMethods) {
    auto p = make_pool(method, 2, mp::pool_initializer(init_global, 42), 1);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(p.apply(read_global), 42) << method;
  }
}

TEST_F(mp_test, MP_47_an_initializer_that_raises_breaks_the_pool_instead_of_hanging) {
  for (const char* method : {"fork", "spawn"}) {
    auto p = make_pool(method, 2, mp::pool_initializer(init_raises));
    // Work submitted before the break fails with it; later work is refused.
    try {
      auto r = p.apply_async(square, 2);
      r.get(kBound);
      FAIL() << method;
    } catch (const mp::broken_pool_error& e) {
      EXPECT_NE(std::string(e.what()).find("initializer failed"), std::string::npos) << e.what();
    }
    EXPECT_THROW(p.apply(square, 2), mp::broken_pool_error) << method;
  }
}

// -- MP-48 and faults ------------------------------------------------------------------

TEST_F(mp_test, MP_48_a_worker_killed_mid_task_fails_that_task_naming_pid_and_signal_and_is_replaced) {
  for (const char* method : kMethods) {
    auto p = make_pool(method, 2);
    corio_test::report_fifo f;
    auto victim = p.apply_async(corio_test::report_and_hang, f.path());
    const int pid = f.next_pid();
    ASSERT_GT(pid, 0) << method;
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    try {
      victim.get(kBound);
      FAIL() << method;
    } catch (const mp::worker_lost_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::to_string(pid)), std::string::npos) << what;
      EXPECT_NE(what.find("signal 9"), std::string::npos) << what;
      EXPECT_NE(what.find("SIGKILL"), std::string::npos) << what;
    }
    std::vector<int> xs(20, 3);
    EXPECT_EQ(p.map(square, xs, 1), std::vector<int>(20, 9)) << method;
    EXPECT_EQ(p.worker_pids().size(), 2u);
    p.close();
    p.join();  // the lost task does not keep join waiting
  }
}

TEST_F(mp_test, MP_48_a_worker_that_aborts_or_crashes_fails_its_task_and_the_pool_goes_on) {
  auto p = make_pool("fork", 2);
  try {
    p.apply(die_now, SIGABRT);
    FAIL();
  } catch (const mp::worker_lost_error& e) {
    EXPECT_NE(std::string(e.what()).find("SIGABRT"), std::string::npos) << e.what();
  }
  try {
    p.map(die_now, std::vector<int>{0, SIGILL, 0}, 1);
    FAIL();
  } catch (const mp::worker_lost_error& e) {
    EXPECT_NE(std::string(e.what()).find("SIGILL"), std::string::npos) << e.what();
  }
  EXPECT_EQ(p.apply(square, 6), 36);
}

// A value whose decoding always fails, on either side.
struct refuses_to_decode {
  int v = 0;
};

namespace corio::multiprocessing {
template <>
struct codec<refuses_to_decode> {
  static void encode(packer& p, const refuses_to_decode& v) { p.pack_int64(v.v); }
  static refuses_to_decode decode(const object&) { throw codec_error("refuses_to_decode: refused"); }
};
}  // namespace corio::multiprocessing

namespace {
int take_refusing(refuses_to_decode) { return 1; }
refuses_to_decode give_refusing(int v) { return refuses_to_decode{v}; }
}  // namespace

TEST_F(mp_test, faults_an_argument_or_result_that_fails_to_decode_is_a_clear_error_and_the_pool_stays_usable) {
  for (const char* method : {"fork", "spawn"}) {
    auto p = make_pool(method, 1);
    try {
      p.apply(take_refusing, refuses_to_decode{1});
      FAIL() << method;
    } catch (const mp::codec_error& e) {
      EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    }
    try {
      p.apply(give_refusing, 2);
      FAIL() << method;
    } catch (const mp::codec_error& e) {
      EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
    }
    EXPECT_EQ(p.apply(square, 5), 25) << method;
  }
}

namespace {
// A pool in a forked child, which reports its workers' pids and waits to
// be killed.
void pool_owner(mp::connection c) {
  mp::pool p(2, {}, {}, mp::get_context("fork"));
  (void)p.map(square, std::vector<int>{1, 2, 3});
  std::vector<int> pids;
  for (pid_t pid : p.worker_pids()) pids.push_back(pid);
  c.send(pids);
  for (;;) ::pause();
}
}  // namespace

TEST_F(mp_test, faults_when_the_parent_is_killed_its_pool_workers_exit) {
  auto [r, w] = mp::pipe();
  mp::process owner(pool_owner, std::move(w));
  mp::get_context("fork").start(owner);
  ASSERT_TRUE(r.poll(kBound));
  const auto pids = r.recv<std::vector<int>>();
  ASSERT_EQ(pids.size(), 2u);
  owner.kill();
  owner.join(kBound);
  // The workers become our children (we are their subreaper): they must
  // end by themselves.
  for (int pid : pids) {
    bool gone = false;
    for (int i = 0; i < 6000 && !gone; ++i) {
      int status = 0;
      const pid_t got = ::waitpid(pid, &status, WNOHANG);
      gone = got == pid || (got < 0 && errno == ECHILD && !pid_exists(pid));
      if (!gone) std::this_thread::sleep_for(10ms);
    }
    EXPECT_TRUE(gone) << "worker " << pid << " outlived its parent";
  }
}

TEST_F(mp_test, faults_a_fork_pool_works_from_a_program_with_a_running_loop_and_a_thread_pool) {
  corio::futures::thread_pool_executor threads(2);
  auto warm = threads.submit([] { return 1; });
  EXPECT_EQ(warm.result(), 1);
  const std::vector<int> got = corio::run([&]() -> corio::task<std::vector<int>> {
    auto side = threads.submit([] { return 2; });
    mp::pool p(2, {}, {}, mp::get_context("fork"));
    auto r = p.map(square, std::vector<int>{1, 2, 3, 4});
    r.push_back(side.result());
    co_return r;
  }());
  EXPECT_EQ(got, (std::vector<int>{1, 4, 9, 16, 2}));
  threads.shutdown();
}

CORIO_MP_TEST_MAIN()

// Unit tests for <corio/threading/thread.hpp>: thread (threading.Thread) and
// the module functions current_thread, main_thread, enumerate, active_count,
// get_ident, get_native_id, excepthook.
#include <corio/threading/thread.hpp>

#include <corio/exceptions.hpp>
#include <corio/threading/event.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "threading_util.hpp"
#include "unit/watchdog.hpp"

using namespace std::chrono_literals;
using corio::threading::current_thread;
using corio::threading::event;
using corio::threading::thread;
using corio::threading::thread_handle;
using corio::threading::thread_options;
using corio_test::eventually;
using corio_test::on_time;
using corio_test::steady;
using corio_test::this_thread_name;
using corio_test::what_of;

namespace {

bool listed(const thread_handle& h) {
  const auto all = corio::threading::enumerate();
  return std::find(all.begin(), all.end(), h) != all.end();
}

// Installs a hook for the scope of a test and restores the previous one.
struct hook_scope {
  explicit hook_scope(corio::threading::excepthook_fn fn) : prev(corio::threading::set_excepthook(std::move(fn))) {}
  ~hook_scope() { corio::threading::set_excepthook(std::move(prev)); }
  corio::threading::excepthook_fn prev;
};

}  // namespace

TEST(ThreadingThread, runs_the_target_with_its_arguments_on_a_new_thread) {
  corio_test::watchdog guard(30s, "target");
  int sum = 0;
  std::thread::id ran_on;
  thread t([&](int a, int b) {
    sum = a + b;
    ran_on = std::this_thread::get_id();
  }, 2, 40);
  EXPECT_EQ(sum, 0);  // nothing before start()
  t.start();
  t.join();
  EXPECT_EQ(sum, 42);
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(ThreadingThread, arguments_are_copied_or_moved_in_and_std_ref_passes_a_reference) {
  corio_test::watchdog guard(30s, "arguments");
  auto owned = std::make_unique<int>(5);
  int out = 0;
  std::string text = "abc";
  thread t([](std::unique_ptr<int> p, int& o, std::string s) { o = *p + static_cast<int>(s.size()); },
           std::move(owned), std::ref(out), text);
  text = "changed";  // the thread has its own copy
  t.start();
  t.join();
  EXPECT_EQ(out, 8);
}

TEST(ThreadingThread, the_target_and_its_arguments_are_dropped_after_the_run) {
  corio_test::watchdog guard(30s, "drop target");
  auto token = std::make_shared<int>(1);
  std::weak_ptr<int> watch = token;
  thread t([token] { (void)token; });
  token.reset();
  EXPECT_FALSE(watch.expired());  // held by the thread object until run
  t.start();
  t.join();
  EXPECT_TRUE(watch.expired());
}

TEST(ThreadingThread, default_names_count_and_given_names_are_kept) {
  thread a([] {});
  thread b([] {});
  ASSERT_EQ(a.name().rfind("Thread-", 0), 0u) << a.name();
  const int na = std::stoi(a.name().substr(7));
  const int nb = std::stoi(b.name().substr(7));
  EXPECT_GT(nb, na);
  EXPECT_GE(na, 1);
  thread c(thread_options{"worker", std::nullopt}, [] {});
  EXPECT_EQ(c.name(), "worker");
  c.set_name("renamed");
  EXPECT_EQ(c.name(), "renamed");
}

TEST(ThreadingThread, the_os_thread_name_follows_the_name_cut_to_15_bytes) {
  corio_test::watchdog guard(30s, "os name");
  std::string seen, seen_after_rename;
  event renamed, checked;
  thread t(thread_options{"a-rather-long-thread-name", std::nullopt}, [&] {
    seen = this_thread_name();
    checked.set();
    renamed.wait();
    seen_after_rename = this_thread_name();
  });
  t.start();
  ASSERT_TRUE(checked.wait(10s));
  t.set_name("short");  // from another thread, while it runs
  renamed.set();
  t.join();
  EXPECT_EQ(seen, "a-rather-long-t");
  EXPECT_EQ(seen_after_rename, "short");
  // Cutting never splits a UTF-8 character.
  thread u(thread_options{"abcdefghijklmn\xC3\xA9xyz", std::nullopt}, [&] { seen = this_thread_name(); });
  u.start();
  u.join();
  EXPECT_EQ(seen, "abcdefghijklmn");
}

TEST(ThreadingThread, start_twice_throws) {
  thread t([] {});
  t.start();
  EXPECT_EQ(what_of<std::runtime_error>([&] { t.start(); }), "threads can only be started once");
  t.join();
  EXPECT_THROW(t.start(), std::runtime_error);
}

TEST(ThreadingThread, join_before_start_or_of_itself_throws) {
  corio_test::watchdog guard(30s, "join errors");
  thread never([] {});
  EXPECT_THROW(never.join(), std::runtime_error);
  EXPECT_THROW(never.join(1ms), std::runtime_error);
  thread* self = nullptr;
  std::string error;
  event go;
  thread t([&] {
    go.wait();
    try {
      self->join();
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  });
  self = &t;
  t.start();
  go.set();
  t.join();
  EXPECT_EQ(error, "cannot join current thread");
}

TEST(ThreadingThread, timed_join_returns_false_while_it_runs_and_true_once_it_ended) {
  corio_test::watchdog guard(30s, "timed join");
  event release;
  thread t([&] { release.wait(); });
  t.start();
  const auto t0 = steady::now();
  EXPECT_FALSE(t.join(50ms));
  const auto took = steady::now() - t0;
  EXPECT_TRUE(on_time(took, 50ms));
  EXPECT_TRUE(t.is_alive());
  EXPECT_THROW(t.join(-1ms), std::invalid_argument);
  release.set();
  EXPECT_TRUE(t.join(10s));
  EXPECT_FALSE(t.is_alive());
  EXPECT_TRUE(t.join(0s));
  t.join();  // again: harmless
}

TEST(ThreadingThread, is_alive_ident_and_native_id_across_the_lifecycle) {
  corio_test::watchdog guard(30s, "lifecycle");
  event release;
  std::uint64_t inner_ident = 0, inner_native = 0;
  thread t([&] {
    inner_ident = corio::threading::get_ident();
    inner_native = corio::threading::get_native_id();
    release.wait();
  });
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(t.ident(), std::nullopt);
  EXPECT_EQ(t.native_id(), std::nullopt);
  t.start();
  EXPECT_TRUE(t.is_alive());  // start() returns once it runs
  ASSERT_TRUE(t.ident().has_value());
  ASSERT_TRUE(t.native_id().has_value());
  EXPECT_NE(*t.ident(), corio::threading::get_ident());
  EXPECT_NE(*t.native_id(), corio::threading::get_native_id());
  EXPECT_TRUE(listed(t.handle()));
  release.set();
  t.join();
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(t.ident(), inner_ident);  // kept after the end, as in Python
  EXPECT_EQ(t.native_id(), inner_native);
  EXPECT_FALSE(listed(t.handle()));
}

namespace {

// Subclass style (Python: class Worker(threading.Thread): def run(self): ...).
class counter_thread : public thread {
 public:
  explicit counter_thread(int n) : thread(thread_options{"counter", std::nullopt}), n_(n) {}
  ~counter_thread() override { settle(); }
  void run() override {
    for (int i = 0; i < n_; ++i) total_ += i;
  }
  int total() const { return total_; }

 private:
  int n_;
  int total_ = 0;
};

}  // namespace

TEST(ThreadingThread, a_subclass_overrides_run) {
  corio_test::watchdog guard(30s, "subclass");
  counter_thread t(5);
  t.start();
  t.join();
  EXPECT_EQ(t.total(), 10);
  EXPECT_EQ(t.name(), "counter");
  {
    counter_thread destroyed_running(1000);
    destroyed_running.start();
  }  // settle() in its destructor waits before members go
}

TEST(ThreadingThread, a_thread_without_target_runs_nothing) {
  thread t;
  t.start();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

TEST(ThreadingThread, daemon_defaults_to_the_creating_thread_and_is_fixed_at_start) {
  corio_test::watchdog guard(30s, "daemon flag");
  // The test runs on the main thread, which is not a daemon.
  thread plain([] {});
  EXPECT_FALSE(plain.daemon());
  thread d(thread_options{"", true}, [] {});
  EXPECT_TRUE(d.daemon());
  plain.set_daemon(true);
  EXPECT_TRUE(plain.daemon());
  plain.set_daemon(false);
  std::optional<bool> child_daemon;
  thread parent(thread_options{"", true}, [&] {
    thread child([] {});
    child_daemon = child.daemon();
  });
  parent.start();
  parent.join();
  EXPECT_EQ(child_daemon, true);
  plain.start();
  EXPECT_EQ(what_of<std::runtime_error>([&] { plain.set_daemon(true); }), "cannot set daemon status of active thread");
  plain.join();
  // Threads corio did not start are daemons, as Python's dummy threads are,
  // and so are the threads they create by default.
  std::optional<bool> from_foreign;
  std::thread([&] { from_foreign = thread([] {}).daemon(); }).join();
  EXPECT_EQ(from_foreign, true);
}

TEST(ThreadingThread, destroying_a_non_daemon_thread_joins_it) {
  corio_test::watchdog guard(30s, "destroy joins");
  std::atomic<bool> done{false};
  {
    thread t([&] {
      std::this_thread::sleep_for(20ms);
      done = true;
    });
    t.start();
  }
  EXPECT_TRUE(done.load());
}

TEST(ThreadingThread, destroying_a_daemon_thread_detaches_it_and_it_runs_on) {
  corio_test::watchdog guard(30s, "destroy detaches");
  auto release = std::make_shared<event>();
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::optional<thread_handle> h;
  {
    thread t(thread_options{"", true}, [release, done] {
      release->wait();
      *done = true;
    });
    t.start();
    h = t.handle();
  }  // does not wait for the release
  EXPECT_TRUE(h->is_alive());
  EXPECT_FALSE(done->load());
  release->set();
  EXPECT_TRUE(eventually([&] { return !h->is_alive(); }));
  EXPECT_TRUE(done->load());
  EXPECT_FALSE(listed(*h));
}

TEST(ThreadingThread, an_unstarted_thread_is_destroyed_quietly) {
  thread t([] { FAIL() << "never started"; });
  thread d(thread_options{"", true}, [] {});
}

TEST(ThreadingThread, current_thread_inside_a_thread_is_its_handle) {
  corio_test::watchdog guard(30s, "current_thread");
  std::optional<thread_handle> inside;
  std::string inner_name;
  thread t(thread_options{"me", std::nullopt}, [&] {
    inside = current_thread();
    inner_name = current_thread().name();
  });
  t.start();
  t.join();
  ASSERT_TRUE(inside.has_value());
  EXPECT_TRUE(*inside == t.handle());
  EXPECT_EQ(inner_name, "me");
  EXPECT_EQ(inside->ident(), t.ident());
  EXPECT_FALSE(inside->is_alive());
}

TEST(ThreadingThread, main_thread_is_the_current_thread_of_main) {
  const thread_handle m = corio::threading::main_thread();
  EXPECT_TRUE(current_thread() == m);
  EXPECT_EQ(m.name(), "MainThread");
  EXPECT_FALSE(m.daemon());
  EXPECT_TRUE(m.is_alive());
  EXPECT_EQ(m.ident(), corio::threading::get_ident());
  EXPECT_EQ(m.native_id(), corio::threading::get_native_id());
  EXPECT_TRUE(listed(m));
  std::optional<thread_handle> seen_from_other;
  std::thread([&] { seen_from_other = corio::threading::main_thread(); }).join();
  EXPECT_TRUE(*seen_from_other == m);
}

TEST(ThreadingThread, a_foreign_thread_gets_a_dummy_entry_until_it_exits) {
  corio_test::watchdog guard(30s, "dummy");
  std::optional<thread_handle> dummy;
  bool listed_inside = false, same_again = false;
  std::size_t count_inside = 0, enumerate_inside = 0;
  std::thread foreign([&] {
    dummy = current_thread();
    same_again = current_thread() == *dummy;
    listed_inside = listed(*dummy);
    count_inside = corio::threading::active_count();
    enumerate_inside = corio::threading::enumerate().size();
  });
  foreign.join();
  ASSERT_TRUE(dummy.has_value());
  EXPECT_EQ(dummy->name().rfind("Dummy-", 0), 0u) << dummy->name();
  EXPECT_TRUE(dummy->daemon());
  EXPECT_TRUE(same_again);
  EXPECT_TRUE(listed_inside);
  EXPECT_EQ(count_inside, enumerate_inside);
  EXPECT_FALSE(dummy->is_alive());  // gone with its thread
  EXPECT_FALSE(listed(*dummy));
}

TEST(ThreadingThread, enumerate_and_active_count_list_the_live_threads) {
  corio_test::watchdog guard(30s, "enumerate");
  const std::size_t before = corio::threading::active_count();
  event release;
  thread a([&] { release.wait(); });
  thread b([&] { release.wait(); });
  a.start();
  b.start();
  EXPECT_EQ(corio::threading::active_count(), before + 2);
  EXPECT_EQ(corio::threading::enumerate().size(), corio::threading::active_count());
  EXPECT_TRUE(listed(a.handle()));
  EXPECT_TRUE(listed(b.handle()));
  release.set();
  a.join();
  b.join();
  EXPECT_EQ(corio::threading::active_count(), before);
}

TEST(ThreadingThread, an_escaping_exception_goes_to_the_excepthook_and_the_process_goes_on) {
  corio_test::watchdog guard(30s, "excepthook");
  std::mutex mu;
  std::string name, what;
  hook_scope hs([&](const corio::threading::excepthook_args& args) {
    std::lock_guard g(mu);
    name = args.thread.name();
    try {
      std::rethrow_exception(args.exc);
    } catch (const std::exception& e) {
      what = e.what();
    }
  });
  thread t(thread_options{"failing", std::nullopt}, [] { throw std::domain_error("boom"); });
  t.start();
  t.join();
  std::lock_guard g(mu);
  EXPECT_EQ(name, "failing");
  EXPECT_EQ(what, "boom");
}

TEST(ThreadingThread, the_default_excepthook_prints_the_thread_and_the_exception) {
  corio_test::watchdog guard(30s, "default excepthook");
  hook_scope hs({});  // the default
  testing::internal::CaptureStderr();
  thread t(thread_options{"noisy", std::nullopt}, [] { throw std::domain_error("boom"); });
  t.start();
  t.join();
  thread quiet([] { throw corio::system_exit(3); });  // ignored, as SystemExit is
  quiet.start();
  quiet.join();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Exception in thread noisy:"), std::string::npos) << err;
  EXPECT_NE(err.find("std::domain_error: boom"), std::string::npos) << err;
  EXPECT_EQ(err.find("system exit"), std::string::npos) << err;
}

TEST(ThreadingThread, an_exception_from_the_hook_itself_is_printed) {
  corio_test::watchdog guard(30s, "failing excepthook");
  hook_scope hs([](const corio::threading::excepthook_args&) { throw std::runtime_error("hook broke"); });
  testing::internal::CaptureStderr();
  thread t([] { throw 42; });  // not even a std::exception
  t.start();
  t.join();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("Exception in threading.excepthook:"), std::string::npos) << err;
  EXPECT_NE(err.find("hook broke"), std::string::npos) << err;
}

TEST(ThreadingThread, set_excepthook_returns_the_previous_hook) {
  int calls = 0;
  auto prev = corio::threading::set_excepthook([&](const corio::threading::excepthook_args&) { ++calls; });
  EXPECT_FALSE(prev);  // the default is "no hook set"
  corio::threading::excepthook({std::make_exception_ptr(1), current_thread()});
  EXPECT_EQ(calls, 1);
  auto mine = corio::threading::set_excepthook(std::move(prev));
  EXPECT_TRUE(mine);
}

// -- start_thread: threads no object owns ----------------------------------------------

TEST(ThreadingStartThread, runs_the_target_with_copies_of_its_arguments_and_the_handle_joins_it) {
  // Python: threading.Thread(target=f, args=(x,)).start(), the object dropped.
  corio_test::watchdog guard(30s, "start_thread");
  std::atomic<int> got{0};
  std::thread::id ran_on;
  int x = 20;
  thread_handle h = corio::threading::start_thread(
      [&](int a, int b) {
        ran_on = std::this_thread::get_id();
        got = a + b;
      },
      x, 22);
  x = 0;  // the thread has its own copy
  EXPECT_TRUE(h.ident().has_value());
  h.join();
  EXPECT_EQ(got.load(), 42);
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_FALSE(h.is_alive());
  EXPECT_FALSE(listed(h));
  h.join();  // again: harmless
}

TEST(ThreadingStartThread, takes_a_name_and_a_daemon_flag_and_the_handle_renames_it) {
  corio_test::watchdog guard(30s, "start_thread options");
  event renamed, release;
  std::string name_inside, os_name_inside;
  thread_handle h = corio::threading::start_thread(thread_options{"fetcher", true}, [&] {
    renamed.wait();
    name_inside = current_thread().name();
    os_name_inside = this_thread_name();
    release.wait();
  });
  EXPECT_EQ(h.name(), "fetcher");
  EXPECT_TRUE(h.daemon());
  EXPECT_TRUE(h.is_alive());
  EXPECT_TRUE(listed(h));
  h.set_name("fetcher-2");
  renamed.set();
  release.set();
  EXPECT_TRUE(h.join(10s));
  EXPECT_EQ(name_inside, "fetcher-2");
  EXPECT_EQ(os_name_inside, "fetcher-2");
  EXPECT_EQ(corio::threading::start_thread([] {}).name().rfind("Thread-", 0), 0u);
}

TEST(ThreadingStartThread, a_timed_join_through_the_handle_returns_false_while_it_runs) {
  corio_test::watchdog guard(30s, "handle timed join");
  event release;
  thread_handle h = corio::threading::start_thread([&] { release.wait(); });
  EXPECT_FALSE(h.join(20ms));
  EXPECT_THROW(h.join(-1ms), std::invalid_argument);
  release.set();
  EXPECT_TRUE(h.join(10s));
}

TEST(ThreadingStartThread, an_exception_from_the_target_goes_to_the_excepthook) {
  corio_test::watchdog guard(30s, "start_thread excepthook");
  std::string seen;
  hook_scope hook([&](const corio::threading::excepthook_args& a) {
    seen = a.thread.name() + ": " + corio_test::message_of(a.exc);
  });
  corio::threading::start_thread(thread_options{"thrower", std::nullopt}, [] {
    throw std::runtime_error("boom");
  }).join();
  EXPECT_EQ(seen, "thrower: boom");
}

TEST(ThreadingStartThread, a_handle_joins_threads_of_thread_objects_too_and_refuses_the_others) {
  corio_test::watchdog guard(30s, "handle join errors");
  thread t([] {});
  EXPECT_EQ(what_of<std::runtime_error>([&] { t.handle().join(); }), "cannot join thread before it is started");
  t.start();
  t.handle().join();
  EXPECT_FALSE(t.is_alive());
  EXPECT_EQ(what_of<std::runtime_error>([] { corio::threading::main_thread().join(); }),
            "cannot join current thread");
  std::string from_other, dummy_join, self_join;
  std::thread foreign([&] {
    from_other = what_of<std::runtime_error>([] { corio::threading::main_thread().join(); });
    dummy_join = what_of<std::runtime_error>([] { current_thread().join(); });
  });
  foreign.join();
  EXPECT_EQ(from_other, "cannot join the main thread");
  EXPECT_EQ(dummy_join, "cannot join a dummy thread");
  corio::threading::start_thread([&] {
    self_join = what_of<std::runtime_error>([] { current_thread().join(); });
  }).join();
  EXPECT_EQ(self_join, "cannot join current thread");
}

TEST(ThreadingStartThread, a_subclass_joined_through_its_handle_counts_as_joined) {
  struct worker : thread {
    void run() override { ran = true; }
    bool ran = false;
  };
  worker w;
  w.start();
  w.handle().join();  // no settle() in ~worker: the destructor must not stop the process
  EXPECT_TRUE(w.ran);
}

namespace {
thread_handle* kept_handle = nullptr;  // reachable: exit tests below never drop it

[[noreturn]] void start_400_threads_in_little_address_space() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  const rlim_t limit = pages * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + (rlim_t{512} << 20);
  const rlimit rl{limit, limit};
  if (::setrlimit(RLIMIT_AS, &rl) != 0) std::exit(2);
  for (int i = 0; i < 400; ++i) {
    thread_handle h = corio::threading::start_thread([] {});
    while (h.is_alive()) std::this_thread::yield();
  }
  std::fputs("400 started\n", stderr);
  std::exit(0);
}
}  // namespace

TEST(ThreadingStartThreadDeathTest, finished_threads_nobody_joined_are_reclaimed_by_the_next_start) {
  // Each unjoined thread keeps its stack until it is joined: with the
  // address space limited to 512 MiB more than the process uses, 400
  // threads of at least 2 MiB each fit only if the finished ones are
  // reclaimed (Python's re-armed Timer idiom starts one per tick).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizers reserve more address space than the limit allows";
#else
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(start_400_threads_in_little_address_space(), testing::ExitedWithCode(0), "400 started");
#endif
}

TEST(ThreadingStartThreadDeathTest, exit_waits_for_a_non_daemon_thread_nobody_joined) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        kept_handle = new thread_handle(corio::threading::start_thread([] {
          std::this_thread::sleep_for(50ms);
          std::fputs("worker finished\n", stderr);
        }));
        std::exit(0);
      },
      testing::ExitedWithCode(0), "worker finished");
}

TEST(ThreadingStartThreadDeathTest, exit_does_not_wait_for_a_daemon_started_so) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        corio::threading::start_thread(thread_options{"", true}, [] {
          event never;
          never.wait();
        });
        std::fputs("main leaving\n", stderr);
        std::exit(0);
      },
      testing::ExitedWithCode(0), "main leaving");
}

namespace {
// Reachable from a global, so a leak checker does not report what the exit
// tests below deliberately never destroy.
thread* never_destroyed = nullptr;
}  // namespace

TEST(ThreadingThreadDeathTest, exit_waits_for_a_non_daemon_thread_whose_object_was_never_destroyed) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        never_destroyed = new thread([] {
          std::this_thread::sleep_for(50ms);
          std::fputs("worker finished\n", stderr);
        });
        never_destroyed->start();
        std::exit(0);
      },
      testing::ExitedWithCode(0), "worker finished");
}

TEST(ThreadingThreadDeathTest, exit_does_not_wait_for_a_daemon_thread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        never_destroyed = new thread(thread_options{"", true}, [] {
          event never;
          never.wait();
        });
        never_destroyed->start();
        std::fputs("main leaving\n", stderr);
        std::exit(0);
      },
      testing::ExitedWithCode(0), "main leaving");
}

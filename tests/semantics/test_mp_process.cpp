// docs/semantics.md section 15, processes (MP-01 .. MP-15), on real
// processes. Each test reaps what it started (mp_test), children block on
// connections rather than sleeping, and every wait is bounded.
//
// Rules that C++ turns around: MP-06 (misuse raises in every build, a
// departure), MP-07's ValueError is std::invalid_argument, MP-15's
// "re-imports the main module" is freeze_support() in main().
#include "multiprocessing_util.hpp"

#include <corio/runners.hpp>
#include <corio/threading/thread.hpp>

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;  // no wait in these tests should come near it

// -- targets for spawn and forkserver: functions -----------------------------------

void send_sum(mp::connection c, int a, std::string b) { c.send(std::to_string(a) + b); }

void report_identity(mp::connection c) {
  const auto me = mp::current_process();
  const auto parent = mp::parent_process();
  c.send(std::tuple<std::string, bool, int, std::string, int, std::string>(
      me.name(), me.daemon(), static_cast<int>(::getpid()), parent ? parent->name() : std::string("none"),
      parent ? static_cast<int>(parent->pid().value_or(-1)) : -1, mp::get_start_method()));
}

void block_until_told(mp::connection c) { (void)c.recv<int>(); }

void exit_with(int code) { throw corio::system_exit(code); }

void raise_runtime_error() { throw std::runtime_error("boom in the child"); }

int g_touched = 0;  // a spawned child sees its initial value, a forked one the parent's

void report_global(mp::connection c) { c.send(g_touched); }

void start_grandchild(mp::connection c, bool daemon_grandchild) {
  auto [r, w] = mp::pipe(false);
  mp::process g(mp::process_options{.daemon = daemon_grandchild}, block_until_told, std::move(r));
  g.start();
  c.send(static_cast<int>(*g.pid()));
  c.send(g.name());
  (void)c.recv<int>();  // until the test is done with us
}

void wait_for_parent_end(mp::connection c) {
  auto parent = mp::parent_process();
  c.send(parent->is_alive());
  parent->join(kBound);
  c.send(parent->is_alive());
}

}  // namespace

// -- MP-01 ---------------------------------------------------------------------------

TEST_F(mp_test, MP_01_start_runs_the_target_with_its_arguments_in_a_new_process) {
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    auto [r, w] = mp::pipe();
    mp::process p(send_sum, std::move(w), 4, std::string("2"));
    mp::get_context(method).start(p);
    EXPECT_EQ(r.recv<std::string>(), "42") << method;
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
  }
}

TEST_F(mp_test, MP_01_a_subclass_overrides_run) {
  struct worker : mp::process {
    mp::connection out;
    explicit worker(mp::connection c) : out(std::move(c)) {}
    void run() override { out.send(std::string("ran in ") + std::to_string(::getpid())); }
  };
  auto [r, w] = mp::pipe();
  worker p(std::move(w));
  p.start();
  EXPECT_EQ(r.recv<std::string>(), "ran in " + std::to_string(*p.pid()));
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_F(mp_test, MP_01_with_fork_any_callable_runs_and_the_parent_drops_it_after_the_start) {
  auto [r, w] = mp::pipe();
  auto held = std::make_shared<int>(7);
  mp::process p([held, &w] { w.send(*held * 6); });
  EXPECT_EQ(held.use_count(), 2);
  p.start();
  EXPECT_EQ(held.use_count(), 1);  // test_lose_target_ref
  EXPECT_EQ(r.recv<int>(), 42);
  p.join(kBound);
}

TEST_F(mp_test, MP_01_spawn_refuses_a_callable_with_captures_naming_it) {
  int x = 1;
  mp::process p([x] { (void)x; });
  try {
    mp::get_context("spawn").start(p);
    FAIL() << "started";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("lambda"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(p.pid());
}

// -- MP-02, MP-09 -----------------------------------------------------------------------

TEST_F(mp_test, MP_02_pid_exitcode_is_alive_and_active_children_follow_the_life_of_the_child) {
  auto [r, w] = mp::pipe();
  mp::process p(block_until_told, std::move(r));
  EXPECT_FALSE(p.pid());
  EXPECT_FALSE(p.exitcode());
  EXPECT_FALSE(p.is_alive());
  p.start();
  ASSERT_TRUE(p.pid());
  EXPECT_GT(*p.pid(), 0);
  EXPECT_EQ(p.ident(), p.pid());
  EXPECT_FALSE(p.exitcode());
  EXPECT_TRUE(p.is_alive());
  auto kids = mp::active_children();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0], p.handle());
  w.send(1);
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
  EXPECT_TRUE(mp::active_children().empty());
}

TEST_F(mp_test, MP_09_active_children_reaps_the_ended_ones_on_the_way) {
  auto [r, w] = mp::pipe();
  mp::process p(block_until_told, std::move(r));
  p.start();
  EXPECT_EQ(mp::active_children().size(), 1u);
  w.send(1);
  // No join: active_children itself notices the end (bounded poll).
  const auto until = std::chrono::steady_clock::now() + kBound;
  while (!mp::active_children().empty() && std::chrono::steady_clock::now() < until) ::poll(nullptr, 0, 1);
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(corio_test::no_children());
}

// -- MP-03 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_03_exit_codes_0_system_exit_code_1_for_an_exception_and_minus_the_signal) {
  mp::process ok([] {});
  mp::process seven(exit_with, 7);
  mp::process zero([] { throw corio::system_exit(0); });
  ok.start();
  seven.start();
  zero.start();
  ok.join(kBound);
  seven.join(kBound);
  zero.join(kBound);
  EXPECT_EQ(ok.exitcode(), 0);
  EXPECT_EQ(seven.exitcode(), 7);
  EXPECT_EQ(zero.exitcode(), 0);

  auto [r, w] = mp::pipe();
  mp::process killed(block_until_told, std::move(r));
  killed.start();
  ::kill(*killed.pid(), SIGUSR1);
  killed.join(kBound);
  EXPECT_EQ(killed.exitcode(), -SIGUSR1);
}

TEST_F(mp_test, MP_03_an_escaping_exception_is_printed_after_process_name_and_exits_with_1) {
  for (const char* method : {"fork", "spawn"}) {
    corio_test::stderr_capture err;
    mp::process p(mp::process_options{.name = "failing"}, raise_runtime_error);
    mp::get_context(method).start(p);
    err.restore();
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 1) << method;
    const std::string text = err.text();
    EXPECT_NE(text.find("Process failing:\nstd::runtime_error: boom in the child\n"), std::string::npos)
        << method << ": " << text;
  }
}

// -- MP-04 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_04_join_returns_nothing_and_zero_or_negative_timeouts_return_at_once) {
  auto [r, w] = mp::pipe();
  mp::process p(block_until_told, std::move(r));
  p.start();
  static_assert(std::is_void_v<decltype(p.join(1s))>);
  p.join(0s);
  p.join(-1s);
  p.join(10ms);
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.exitcode());
  w.send(1);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// -- MP-05 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_05_terminate_sends_sigterm_kill_sigkill_and_both_do_nothing_once_it_ended) {
  auto [r1, w1] = mp::pipe();
  auto [r2, w2] = mp::pipe();
  mp::process t(block_until_told, std::move(r1));
  mp::process k(block_until_told, std::move(r2));
  t.start();
  k.start();
  t.terminate();
  k.kill();
  t.join(kBound);
  k.join(kBound);
  EXPECT_EQ(t.exitcode(), -SIGTERM);
  EXPECT_EQ(k.exitcode(), -SIGKILL);
  t.terminate();
  k.kill();
  EXPECT_EQ(t.exitcode(), -SIGTERM);
}

TEST_F(mp_test, MP_05_terminate_does_not_reach_the_childs_own_children) {
  auto [r, w] = mp::pipe();
  mp::process p(start_grandchild, std::move(w), false);
  p.start();
  const pid_t grandchild = r.recv<int>();
  (void)r.recv<std::string>();
  p.terminate();
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), -SIGTERM);
  EXPECT_EQ(::kill(grandchild, 0), 0) << "the grandchild was ended with its parent";
  ::kill(grandchild, SIGKILL);  // an orphan: ours to reap (subreaper), by the fixture
}

// -- MP-06 (departure: real errors) -----------------------------------------------------

TEST_F(mp_test, MP_06_misuse_raises_in_every_build) {
  mp::process never([] {});
  EXPECT_THROW(never.join(), std::runtime_error);
  auto [r, w] = mp::pipe();
  mp::process p(block_until_told, std::move(r));
  p.start();
  EXPECT_THROW(p.start(), std::runtime_error);
  EXPECT_THROW(p.set_daemon(true), std::runtime_error);
  w.send(1);
  p.join(kBound);
  EXPECT_THROW(mp::current_process().join(), std::runtime_error);
}

TEST_F(mp_test, MP_06_a_daemonic_process_cannot_start_children) {
  auto [r, w] = mp::pipe();
  mp::process d(mp::process_options{.daemon = true}, [&w] {
    mp::process inner([] {});
    try {
      inner.start();
      w.send(std::string("started"));
    } catch (const mp::process_error& e) {
      w.send(std::string(e.what()));
    }
  });
  d.start();
  EXPECT_EQ(r.recv<std::string>(), "daemonic processes are not allowed to have children");
  d.join(kBound);
}

// -- MP-07 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_07_close_refuses_a_running_child_and_then_every_call_raises) {
  auto [r, w] = mp::pipe();
  mp::process p(block_until_told, std::move(r));
  EXPECT_THROW(p.sentinel(), std::invalid_argument);  // before the start
  p.start();
  EXPECT_THROW(p.close(), std::invalid_argument);
  w.send(1);
  p.join(kBound);
  p.close();
  p.close();
  EXPECT_THROW(p.is_alive(), std::invalid_argument);
  EXPECT_THROW(p.join(), std::invalid_argument);
  EXPECT_THROW(p.exitcode(), std::invalid_argument);
  EXPECT_THROW(p.pid(), std::invalid_argument);
  EXPECT_THROW(p.terminate(), std::invalid_argument);
}

TEST_F(mp_test, MP_07_the_sentinel_becomes_readable_when_the_child_ends) {
  for (const char* method : {"fork", "forkserver"}) {
    auto [r, w] = mp::pipe();
    mp::process p(block_until_told, std::move(r));
    mp::get_context(method).start(p);
    const int s = p.sentinel();
    EXPECT_TRUE(mp::wait({s}, 0s).empty()) << method;
    w.send(1);
    EXPECT_EQ(mp::wait({s}, kBound).size(), 1u) << method;
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0) << method;
  }
}

TEST_F(mp_test, MP_07_join_async_waits_in_a_running_loop) {
  auto [r, w] = mp::pipe();
  mp::process p(block_until_told, std::move(r));
  p.start();
  corio::run([](mp::process& proc, mp::connection& release) -> corio::task<> {
    auto j = corio::create_task(proc.join_async());
    co_await corio::sleep(1ms);
    EXPECT_FALSE(j.done());
    release.send(1);
    co_await corio::wait_for(std::move(j), kBound);
  }(p, w));
  EXPECT_EQ(p.exitcode(), 0);
}

// -- MP-08, MP-10 -------------------------------------------------------------------------

TEST_F(mp_test, MP_08_the_main_process_is_mainprocess_with_no_parent) {
  const auto me = mp::current_process();
  EXPECT_EQ(me.name(), "MainProcess");
  EXPECT_FALSE(me.daemon());
  EXPECT_EQ(me.ident(), ::getpid());
  EXPECT_FALSE(me.exitcode());
  EXPECT_TRUE(me.is_alive());
  EXPECT_EQ(me.authkey().size(), 32u);
  EXPECT_FALSE(mp::parent_process());
}

TEST_F(mp_test, MP_08_in_a_child_current_process_is_the_child_and_parent_process_the_parent) {
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    auto [r, w] = mp::pipe();
    mp::process p(mp::process_options{.name = std::string("kid-") + method}, report_identity, std::move(w));
    mp::get_context(method).start(p);
    const auto [name, daemon, pid, parent_name, parent_pid, child_method] =
        r.recv<std::tuple<std::string, bool, int, std::string, int, std::string>>();
    p.join(kBound);
    EXPECT_EQ(name, std::string("kid-") + method);
    EXPECT_FALSE(daemon);
    EXPECT_EQ(pid, *p.pid());
    EXPECT_EQ(parent_name, "MainProcess");
    EXPECT_EQ(parent_pid, ::getpid());
    EXPECT_EQ(child_method, method);  // MP-14: the child reports its method
  }
}

TEST_F(mp_test, MP_08_parent_process_is_alive_and_join_follow_the_parents_end) {
  // child -> grandchild: the child ends while the grandchild watches it.
  auto [r, w] = mp::pipe();
  auto [go_r, go_w] = mp::pipe();
  mp::process child([&w, &go_r] {
    mp::process watcher(wait_for_parent_end, std::move(w));
    watcher.start();
    (void)go_r.recv<int>();
    // Leave without waiting for it (its join at exit would wait for ever):
    // SIGKILL skips the exit handlers.
    ::kill(::getpid(), SIGKILL);
  });
  child.start();
  EXPECT_TRUE(r.recv<bool>());  // the parent still runs
  go_w.send(1);
  child.join(kBound);
  EXPECT_EQ(child.exitcode(), -SIGKILL);
  EXPECT_FALSE(r.recv<bool>());  // its join returned because the parent ended
}

TEST_F(mp_test, MP_10_names_count_per_process_and_join_with_colons_down_the_generations) {
  mp::process a([] {});
  mp::process b([] {});
  const std::string na = a.name(), nb = b.name();
  ASSERT_EQ(na.rfind("Process-", 0), 0u) << na;
  EXPECT_EQ(std::stoi(nb.substr(8)), std::stoi(na.substr(8)) + 1);
  struct my_worker : mp::process {};
  my_worker m;
  EXPECT_EQ(m.name().rfind("my_worker-", 0), 0u) << m.name();

  auto [r, w] = mp::pipe();
  mp::process parent(mp::process_options{.daemon = false}, start_grandchild, std::move(w), false);
  parent.start();
  (void)r.recv<int>();
  const std::string grand = r.recv<std::string>();
  EXPECT_EQ(grand, parent.name() + ":1");
  r.close();  // the child's recv ends with eof_error: it exits with 1 after joining its child
  parent.kill();
  parent.join(kBound);
}

TEST_F(mp_test, MP_10_daemon_defaults_to_the_creators_flag_and_authkey_is_inherited) {
  mp::process p([] {});
  EXPECT_FALSE(p.daemon());
  EXPECT_EQ(p.authkey(), mp::current_process().authkey());
  auto [r, w] = mp::pipe();
  mp::process d(mp::process_options{.daemon = true}, [&w] {
    w.send(std::pair<bool, std::string>(mp::current_process().daemon(), mp::current_process().authkey()));
  });
  d.start();
  const auto [daemon, key] = r.recv<std::pair<bool, std::string>>();
  d.join(kBound);
  EXPECT_TRUE(daemon);
  EXPECT_EQ(key, mp::current_process().authkey());
}

// -- MP-11 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_11_at_exit_daemonic_children_are_terminated_and_the_others_awaited) {
  auto [r, w] = mp::pipe();
  mp::process child([&w] {
    auto [dr, dw] = mp::pipe();
    mp::process daemon_kid(mp::process_options{.daemon = true}, block_until_told, std::move(dr));
    daemon_kid.start();
    auto [nr, nw] = mp::pipe();
    mp::process plain_kid([&nr, &w] {
      (void)nr.recv<int>();
      w.send(std::string("plain child finished"));
    });
    plain_kid.start();
    w.send(static_cast<int>(*daemon_kid.pid()));
    nw.send(1);  // the plain child may finish; the daemon never would
    // Returning ends this child: its exit waits for plain_kid, terminates daemon_kid.
  });
  child.start();
  const pid_t daemon_pid = r.recv<int>();
  EXPECT_EQ(r.recv<std::string>(), "plain child finished");
  child.join(kBound);
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_NE(::kill(daemon_pid, 0), 0) << "the daemonic grandchild outlived its parent";
}

// -- MP-12 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_12_a_child_exits_once_its_non_daemon_threads_are_done_and_its_stdin_is_null) {
  auto [r, w] = mp::pipe();
  mp::process p([&w] {
    char c;
    w.send(::read(0, &c, 1));  // /dev/null: end of file at once
    corio::threading::thread t([&w] { w.send(std::string("thread done")); });
    t.start();
    // The thread object is destroyed at the end of this scope; a started
    // thread no object owns would be waited for as well.
    corio::threading::start_thread([&w] { w.send(std::string("owned thread done")); });
  });
  p.start();
  EXPECT_EQ(r.recv<long>(), 0);
  std::vector<std::string> got{r.recv<std::string>(), r.recv<std::string>()};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"owned thread done", "thread done"}));
  p.join(kBound);
  EXPECT_EQ(p.exitcode(), 0);
}

// -- MP-13, MP-14 -----------------------------------------------------------------------

TEST_F(mp_test, MP_13_start_methods_are_listed_default_first_and_set_once) {
  EXPECT_EQ(mp::get_all_start_methods(), (std::vector<std::string>{"fork", "spawn", "forkserver"}));
  mp::set_start_method("fork", true);
  EXPECT_EQ(mp::get_start_method(), "fork");
  EXPECT_THROW(mp::set_start_method("spawn"), std::runtime_error);
  EXPECT_THROW(mp::set_start_method("nonsense", true), std::invalid_argument);
  mp::set_start_method("spawn", true);
  EXPECT_EQ(mp::get_start_method(), "spawn");
  auto [r, w] = mp::pipe();
  mp::process p(send_sum, std::move(w), 1, std::string("0"));
  p.start();  // the default context: spawn now
  EXPECT_EQ(r.recv<std::string>(), "10");
  p.join(kBound);
  mp::set_start_method("fork", true);
}

TEST_F(mp_test, MP_14_get_context_binds_the_api_to_one_method) {
  const mp::context ctx = mp::get_context("forkserver");
  EXPECT_EQ(ctx.get_start_method(), "forkserver");
  EXPECT_EQ(&ctx.get_context(), &ctx);
  EXPECT_THROW(ctx.set_start_method("fork"), std::invalid_argument);
  EXPECT_THROW(mp::get_context("nonsense"), std::invalid_argument);
  EXPECT_EQ(mp::get_context().get_start_method(), mp::get_start_method());
  auto [a, b] = ctx.pipe();
  a.send(1);
  EXPECT_EQ(b.recv<int>(), 1);
}

// -- MP-15 ------------------------------------------------------------------------------

TEST_F(mp_test, MP_15_fork_copies_the_parent_at_start_spawn_starts_a_fresh_program) {
  g_touched = 5;
  for (const char* method : {"fork", "spawn", "forkserver"}) {
    auto [r, w] = mp::pipe();
    mp::process p(report_global, std::move(w));
    mp::get_context(method).start(p);
    const int seen = r.recv<int>();
    p.join(kBound);
    EXPECT_EQ(seen, std::string(method) == "fork" ? 5 : 0) << method;
  }
  g_touched = 0;
}

TEST_F(mp_test, MP_15_the_fork_server_is_started_again_if_it_died) {
  auto [r, w] = mp::pipe();
  mp::process p(send_sum, std::move(w), 1, std::string("a"));
  mp::get_context("forkserver").start(p);
  EXPECT_EQ(r.recv<std::string>(), "1a");
  p.join(kBound);
  // Kill the server (test_forkserver_sigkill), then start another child.
  for (pid_t k : corio_test::child_pids()) ::kill(k, SIGKILL);
  auto [r2, w2] = mp::pipe();
  mp::process q(send_sum, std::move(w2), 2, std::string("b"));
  mp::get_context("forkserver").start(q);
  EXPECT_EQ(r2.recv<std::string>(), "2b");
  q.join(kBound);
  EXPECT_EQ(q.exitcode(), 0);
}

CORIO_MP_TEST_MAIN()

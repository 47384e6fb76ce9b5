// The text forms of corio's objects (operator<< and to_string), after
// CPython's reprs. Addresses and thread idents vary: they are matched by
// regex.
#include "loop_util.hpp"

#include <corio/async_generator.hpp>
#include <corio/contextvars.hpp>
#include <corio/corio.hpp>
#include <corio/generator.hpp>
#include <corio/testing/loop.hpp>
#include <corio/threading/barrier.hpp>
#include <corio/threading/condition.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/lock.hpp>
#include <corio/threading/queue.hpp>
#include <corio/threading/rlock.hpp>
#include <corio/threading/semaphore.hpp>
#include <corio/threading/simple_queue.hpp>
#include <corio/threading/thread.hpp>
#include <corio/threading/timer.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using ::testing::MatchesRegex;

namespace {

constexpr const char* kAddr = "0x[0-9a-f]+";

std::string re(std::string pattern) {
  // `@` stands for an address; everything else is taken as a regex.
  std::string out;
  for (char c : pattern) {
    if (c == '@')
      out += kAddr;
    else
      out += c;
  }
  return out;
}

template <class T>
std::string streamed(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

struct opaque {
  int v = 1;
};

corio::task<int> answer() { co_return 42; }
corio::task<> fail_with(std::string msg) { throw std::runtime_error(msg); co_return; }
corio::task<> sleep_long() { co_await corio::sleep(1h); }
corio::task<> wait_future(corio::future<int> f) { co_await f; }
corio::task<> hold(corio::lock& l, corio::event& go) {
  auto g = co_await l.scoped();
  co_await go.wait();
}
corio::task<> acquire_lock(corio::lock& l) {
  co_await l.acquire();
  l.release();
}
corio::task<> wait_event(corio::event& e) { co_await e.wait(); }
corio::task<int> get_one(corio::queue<int>& q) { co_return co_await q.get(); }
corio::task<> put_one(corio::queue<int>& q, int v) { co_await q.put(v); }
corio::task<> await_task(corio::task<> t) { co_await t; }

corio::generator<int> count_to(int n) {
  for (int i = 1; i <= n; ++i) co_yield i;
}
corio::async_generator<int> ticks(int n) {
  for (int i = 0; i < n; ++i) {
    co_await corio::sleep(1s);
    co_yield i;
  }
}

}  // namespace

// -- values inside reprs -----------------------------------------------------

TEST(Repr, values_print_like_python_reprs_and_unprintable_types_as_their_name) {
  auto v = [](const auto& x) {
    std::ostringstream os;
    corio::detail::write_value(os, x);
    return os.str();
  };
  EXPECT_EQ(v(42), "42");
  EXPECT_EQ(v(true), "true");
  EXPECT_EQ(v(std::string("it's")), "'it\\'s'");
  EXPECT_EQ(v("a\nb"), "'a\\nb'");
  EXPECT_EQ(v(std::string(40, 'x')), "'xxxxxxxxxxxxx...xxxxxxxxxxxxxx'");
  EXPECT_EQ(v(std::vector<int>{1, 2, 3}), "[1, 2, 3]");
  EXPECT_EQ(v(std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}), "[1, 2, 3, 4, 5, 6, ...]");
  EXPECT_EQ(v(std::pair<int, std::string>(1, "a")), "(1, 'a')");
  EXPECT_EQ(v(std::optional<int>()), "nullopt");
  EXPECT_EQ(v(std::optional<int>(3)), "3");
  EXPECT_EQ(v(opaque{}), "<(anonymous namespace)::opaque>");
  EXPECT_EQ(v(std::vector<opaque>(1)), "[<(anonymous namespace)::opaque>]");
  EXPECT_TRUE((corio::detail::has_text_form<std::vector<std::pair<int, std::string>>>()));
  EXPECT_FALSE(corio::detail::has_text_form<opaque>());
  EXPECT_FALSE(corio::detail::has_text_form<std::vector<opaque>>());
}

// -- exceptions ----------------------------------------------------------------

TEST(Repr, exceptions_print_as_type_and_quoted_message) {
  EXPECT_EQ(corio::to_string(std::make_exception_ptr(std::runtime_error("boom"))), "std::runtime_error('boom')");
  EXPECT_EQ(corio::to_string(std::make_exception_ptr(corio::cancelled_error())), "corio::cancelled_error()");
  EXPECT_EQ(corio::to_string(std::exception_ptr()), "None");
  EXPECT_EQ(streamed(corio::cancelled_error("bye")), "corio::cancelled_error('bye')");
}

TEST(Repr, exception_group_lists_its_members) {
  corio::exception_group g("2 failed", {std::make_exception_ptr(std::runtime_error("a")),
                                        std::make_exception_ptr(std::invalid_argument("b"))});
  EXPECT_EQ(streamed(g), "corio::exception_group('2 failed', [std::runtime_error('a'), std::invalid_argument('b')])");
  corio::base_exception_group bg("mixed", {std::make_exception_ptr(corio::cancelled_error()),
                                           std::make_exception_ptr(g)});
  EXPECT_EQ(to_string(bg),
            "corio::base_exception_group('mixed', [corio::cancelled_error(), corio::exception_group('2 failed', "
            "[std::runtime_error('a'), std::invalid_argument('b')])])");
}

// -- tasks ----------------------------------------------------------------------

TEST(Repr, task_shows_state_name_coroutine_and_result_or_exception) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto ok = loop.create_task(answer(), corio::task_options{.name = "worker"});
  EXPECT_EQ(to_string(ok), "<Task pending name='worker' coro=<(anonymous namespace)::answer()>>");
  auto bad = loop.create_task(fail_with("boom"), corio::task_options{.name = "bad"});
  auto never = loop.create_task(sleep_long(), corio::task_options{.name = "sleeper"});
  corio::testing::run_briefly(loop);
  EXPECT_EQ(to_string(ok), "<Task finished name='worker' coro=<(anonymous namespace)::answer()> result=42>");
  EXPECT_EQ(to_string(bad),
            "<Task finished name='bad' coro=<(anonymous namespace)::fail_with(std::string)> "
            "exception=std::runtime_error('boom')>");
  EXPECT_EQ(to_string(never), "<Task pending name='sleeper' coro=<(anonymous namespace)::sleep_long()> wait=sleep>");
  // Through any_task the result type is unknown: the result is left out.
  EXPECT_EQ(streamed(corio::any_task(ok)), "<Task finished name='worker' coro=<(anonymous namespace)::answer()>>");
  never.cancel("stop");
  EXPECT_EQ(to_string(never), "<Task cancelling name='sleeper' coro=<(anonymous namespace)::sleep_long()>>");
  corio::testing::run_briefly(loop);
  EXPECT_EQ(to_string(never), "<Task cancelled name='sleeper' coro=<(anonymous namespace)::sleep_long()>>");
  // Printing did not retrieve the exception: it is still reported as never retrieved.
  std::vector<std::string> reported;
  loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context& c) { reported.push_back(c.message); });
  bad = {};
  EXPECT_EQ(reported.size(), 1u);
  loop.close();
}

TEST(Repr, unscheduled_coroutine_prints_as_a_coroutine_object) {
  auto c = answer();
  EXPECT_THAT(to_string(c), MatchesRegex(re("<coroutine object \\(anonymous namespace\\)::answer\\(\\) at @>")));
  EXPECT_EQ(to_string(corio::task<int>()), "<Task (empty)>");
}

TEST(Repr, suspended_task_says_what_it_waits_on) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::lock l;
  corio::event go;
  corio::event never;
  corio::queue<int> empty_q;
  corio::queue<int> full_q(1);
  full_q.put_nowait(1);
  auto f = loop.create_future<int>();
  auto holder = loop.create_task(hold(l, go), corio::task_options{.name = "holder"});
  auto on_lock = loop.create_task(acquire_lock(l), corio::task_options{.name = "on-lock"});
  auto on_event = loop.create_task(wait_event(never), corio::task_options{.name = "on-event"});
  auto on_future = loop.create_task(wait_future(f), corio::task_options{.name = "on-future"});
  auto getter = loop.create_task(get_one(empty_q), corio::task_options{.name = "getter"});
  auto putter = loop.create_task(put_one(full_q, 2), corio::task_options{.name = "putter"});
  auto sleeper = loop.create_task(sleep_long(), corio::task_options{.name = "sleeper"});
  auto on_task = loop.create_task(await_task(sleeper), corio::task_options{.name = "on-task"});
  corio::testing::run_briefly(loop, 3);
  EXPECT_THAT(to_string(holder), ::testing::EndsWith(" wait=Event>"));
  EXPECT_THAT(to_string(on_lock), ::testing::EndsWith(" wait=Lock>"));
  EXPECT_THAT(to_string(on_event), ::testing::EndsWith(" wait=Event>"));
  EXPECT_THAT(to_string(on_future), ::testing::EndsWith(" wait=future>"));
  EXPECT_THAT(to_string(getter), ::testing::EndsWith(" wait=Queue.get>"));
  EXPECT_THAT(to_string(putter), ::testing::EndsWith(" wait=Queue.put>"));
  EXPECT_THAT(to_string(sleeper), ::testing::EndsWith(" wait=sleep>"));
  EXPECT_THAT(to_string(on_task), ::testing::EndsWith(" wait=task 'sleeper'>"));
  EXPECT_THAT(to_string(l), MatchesRegex(re("<corio::lock object at @ \\[locked, waiters:1\\]>")));
  EXPECT_EQ(to_string(empty_q), "<Queue maxsize=0 qsize=0 getters=1>");
  EXPECT_EQ(to_string(full_q), "<Queue maxsize=1 qsize=1 items=[1] putters=1 tasks=1>");
  for (auto* t : {&holder, &on_lock, &on_event, &on_future, &sleeper, &on_task}) t->cancel();
  getter.cancel();
  putter.cancel();
  corio::testing::run_briefly(loop, 5);
  EXPECT_THAT(to_string(l), MatchesRegex(re("<corio::lock object at @ \\[unlocked\\]>")));
  loop.close();
}

// -- futures and handles ----------------------------------------------------------

TEST(Repr, future_shows_state_and_outcome_without_retrieving_it) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto f = loop.create_future<std::string>();
  EXPECT_EQ(to_string(f), "<Future pending>");
  f.set_result("done");
  EXPECT_EQ(to_string(f), "<Future finished result='done'>");
  auto v = loop.create_future<void>();
  v.set_result();
  EXPECT_EQ(streamed(v), "<Future finished result=None>");
  auto c = loop.create_future<int>();
  c.cancel();
  EXPECT_EQ(to_string(c), "<Future cancelled>");
  auto o = loop.create_future<opaque>();
  o.set_result(opaque{});
  EXPECT_EQ(to_string(o), "<Future finished result=<(anonymous namespace)::opaque>>");
  std::vector<std::string> reported;
  loop.set_exception_handler([&](corio::event_loop&, const corio::exception_context& ctx) { reported.push_back(ctx.message); });
  {
    auto e = loop.create_future<int>();
    e.set_exception(std::runtime_error("bad"));
    EXPECT_EQ(to_string(e), "<Future finished exception=std::runtime_error('bad')>");
  }
  EXPECT_EQ(reported.size(), 1u);  // still never retrieved
  EXPECT_EQ(to_string(corio::future<int>()), "<Future (empty)>");
  loop.close();
}

void plain_callback() {}

TEST(Repr, handle_shows_callback_when_and_cancelled) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto h = loop.call_soon([] {});
  EXPECT_THAT(to_string(h), MatchesRegex("<Handle .*lambda.*>"));
  auto p = loop.call_soon(&plain_callback);
  EXPECT_EQ(to_string(p), "<Handle void (*)()>");
  auto t = loop.call_later(1500ms, [] {});
  EXPECT_THAT(to_string(t), MatchesRegex("<TimerHandle when=1\\.5 .*lambda.*>"));
  t.cancel();
  EXPECT_EQ(to_string(t), "<TimerHandle cancelled when=1.5>");
  h.cancel();
  EXPECT_EQ(to_string(h), "<Handle cancelled>");
  auto never = loop.call_later(std::chrono::hours::max(), [] {});
  EXPECT_THAT(to_string(never), MatchesRegex("<TimerHandle when=never .*>"));
  never.cancel();
  EXPECT_EQ(to_string(corio::handle()), "<Handle (empty)>");
  loop.close();
}

// -- asyncio locks and queues ---------------------------------------------------------

TEST(Repr, asyncio_primitives_show_state_value_and_waiters) {
  corio::event e;
  EXPECT_THAT(to_string(e), MatchesRegex(re("<corio::event object at @ \\[unset\\]>")));
  e.set();
  EXPECT_THAT(to_string(e), MatchesRegex(re("<corio::event object at @ \\[set\\]>")));
  corio::semaphore s(2);
  EXPECT_THAT(to_string(s), MatchesRegex(re("<corio::semaphore object at @ \\[unlocked, value:2\\]>")));
  corio::bounded_semaphore b(0);
  EXPECT_THAT(to_string(b), MatchesRegex(re("<corio::bounded_semaphore object at @ \\[locked\\]>")));
  corio::condition c;
  EXPECT_THAT(to_string(c), MatchesRegex(re("<corio::condition object at @ \\[unlocked\\]>")));
  corio::barrier br(3);
  EXPECT_THAT(to_string(br), MatchesRegex(re("<corio::barrier object at @ \\[filling, waiters:0/3\\]>")));
  corio::lock l;
  EXPECT_THAT(streamed(l), MatchesRegex(re("<corio::lock object at @ \\[unlocked\\]>")));
}

TEST(Repr, queues_list_a_few_printable_items_and_their_counts) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::queue<int> q;
  for (int i = 1; i <= 8; ++i) q.put_nowait(i);
  EXPECT_EQ(to_string(q), "<Queue maxsize=0 qsize=8 items=[1, 2, 3, 4, 5, 6, ...] tasks=8>");
  corio::lifo_queue<std::string> lq(4);
  lq.put_nowait("a");
  lq.put_nowait("b");
  EXPECT_EQ(to_string(lq), "<LifoQueue maxsize=4 qsize=2 items=['a', 'b'] tasks=2>");
  corio::priority_queue<std::pair<int, std::string>> pq;
  pq.put_nowait(std::pair<int, std::string>(2, "b"));
  pq.put_nowait(std::pair<int, std::string>(1, "a"));
  EXPECT_EQ(to_string(pq), "<PriorityQueue maxsize=0 qsize=2 items=[(1, 'a'), (2, 'b')] tasks=2>");
  corio::queue<opaque> oq;
  oq.put_nowait(opaque{});
  EXPECT_EQ(to_string(oq), "<Queue maxsize=0 qsize=1 tasks=1>");
  static_cast<void>(oq.get_nowait());
  oq.task_done();
  oq.shutdown();
  EXPECT_EQ(to_string(oq), "<Queue maxsize=0 qsize=0 shutdown>");
  loop.close();
}

// -- threading ----------------------------------------------------------------------

TEST(Repr, thread_shows_name_status_daemon_and_ident) {
  corio::threading::event go;
  corio::threading::thread t(corio::threading::thread_options{.name = "worker", .daemon = false}, [&go] { go.wait(); });
  EXPECT_EQ(to_string(t), "<Thread(worker, initial)>");
  t.start();
  const std::string id = std::to_string(*t.ident());
  EXPECT_EQ(to_string(t), "<Thread(worker, started " + id + ")>");
  EXPECT_EQ(to_string(t.handle()), "<Thread(worker, started " + id + ")>");
  go.set();
  t.join();
  EXPECT_EQ(to_string(t), "<Thread(worker, stopped " + id + ")>");
  EXPECT_THAT(to_string(corio::threading::main_thread()), MatchesRegex("<_MainThread\\(MainThread, started [0-9]+\\)>"));

  corio::threading::thread d(corio::threading::thread_options{.name = "bg", .daemon = true}, [] {});
  EXPECT_EQ(to_string(d), "<Thread(bg, initial daemon)>");
  d.start();
  d.join();
  EXPECT_THAT(to_string(d), MatchesRegex("<Thread\\(bg, stopped daemon [0-9]+\\)>"));

  corio::threading::timer tm(1h, [] {});
  EXPECT_THAT(to_string(tm), MatchesRegex("<Timer\\(Thread-[0-9]+, initial\\)>"));
  tm.start();
  tm.cancel();
  tm.join();
  EXPECT_THAT(to_string(tm), MatchesRegex("<Timer\\(Thread-[0-9]+, stopped [0-9]+\\)>"));
  EXPECT_THAT(to_string(tm.handle()), MatchesRegex("<Timer\\(Thread-[0-9]+, stopped [0-9]+\\)>"));
}

TEST(Repr, threading_primitives_show_state_from_any_thread) {
  corio::threading::lock l;
  EXPECT_THAT(to_string(l), MatchesRegex(re("<unlocked corio::threading::lock object at @>")));
  l.acquire();
  EXPECT_THAT(to_string(l), MatchesRegex(re("<locked corio::threading::lock object at @>")));
  l.release();

  corio::threading::rlock r;
  r.acquire();
  r.acquire();
  const std::string me = std::to_string(corio::threading::get_ident());
  EXPECT_THAT(to_string(r), MatchesRegex(re("<locked corio::threading::rlock object owner=" + me + " count=2 at @>")));
  std::string seen_elsewhere;
  corio::threading::thread other([&] { seen_elsewhere = to_string(r); });
  other.start();
  other.join();
  EXPECT_EQ(seen_elsewhere, to_string(r));
  r.release();
  r.release();
  EXPECT_THAT(to_string(r), MatchesRegex(re("<unlocked corio::threading::rlock object owner=0 count=0 at @>")));

  corio::threading::condition c;
  EXPECT_THAT(to_string(c),
              MatchesRegex(re("<Condition\\(<unlocked corio::threading::rlock object owner=0 count=0 at @>, 0\\)>")));
  corio::threading::event e;
  EXPECT_THAT(to_string(e), MatchesRegex(re("<corio::threading::event at @: unset>")));
  e.set();
  EXPECT_THAT(to_string(e), MatchesRegex(re("<corio::threading::event at @: set>")));
  corio::threading::semaphore s(3);
  EXPECT_THAT(to_string(s), MatchesRegex(re("<corio::threading::semaphore at @: value=3>")));
  corio::threading::bounded_semaphore bs(2);
  bs.acquire();
  EXPECT_THAT(to_string(bs), MatchesRegex(re("<corio::threading::bounded_semaphore at @: value=1/2>")));
  bs.release();
  corio::threading::barrier b(2);
  EXPECT_THAT(to_string(b), MatchesRegex(re("<corio::threading::barrier at @: waiters=0/2>")));
  b.abort();
  EXPECT_THAT(to_string(b), MatchesRegex(re("<corio::threading::barrier at @: broken>")));
}

TEST(Repr, threading_queues_show_counts_and_items) {
  corio::threading::queue<int> q(5);
  q.put(1);
  q.put(2);
  EXPECT_EQ(to_string(q), "<corio::threading::queue maxsize=5 qsize=2 items=[1, 2] tasks=2>");
  corio::threading::priority_queue<int> pq;
  pq.put(3);
  EXPECT_EQ(to_string(pq), "<corio::threading::priority_queue maxsize=0 qsize=1 items=[3] tasks=1>");
  corio::threading::queue<opaque> oq;
  oq.put(opaque{});
  EXPECT_EQ(to_string(oq), "<corio::threading::queue maxsize=0 qsize=1 tasks=1>");
  corio::threading::simple_queue<int> sq;
  sq.put(1);
  EXPECT_EQ(to_string(sq), "<corio::threading::simple_queue qsize=1>");
}

// -- generators and context variables ------------------------------------------------

TEST(Repr, generator_shows_its_function_and_state) {
  auto g = count_to(2);
  EXPECT_THAT(to_string(g), MatchesRegex(re("<generator object \\(anonymous namespace\\)::count_to\\(int\\) at @ "
                                            "\\[GEN_CREATED\\]>")));
  g.next();
  EXPECT_THAT(to_string(g), ::testing::EndsWith("[GEN_SUSPENDED]>"));
  while (g.next()) {
  }
  EXPECT_THAT(to_string(g), MatchesRegex(re("<generator object \\(anonymous namespace\\)::count_to\\(int\\) at @ "
                                            "\\[GEN_CLOSED\\]>")));
  auto moved = std::move(g);
  EXPECT_EQ(to_string(g), "<generator (empty)>");

  auto a = ticks(1);
  EXPECT_THAT(to_string(a), MatchesRegex(re("<async_generator object \\(anonymous namespace\\)::ticks\\(int\\) at @ "
                                            "\\[AGEN_CREATED\\]>")));
}

TEST(Repr, context_var_shows_name_and_default) {
  corio::context_var<int> with_default("request_id", 0);
  EXPECT_THAT(to_string(with_default), MatchesRegex(re("<ContextVar name='request_id' default=0 at @>")));
  corio::context_var<std::string> without("user");
  EXPECT_THAT(to_string(without), MatchesRegex(re("<ContextVar name='user' at @>")));
  auto tok = without.set("ann");
  EXPECT_THAT(to_string(tok), MatchesRegex(re("<Token var=<ContextVar name='user' at @> at @>")));
  without.reset(tok);
  EXPECT_THAT(to_string(tok), MatchesRegex(re("<Token used var=<ContextVar name='user' at @> at @>")));
}

TEST(Repr, concurrent_future_shows_state_and_what_it_returned_or_raised) {
  corio::futures::future<int> f;
  EXPECT_THAT(to_string(f), MatchesRegex(re("<Future at @ state=pending>")));
  EXPECT_TRUE(f.set_running_or_notify_cancel());
  EXPECT_THAT(to_string(f), MatchesRegex(re("<Future at @ state=running>")));
  f.set_result(3);
  EXPECT_THAT(to_string(f), MatchesRegex(re("<Future at @ state=finished returned int>")));
  corio::futures::future<void> e;
  e.set_exception(std::invalid_argument("x"));
  EXPECT_THAT(to_string(e), MatchesRegex(re("<Future at @ state=finished raised std::invalid_argument>")));
  corio::futures::future<void> c;
  c.cancel();
  EXPECT_THAT(to_string(c), MatchesRegex(re("<Future at @ state=cancelled>")));
}

TEST(Repr, threading_objects_print_while_other_threads_use_them) {
  // Snapshots taken while another thread changes the objects: each one is a
  // well-formed text (and ThreadSanitizer sees no race).
  corio::threading::rlock r;
  corio::threading::queue<int> q;
  corio::threading::semaphore s(1);
  corio::threading::thread t([&] {
    for (int i = 0; i < 2000; ++i) {
      r.acquire();
      r.acquire();
      r.release();
      r.release();
      q.put(i);
      static_cast<void>(q.get());
      q.task_done();
      s.acquire();
      s.release();
    }
  });
  t.start();
  const std::string thread_re = "<Thread\\(Thread-[0-9]+, (started [0-9]+|stopped [0-9]+)\\)>";
  for (int i = 0; i < 200; ++i) {
    EXPECT_THAT(to_string(r), MatchesRegex(re("<(un)?locked corio::threading::rlock object owner=[0-9]+ count=[0-2] at @>")));
    EXPECT_THAT(to_string(q), MatchesRegex("<corio::threading::queue maxsize=0 qsize=[01]( items=\\[[0-9]+\\])?( tasks=1)?>"));
    EXPECT_THAT(to_string(s), MatchesRegex(re("<corio::threading::semaphore at @: value=[01]>")));
    EXPECT_THAT(to_string(t), MatchesRegex(thread_re));
  }
  t.join();
  EXPECT_THAT(to_string(t), MatchesRegex("<Thread\\(Thread-[0-9]+, stopped [0-9]+\\)>"));
}

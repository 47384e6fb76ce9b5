// Unit tests for <corio/taskgroups.hpp>.
#include <corio/taskgroups.hpp>

#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "unit/counted.hpp"

using namespace std::chrono_literals;
using corio_test::counted;

namespace {

corio::task<int> value_after(corio::duration d, int v) {
  co_await corio::sleep(d);
  co_return v;
}

corio::task<> fail_after(corio::duration d, std::string what) {
  co_await corio::sleep(d);
  throw std::runtime_error(what);
}

// Sleeps long with a counted local; records a cancellation.
corio::task<> long_child(int& cancelled) {
  counted local;
  try {
    co_await corio::sleep(std::chrono::hours(1));
  } catch (const corio::cancelled_error&) {
    ++cancelled;
    throw;
  }
}

std::vector<std::string> member_messages(const corio::base_exception_group& g) {
  std::vector<std::string> out;
  for (const auto& e : g.exceptions()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      out.push_back(x.what());
    } catch (const corio::base_exception& x) {
      out.push_back(x.what());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(TaskGroup, waits_for_every_child_and_returns_the_body_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<int> results;
  int r = loop.run_until_complete([](std::vector<int>& out) -> corio::task<int> {
    co_return co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<int> {
      for (int s : {3, 1, 2}) {
        tg.create_task([](std::vector<int>& o, int secs) -> corio::task<> {
          o.push_back(co_await value_after(std::chrono::seconds(secs), secs));
        }(out, s));
      }
      co_return 99;
    });
  }(results));
  EXPECT_EQ(r, 99);
  EXPECT_EQ(results, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop.time().time_since_epoch(), 3s);
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(TaskGroup, a_body_without_the_group_parameter_is_accepted) {
  corio::event_loop loop(corio::testing::virtual_time());
  int r = loop.run_until_complete([]() -> corio::task<int> {
    co_return co_await corio::task_group::run([]() -> corio::task<int> { co_return 1; });
  }());
  EXPECT_EQ(r, 1);
}

TEST(TaskGroup, children_may_add_children) {
  corio::event_loop loop(corio::testing::virtual_time());
  int count = 0;
  loop.run_until_complete([](int& n) -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      tg.create_task([](corio::task_group& g, int& c) -> corio::task<> {
        co_await corio::sleep(1s);
        ++c;
        g.create_task([](int& c2) -> corio::task<> {
          co_await corio::sleep(1s);
          ++c2;
        }(c));
      }(tg, n));
      co_return;
    });
  }(count));
  EXPECT_EQ(count, 2);
  EXPECT_EQ(loop.time().time_since_epoch(), 2s);
}

TEST(TaskGroup, names_given_to_children_are_kept) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string name = loop.run_until_complete([]() -> corio::task<std::string> {
    std::string n;
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      n = tg.create_task(value_after(1s, 1), "child-a").get_name();
      co_return;
    });
    co_return n;
  }());
  EXPECT_EQ(name, "child-a");
}

TEST(TaskGroup, a_failing_child_cancels_its_siblings_and_the_body) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  int cancelled = 0;
  bool body_cancelled = false;
  std::vector<std::string> messages;
  loop.run_until_complete([](int& c, bool& bc, std::vector<std::string>& msgs) -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        tg.create_task(long_child(c));
        tg.create_task(long_child(c));
        tg.create_task(fail_after(1s, "child failed"));
        try {
          co_await corio::sleep(std::chrono::hours(2));
        } catch (const corio::cancelled_error&) {
          bc = true;
          throw;
        }
      });
    } catch (const corio::exception_group& g) {
      msgs = member_messages(g);
    }
  }(cancelled, body_cancelled, messages));
  EXPECT_EQ(cancelled, 2);
  EXPECT_TRUE(body_cancelled);
  EXPECT_EQ(messages, std::vector<std::string>{"child failed"}) << "cancellations are not group members";
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(loop.time().time_since_epoch(), 1s);
}

TEST(TaskGroup, every_failure_and_the_body_error_end_up_in_one_group) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> messages = loop.run_until_complete([]() -> corio::task<std::vector<std::string>> {
    try {
      co_await corio::task_group::run([](corio::task_group& tg) -> corio::task<> {
        tg.create_task(fail_after(1s, "a"));
        tg.create_task([]() -> corio::task<> {
          try {
            co_await corio::sleep(5s);
          } catch (const corio::cancelled_error&) {
          }
          throw std::runtime_error("b while cancelled");
        }());
        try {
          co_await corio::sleep(1h);
        } catch (const corio::cancelled_error&) {
          throw std::logic_error("body");  // the body turns its cancellation into an error
        }
      });
    } catch (const corio::exception_group& g) {
      co_return member_messages(g);
    }
    co_return std::vector<std::string>{};
  }());
  EXPECT_EQ(messages, (std::vector<std::string>{"a", "b while cancelled", "body"}));
}

TEST(TaskGroup, the_group_is_caught_as_std_exception_and_matching_finds_members) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::size_t runtime_errors = loop.run_until_complete([]() -> corio::task<std::size_t> {
    try {
      co_await corio::task_group::run([](corio::task_group& tg) -> corio::task<> {
        tg.create_task(fail_after(1s, "x"));
        co_return;
      });
    } catch (const std::exception& e) {
      const auto* g = dynamic_cast<const corio::exception_group*>(&e);
      co_return g ? g->matching<std::runtime_error>().size() : 0u;
    }
    co_return 0u;
  }());
  EXPECT_EQ(runtime_errors, 1u);
}

TEST(TaskGroup, a_child_cancelled_on_its_own_does_not_disturb_the_group) {
  corio::event_loop loop(corio::testing::virtual_time());
  int cancelled = 0;
  int r = loop.run_until_complete([](int& c) -> corio::task<int> {
    co_return co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<int> {
      corio::task<> victim = tg.create_task(long_child(c));
      corio::task<int> other = tg.create_task(value_after(2s, 5));
      co_await corio::sleep(1s);
      victim.cancel();
      co_return co_await other;
    });
  }(cancelled));
  EXPECT_EQ(r, 5);
  EXPECT_EQ(cancelled, 1);
}

TEST(TaskGroup, cancelling_the_parent_cancels_the_children_and_rethrows_cancelled_error) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  int cancelled = 0;
  corio::task<> parent = loop.create_task([](int& c) -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      tg.create_task(long_child(c));
      tg.create_task(long_child(c));
      co_return;
    });
  }(cancelled));
  loop.call_later(1s, [parent]() mutable { parent.cancel("parent"); });
  EXPECT_THROW(loop.run_until_complete(parent), corio::cancelled_error);
  EXPECT_TRUE(parent.cancelled());
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(counted::alive(), 0u);
  EXPECT_EQ(loop.pending_task_count(), 0u);
}

TEST(TaskGroup, the_parent_cancelling_count_is_restored_afterwards) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<std::uint32_t> t;
  t = loop.create_task([](corio::task<std::uint32_t>& me) -> corio::task<std::uint32_t> {
    try {
      co_await corio::task_group::run([](corio::task_group& tg) -> corio::task<> {
        tg.create_task(fail_after(1s, "x"));
        co_await corio::sleep(1h);
      });
    } catch (const corio::exception_group&) {
    }
    co_return me.cancelling();
  }(t));
  EXPECT_EQ(loop.run_until_complete(t), 0u);
}

TEST(TaskGroup, create_task_on_a_group_never_entered_throws_and_drops_the_coroutine_unrun) {
  counted::reset();
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  loop.run_until_complete([](bool& r) -> corio::task<> {
    corio::task_group tg;
    EXPECT_THROW(tg.create_task([](bool& flag, counted) -> corio::task<> {
      flag = true;
      co_return;
    }(r, counted())),
                 std::runtime_error);
    co_return;
  }(ran));
  EXPECT_FALSE(ran);
  EXPECT_EQ(counted::alive(), 0u);
}

TEST(TaskGroup, create_task_after_the_group_finished_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool ran = false;
  loop.run_until_complete([](bool& r) -> corio::task<> {
    corio::task_group tg;
    tg.enter();
    tg.create_task(value_after(1s, 1));
    co_await tg.exit(nullptr);
    EXPECT_THROW(tg.create_task([](bool& flag) -> corio::task<> {
      flag = true;
      co_return;
    }(r)),
                 std::runtime_error);
  }(ran));
  EXPECT_FALSE(ran);
}

TEST(TaskGroup, create_task_while_shutting_down_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  bool threw = false;
  bool ran = false;
  loop.run_until_complete([](bool& th, bool& r) -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        tg.create_task(fail_after(0s, "first"));
        try {
          co_await corio::sleep(1h);
        } catch (const corio::cancelled_error&) {
          try {
            tg.create_task([](bool& flag) -> corio::task<> {
              flag = true;
              co_return;
            }(r));
          } catch (const std::runtime_error&) {
            th = true;
          }
          throw;
        }
      });
    } catch (const corio::exception_group&) {
    }
  }(threw, ran));
  EXPECT_TRUE(threw);
  EXPECT_FALSE(ran);
}

TEST(TaskGroup, enter_twice_or_outside_a_task_throws_runtime_error) {
  corio::task_group outside;
  EXPECT_THROW(outside.enter(), std::runtime_error);
  corio::event_loop loop(corio::testing::virtual_time());
  loop.run_until_complete([]() -> corio::task<> {
    corio::task_group tg;
    tg.enter();
    EXPECT_THROW(tg.enter(), std::runtime_error);
    co_await tg.exit(nullptr);
  }());
}

TEST(TaskGroup, a_keyboard_interrupt_in_the_body_passes_through_ungrouped) {
  corio::event_loop loop(corio::testing::virtual_time());
  int cancelled = 0;
  EXPECT_THROW(loop.run_until_complete([](int& c) -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      tg.create_task(long_child(c));
      co_await corio::sleep(1s);
      throw corio::keyboard_interrupt();
    });
  }(cancelled)),
               corio::keyboard_interrupt);
  EXPECT_EQ(cancelled, 1);
}

// Semantic tests for docs/semantics.md section 5, TaskGroup (CB-36..CB-46).
//
// Partly without a runtime test:
//   CB-46 (context=)  Task contexts (contextvars, section CV) are not part of
//          the library yet; the name half of the rule is tested below, the
//          context half belongs with the contextvars work.
//
// corio's group reacts to a child's completion synchronously, so a failure
// can cancel siblings one loop iteration earlier than in Python: when several
// children fail in the same iteration, fewer of them may get to raise. The
// tests below assert error types, not counts, wherever that matters.
#include "cb_util.hpp"

#include <corio/taskgroups.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using cbt::now_ms;

namespace {

// A corio::base_exception that is neither a cancellation nor a
// keyboard_interrupt / system_exit (Python: class MyBaseExc(BaseException)).
struct my_base_exc : corio::base_exception {
  my_base_exc() : corio::base_exception("my base exception") {}
};

// Type names of the members of a group, sorted, for comparisons.
std::multiset<std::string> error_types(const std::vector<std::exception_ptr>& errs) {
  std::multiset<std::string> out;
  for (const auto& e : errs) {
    try {
      std::rethrow_exception(e);
    } catch (const corio::exception_group&) {
      out.insert("exception_group");
    } catch (const corio::base_exception_group&) {
      out.insert("base_exception_group");
    } catch (const corio::cancelled_error&) {
      out.insert("cancelled_error");
    } catch (const my_base_exc&) {
      out.insert("my_base_exc");
    } catch (const std::logic_error&) {
      out.insert("logic_error");
    } catch (const std::runtime_error&) {
      out.insert("runtime_error");
    } catch (...) {
      out.insert("other");
    }
  }
  return out;
}

std::multiset<std::string> repeated(std::size_t n, const std::string& s) {
  std::multiset<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.insert(s);
  return out;
}

std::set<std::string> distinct(const std::multiset<std::string>& m) { return {m.begin(), m.end()}; }

// Python's `try: await sleep(10) finally: 1/0`.
corio::task<> fails_when_cancelled(corio::duration d = 1h) {
  try {
    co_await corio::sleep(d);
  } catch (const corio::cancelled_error&) {
    throw std::logic_error("failed while cancelled");
  }
}

}  // namespace

TEST(CB, CB_36_exiting_the_group_waits_for_every_child_including_ones_children_create) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  corio::task<int> t1, t2;
  std::int64_t body_done_at = -1, group_done_at = -1;
  auto spawner = [&](corio::task_group& g) -> corio::task<> {
    co_await corio::sleep(15ms);
    g.create_task(cbt::sleep_logging_cancel(30ms, log, "grandchild"));
  };
  auto body = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      t1 = tg.create_task(cbt::value_after(10ms, 1));
      t2 = tg.create_task(cbt::value_after(20ms, 2));
      tg.create_task(spawner(tg));
      body_done_at = now_ms();
      co_return;
    });
    group_done_at = now_ms();
  };
  loop.run_until_complete(body());
  EXPECT_EQ(body_done_at, 0);
  EXPECT_EQ(group_done_at, 45);
  EXPECT_EQ(t1.result(), 1);
  EXPECT_EQ(t2.result(), 2);
  EXPECT_EQ(log, (std::vector<std::string>{"grandchild done at 45"}));
}

TEST(CB, CB_36_the_group_returns_the_value_of_its_body) {
  corio::event_loop loop(corio::testing::virtual_time());
  auto body = [&]() -> corio::task<int> {
    co_return co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<int> {
      auto a = tg.create_task(cbt::value_after(5ms, 20));
      auto b = tg.create_task(cbt::value_after(7ms, 22));
      co_return co_await a + co_await b;
    });
  };
  EXPECT_EQ(loop.run_until_complete(body()), 42);
}

TEST(CB, CB_37_a_child_cancelled_on_its_own_affects_neither_the_group_nor_its_siblings) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<> victim;
  corio::task<int> sibling;
  bool threw = false;
  std::uint32_t cancelling_after = 99;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        victim = tg.create_task(cbt::nap(1h));
        sibling = tg.create_task(cbt::value_after(10ms, 2));
        co_await corio::sleep(1ms);
        victim.cancel();
        co_await corio::sleep(1ms);  // the body is not cancelled either
      });
    } catch (...) {
      threw = true;
    }
    cancelling_after = corio::current_task().cancelling();
  };
  loop.run_until_complete(body());
  EXPECT_FALSE(threw);
  EXPECT_TRUE(victim.cancelled());
  EXPECT_EQ(sibling.result(), 2);
  EXPECT_EQ(cancelling_after, 0u);
  EXPECT_EQ(now_ms(loop), 10);
}

TEST(CB, CB_38_a_child_failure_cancels_siblings_and_body_then_raises_all_child_errors) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  std::vector<std::exception_ptr> members;
  std::int64_t raised_at = -1;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        tg.create_task(cbt::fail_after(10ms, "A"));
        tg.create_task(cbt::sleep_logging_cancel(1h, log, "B"));
        tg.create_task(fails_when_cancelled());
        try {
          co_await corio::sleep(1h);
        } catch (const corio::cancelled_error&) {
          log.push_back("body cancelled at " + std::to_string(now_ms()));
          throw;
        }
      });
    } catch (const corio::exception_group& eg) {
      members = eg.exceptions();
      raised_at = now_ms();
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(raised_at, 10);
  EXPECT_EQ(error_types(members), (std::multiset<std::string>{"logic_error", "runtime_error"}));  // no cancellations
  std::sort(log.begin(), log.end());
  EXPECT_EQ(log, (std::vector<std::string>{"B cancelled at 10", "body cancelled at 10"}));
}

TEST(CB, CB_38_siblings_and_the_body_are_cancelled_and_the_code_after_the_group_is_skipped) {
  // CPython's test_cancel_children_on_child_error.
  corio::event_loop loop(corio::testing::virtual_time());
  int num = 0;
  bool t2_cancel = false, runner_cancel = false;
  std::set<std::string> types;
  auto foo2 = [&]() -> corio::task<> {
    try {
      co_await corio::sleep(1s);
    } catch (const corio::cancelled_error&) {
      t2_cancel = true;
      throw;
    }
    num += 1;
  };
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
      g.create_task(cbt::fail_after(100ms, "1/0"));
      g.create_task(cbt::fail_after(100ms, "1/0"));
      g.create_task(cbt::fail_after(100ms, "1/0"));
      g.create_task(foo2());
      try {
        co_await corio::sleep(10s);
      } catch (const corio::cancelled_error&) {
        runner_cancel = true;
        throw;
      }
    });
    num += 10;
  };
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::create_task(runner());
    } catch (const corio::exception_group& eg) {
      types = distinct(error_types(eg.exceptions()));
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(types, (std::set<std::string>{"runtime_error"}));
  EXPECT_EQ(num, 0);
  EXPECT_TRUE(t2_cancel);
  EXPECT_TRUE(runner_cancel);
}

TEST(CB, CB_39_an_error_in_the_body_cancels_the_children_and_joins_their_errors) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  std::vector<std::exception_ptr> members;
  std::int64_t raised_at = -1;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        tg.create_task(cbt::sleep_logging_cancel(1h, log, "sleeper"));
        tg.create_task(fails_when_cancelled());
        co_await corio::sleep(5ms);
        throw std::runtime_error("body");
      });
    } catch (const corio::exception_group& eg) {
      members = eg.exceptions();
      raised_at = now_ms();
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(raised_at, 5);
  EXPECT_EQ(error_types(members), (std::multiset<std::string>{"logic_error", "runtime_error"}));
  bool has_body_error = false;
  for (const auto& e : members) has_body_error = has_body_error || cbt::message_of(e) == "body";
  EXPECT_TRUE(has_body_error);
  EXPECT_EQ(log, (std::vector<std::string>{"sleeper cancelled at 5"}));
}

TEST(CB, CB_39_a_body_error_alone_is_raised_as_a_group_of_one_and_children_are_cancelled) {
  // CPython's test_taskgroup_09.
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> t1, t2;
  std::vector<std::exception_ptr> members;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        t1 = g.create_task(cbt::value_after(1s, 42));
        t2 = g.create_task(cbt::value_after(2s, 11));
        co_await corio::sleep(100ms);
        throw std::runtime_error("1/0");
      });
    } catch (const corio::exception_group& eg) {
      members = eg.exceptions();
    }
  };
  loop.run_until_complete(body());
  ASSERT_EQ(members.size(), 1u);
  EXPECT_EQ(cbt::message_of(members[0]), "1/0");
  EXPECT_TRUE(t1.cancelled());
  EXPECT_TRUE(t2.cancelled());
}

TEST(CB, CB_39_a_body_turning_the_groups_cancel_into_an_error_joins_it_with_the_child_error) {
  // CPython's test_taskgroup_19.
  corio::event_loop loop(corio::testing::virtual_time());
  std::set<std::string> types;
  auto nested = []() -> corio::task<> {
    try {
      co_await corio::sleep(10s);
    } catch (...) {
      throw std::logic_error("MyExc");
    }
  };
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::fail_after(100ms, "1/0"));
        co_await nested();
      });
    } catch (const corio::exception_group& eg) {
      types = distinct(error_types(eg.exceptions()));
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(types, (std::set<std::string>{"logic_error", "runtime_error"}));
}

TEST(CB, CB_40_cancelling_the_parent_cancels_the_children_and_raises_cancelled_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::string> log;
  bool after_group = false;
  int body_saw_cancel = 0;
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      tg.create_task(cbt::sleep_logging_cancel(1h, log, "c1"));
      tg.create_task(cbt::sleep_logging_cancel(1h, log, "c2"));
      try {
        co_await corio::sleep(10s);
      } catch (const corio::cancelled_error&) {
        body_saw_cancel += 10;
        throw;
      }
    });
    after_group = true;
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(5ms), [&] { r.cancel(); });
  EXPECT_THROW(loop.run_until_complete(r), corio::cancelled_error);  // not a group
  EXPECT_TRUE(r.cancelled());
  EXPECT_FALSE(after_group);
  EXPECT_EQ(body_saw_cancel, 10);
  std::sort(log.begin(), log.end());
  EXPECT_EQ(log, (std::vector<std::string>{"c1 cancelled at 5", "c2 cancelled at 5"}));
}

TEST(CB, CB_40_cancelling_the_parent_while_the_group_waits_for_children_raises_cancelled_error) {
  // CPython's test_taskgroup_22: the body has finished; the group is exiting.
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task<int> child;
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
      child = g.create_task(cbt::value_after(1s, 42));
      co_return;
    });
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(50ms), [&] { r.cancel(); });
  EXPECT_THROW(loop.run_until_complete(r), corio::cancelled_error);
  EXPECT_TRUE(r.cancelled());
  EXPECT_TRUE(child.cancelled());
  EXPECT_EQ(now_ms(loop), 50);
}

TEST(CB, CB_40_children_failing_while_cancelled_with_the_parent_make_an_exception_group) {
  // CPython's test_taskgroup_08.
  corio::event_loop loop(corio::testing::virtual_time());
  std::vector<std::exception_ptr> members;
  bool got_group = false;
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
      for (int i = 0; i < 5; ++i) g.create_task(fails_when_cancelled(10s));
      co_await corio::sleep(10s);
    });
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(100ms), [&] { r.cancel(); });
  try {
    loop.run_until_complete(r);
  } catch (const corio::exception_group& eg) {
    got_group = true;
    members = eg.exceptions();
  } catch (const corio::cancelled_error&) {
  }
  EXPECT_TRUE(got_group);
  EXPECT_EQ(error_types(members), (repeated(5, "logic_error")));
  EXPECT_FALSE(r.cancelled());
}

TEST(CB, CB_41_a_body_converting_the_parent_cancel_into_an_error_gives_a_group_of_it) {
  // CPython's test_taskgroup_18.
  corio::event_loop loop(corio::testing::virtual_time());
  std::set<std::string> types;
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
      g.create_task(cbt::value_after(1s, 42));
      try {
        co_await corio::sleep(10s);
      } catch (const corio::cancelled_error&) {
        throw std::logic_error("ValueError");
      }
    });
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(100ms), [&] { r.cancel(); });
  try {
    loop.run_until_complete(r);
    ADD_FAILURE() << "expected an exception_group";
  } catch (const corio::exception_group& eg) {
    types = distinct(error_types(eg.exceptions()));
  } catch (const corio::cancelled_error&) {
    ADD_FAILURE() << "expected an exception_group, got cancelled_error";
  }
  EXPECT_EQ(types, (std::set<std::string>{"logic_error"}));
}

TEST(CB, CB_41_a_child_failing_during_the_bodys_cancel_cleanup_still_gives_an_exception_group) {
  // CPython's test_taskgroup_15.
  corio::event_loop loop(corio::testing::virtual_time());
  std::set<std::string> types;
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& g1) -> corio::task<> {
      g1.create_task(cbt::fail_after(300ms, "1/0"));
      std::exception_ptr ep;
      try {
        co_await corio::sleep(10s);
      } catch (const corio::cancelled_error&) {
        ep = std::current_exception();
      }
      co_await corio::sleep(500ms);  // cleanup, interrupted by the child's failure
      std::rethrow_exception(ep);
    });
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(100ms), [&] { r.cancel(); });
  try {
    loop.run_until_complete(r);
    ADD_FAILURE() << "expected an exception_group";
  } catch (const corio::exception_group& eg) {
    types = distinct(error_types(eg.exceptions()));
  } catch (const corio::cancelled_error&) {
    ADD_FAILURE() << "expected an exception_group, got cancelled_error";
  }
  EXPECT_EQ(types, (std::set<std::string>{"runtime_error"}));
  EXPECT_EQ(now_ms(loop), 300);
}

TEST(CB, CB_41_the_same_holds_when_the_group_runs_in_a_task_awaited_by_the_cancelled_one) {
  // CPython's test_taskgroup_16.
  corio::event_loop loop(corio::testing::virtual_time());
  std::set<std::string> types;
  auto nested_runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& g1) -> corio::task<> {
      g1.create_task(cbt::fail_after(300ms, "1/0"));
      std::exception_ptr ep;
      try {
        co_await corio::sleep(10s);
      } catch (const corio::cancelled_error&) {
        ep = std::current_exception();
      }
      co_await corio::sleep(500ms);
      std::rethrow_exception(ep);
    });
  };
  auto runner = [&]() -> corio::task<> {
    auto t = corio::create_task(nested_runner());
    co_await t;
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(100ms), [&] { r.cancel(); });
  try {
    loop.run_until_complete(r);
    ADD_FAILURE() << "expected an exception_group";
  } catch (const corio::exception_group& eg) {
    types = distinct(error_types(eg.exceptions()));
  } catch (const corio::cancelled_error&) {
    ADD_FAILURE() << "expected an exception_group, got cancelled_error";
  }
  EXPECT_EQ(types, (std::set<std::string>{"runtime_error"}));
}

TEST(CB, CB_42_an_inner_groups_errors_reach_the_outer_group_as_one_nested_group) {
  // CPython's test_taskgroup_11.
  corio::event_loop loop(corio::testing::virtual_time());
  std::multiset<std::string> outer_types, inner_types;
  auto runner = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group&) -> corio::task<> {
      co_await corio::task_group::run([&](corio::task_group& g2) -> corio::task<> {
        for (int i = 0; i < 5; ++i) g2.create_task(fails_when_cancelled(10s));
        co_await corio::sleep(10s);
      });
    });
  };
  auto r = loop.create_task(runner());
  loop.call_at(cbt::at(100ms), [&] { r.cancel(); });
  try {
    loop.run_until_complete(r);
    ADD_FAILURE() << "expected an exception_group";
  } catch (const corio::exception_group& eg) {
    outer_types = error_types(eg.exceptions());
    if (outer_types.size() == 1) {
      try {
        std::rethrow_exception(eg.exceptions()[0]);
      } catch (const corio::exception_group& inner) {
        inner_types = error_types(inner.exceptions());
      } catch (...) {
      }
    }
  } catch (const corio::cancelled_error&) {
    ADD_FAILURE() << "expected an exception_group, got cancelled_error";
  }
  EXPECT_EQ(outer_types, (std::multiset<std::string>{"exception_group"}));
  EXPECT_EQ(inner_types, (repeated(5, "logic_error")));
}

TEST(CB, CB_42_a_failure_in_the_outer_group_cancels_the_inner_group) {
  // CPython's test_taskgroup_13.
  corio::event_loop loop(corio::testing::virtual_time());
  std::multiset<std::string> types;
  std::vector<std::string> log;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g1) -> corio::task<> {
        g1.create_task(cbt::fail_after(100ms, "0.1"));
        co_await corio::task_group::run([&](corio::task_group& g2) -> corio::task<> {
          g2.create_task(cbt::sleep_logging_cancel(10s, log, "inner child"));
          co_return;
        });
      });
    } catch (const corio::exception_group& eg) {
      types = error_types(eg.exceptions());
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(types, (std::multiset<std::string>{"runtime_error"}));
  EXPECT_EQ(log, (std::vector<std::string>{"inner child cancelled at 100"}));
  EXPECT_EQ(now_ms(loop), 100);
}

TEST(CB, CB_42_an_inner_group_failure_cancels_the_outer_groups_children_and_nests) {
  // CPython's test_taskgroup_14.
  corio::event_loop loop(corio::testing::virtual_time());
  std::multiset<std::string> outer_types, inner_types;
  std::vector<std::string> log;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g1) -> corio::task<> {
        g1.create_task(cbt::sleep_logging_cancel(10s, log, "outer child"));
        co_await corio::task_group::run([&](corio::task_group& g2) -> corio::task<> {
          g2.create_task(cbt::fail_after(100ms, "0.1"));
          co_return;
        });
      });
    } catch (const corio::exception_group& eg) {
      outer_types = error_types(eg.exceptions());
      if (eg.exceptions().size() == 1) {
        try {
          std::rethrow_exception(eg.exceptions()[0]);
        } catch (const corio::exception_group& inner) {
          inner_types = error_types(inner.exceptions());
        } catch (...) {
        }
      }
    }
  };
  loop.run_until_complete(body());
  EXPECT_EQ(outer_types, (std::multiset<std::string>{"exception_group"}));
  EXPECT_EQ(inner_types, (std::multiset<std::string>{"runtime_error"}));
  EXPECT_EQ(log, (std::vector<std::string>{"outer child cancelled at 100"}));
}

TEST(CB, CB_43_keyboard_interrupt_and_system_exit_from_the_body_propagate_ungrouped) {
  // CPython's test_taskgroup_20, and the same with SystemExit.
  corio::event_loop loop(corio::testing::virtual_time());
  bool got_interrupt = false, got_exit = false, got_group = false;
  int exit_code = -1;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::fail_after(100ms, "1/0"));
        try {
          co_await corio::sleep(10s);
        } catch (...) {
          throw corio::keyboard_interrupt();
        }
      });
    } catch (const corio::keyboard_interrupt&) {
      got_interrupt = true;
    } catch (const corio::base_exception_group&) {
      got_group = true;
    }
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::nap(10s));
        co_await corio::sleep(1ms);
        throw corio::system_exit(3);
      });
    } catch (const corio::system_exit& e) {
      got_exit = true;
      exit_code = e.code();
    } catch (const corio::base_exception_group&) {
      got_group = true;
    }
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(got_interrupt);
  EXPECT_TRUE(got_exit);
  EXPECT_EQ(exit_code, 3);
  EXPECT_FALSE(got_group);
}

TEST(CB, CB_43_other_base_exceptions_make_a_base_exception_group) {
  // CPython's test_taskgroup_20a (in the body) and test_taskgroup_21a (in a child).
  corio::event_loop loop(corio::testing::virtual_time());
  std::set<std::string> body_case, child_case;
  bool plain_group = false;
  auto crash_base_soon = []() -> corio::task<> {
    co_await corio::sleep(100ms);
    throw my_base_exc();
  };
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::fail_after(100ms, "1/0"));
        try {
          co_await corio::sleep(10s);
        } catch (...) {
          throw my_base_exc();
        }
      });
    } catch (const corio::exception_group&) {
      plain_group = true;
    } catch (const corio::base_exception_group& eg) {
      body_case = distinct(error_types(eg.exceptions()));
    }
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(crash_base_soon());
        try {
          co_await corio::sleep(10s);
        } catch (...) {
          throw std::invalid_argument("TypeError");
        }
      });
    } catch (const corio::exception_group&) {
      plain_group = true;
    } catch (const corio::base_exception_group& eg) {
      child_case = distinct(error_types(eg.exceptions()));
    }
  };
  loop.run_until_complete(body());
  EXPECT_FALSE(plain_group);
  EXPECT_EQ(body_case, (std::set<std::string>{"my_base_exc", "runtime_error"}));
  EXPECT_EQ(child_case, (std::set<std::string>{"my_base_exc", "logic_error"}));  // invalid_argument is a logic_error
}

TEST(CB, CB_44_create_task_after_the_group_started_aborting_throws_and_never_runs_the_coroutine) {
  // CPython's test_taskgroup_no_create_task_after_failure.
  corio::event_loop loop(corio::testing::virtual_time());
  bool refused = false, late_ran = false;
  std::set<std::string> types;
  auto late = [&]() -> corio::task<> {
    late_ran = true;
    co_return;
  };
  auto coro2 = [&](corio::task_group& g) -> corio::task<> {
    try {
      co_await corio::sleep(1s);
    } catch (const corio::cancelled_error&) {
      try {
        g.create_task(late());
      } catch (const std::runtime_error&) {
        refused = true;
      }
      throw;
    }
  };
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::fail_after(1ms, "1/0"));
        g.create_task(coro2(g));
        co_return;
      });
    } catch (const corio::exception_group& eg) {
      types = distinct(error_types(eg.exceptions()));
    }
    co_await corio::sleep(10ms);
  };
  loop.run_until_complete(body());
  EXPECT_TRUE(refused);
  EXPECT_FALSE(late_ran);
  EXPECT_EQ(types, (std::set<std::string>{"runtime_error"}));
}

TEST(CB, CB_44_create_task_on_a_finished_or_never_entered_group_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string finished_msg, not_entered_msg;
  bool ran = false;
  auto mark = [&]() -> corio::task<> {
    ran = true;
    co_return;
  };
  auto body = [&]() -> corio::task<> {
    corio::task_group fresh;
    try {
      fresh.create_task(mark());
    } catch (const std::runtime_error& e) {
      not_entered_msg = e.what();
    }
    corio::task_group tg;
    tg.enter();
    co_await tg.exit(nullptr);
    try {
      tg.create_task(mark());
    } catch (const std::runtime_error& e) {
      finished_msg = e.what();
    }
    co_await corio::sleep(1ms);
  };
  loop.run_until_complete(body());
  EXPECT_NE(not_entered_msg.find("not been entered"), std::string::npos) << not_entered_msg;
  EXPECT_NE(finished_msg.find("is finished"), std::string::npos) << finished_msg;
  EXPECT_FALSE(ran);
}

TEST(CB, CB_44_entering_a_group_twice_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string twice, inside_run;
  auto body = [&]() -> corio::task<> {
    corio::task_group tg;
    tg.enter();
    try {
      tg.enter();
    } catch (const std::runtime_error& e) {
      twice = e.what();
    }
    co_await tg.exit(nullptr);
    co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
      try {
        g.enter();
      } catch (const std::runtime_error& e) {
        inside_run = e.what();
      }
      co_return;
    });
  };
  loop.run_until_complete(body());
  EXPECT_NE(twice.find("has already been entered"), std::string::npos) << twice;
  EXPECT_NE(inside_run.find("has already been entered"), std::string::npos) << inside_run;
}

TEST(CB, CB_44_entering_a_group_outside_a_task_throws_runtime_error) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::task_group no_loop;
  EXPECT_THROW(no_loop.enter(), std::runtime_error);
  bool threw = false;
  loop.call_soon([&] {
    corio::task_group in_callback;
    try {
      in_callback.enter();  // the loop runs, but no task does
    } catch (const std::runtime_error&) {
      threw = true;
    }
  });
  corio::testing::run_briefly(loop);
  EXPECT_TRUE(threw);
}

TEST(CB, CB_45_after_a_child_failure_the_parents_cancelling_count_is_restored) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::uint32_t cancelling_after = 99;
  bool caught = false, slept_after = false;
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::fail_after(5ms, "boom"));
        co_await corio::sleep(1h);
      });
    } catch (const corio::exception_group&) {
      caught = true;
    }
    cancelling_after = corio::current_task().cancelling();
    co_await corio::sleep(10ms);  // the group's own cancel request is gone
    slept_after = true;
  };
  auto t = loop.create_task(body());
  loop.run_until_complete(t);
  EXPECT_TRUE(caught);
  EXPECT_EQ(cancelling_after, 0u);
  EXPECT_TRUE(slept_after);
  EXPECT_FALSE(t.cancelled());
  EXPECT_EQ(now_ms(loop), 15);
}

TEST(CB, CB_45_cancelling_is_restored_when_the_body_converts_the_groups_cancel_into_an_error) {
  // CPython's test_taskgroup_context_manager_exit_raises.
  corio::event_loop loop(corio::testing::virtual_time());
  std::uint32_t cancelling_in_handler = 99;
  std::size_t members = 0;
  auto raise_exc = []() -> corio::task<> {
    throw std::domain_error("CustomException");
    co_return;
  };
  auto body = [&]() -> corio::task<> {
    try {
      co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
        // the "database" context manager whose exit raises
        try {
          tg.create_task(raise_exc());
          co_await corio::sleep(1s);
        } catch (...) {
        }
        throw std::domain_error("CustomException");
      });
    } catch (const corio::exception_group& eg) {
      cancelling_in_handler = corio::current_task().cancelling();
      members = eg.matching<std::domain_error>().size();
    }
  };
  loop.run_until_complete(loop.create_task(body()));
  EXPECT_EQ(cancelling_in_handler, 0u);
  EXPECT_EQ(members, 2u);
}

TEST(CB, CB_45_the_parents_cancelling_count_returns_to_a_nonzero_entry_value) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::uint32_t at_entry = 0, after_clean = 99, after_failure = 99;
  auto body = [&]() -> corio::task<> {
    try {
      corio::current_task().cancel();
      co_await corio::sleep(1s);
    } catch (const corio::cancelled_error&) {
    }
    at_entry = corio::current_task().cancelling();
    co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
      g.create_task(cbt::nap(1ms));
      co_return;
    });
    after_clean = corio::current_task().cancelling();
    try {
      co_await corio::task_group::run([&](corio::task_group& g) -> corio::task<> {
        g.create_task(cbt::fail_after(1ms, "boom"));
        co_await corio::sleep(1h);
      });
    } catch (const corio::exception_group&) {
      after_failure = corio::current_task().cancelling();
    }
  };
  auto t = loop.create_task(body());
  try {
    loop.run_until_complete(t);
  } catch (const corio::base_exception&) {
  }
  EXPECT_EQ(at_entry, 1u);
  EXPECT_EQ(after_clean, 1u);
  EXPECT_EQ(after_failure, 1u);
}

TEST(CB, CB_46_tg_create_task_honours_the_name) {
  corio::event_loop loop(corio::testing::virtual_time());
  std::string by_string, by_options, default_name;
  auto body = [&]() -> corio::task<> {
    co_await corio::task_group::run([&](corio::task_group& tg) -> corio::task<> {
      auto a = tg.create_task(cbt::nap(1ms), "worker-1");
      corio::task_options opts;
      opts.name = "worker-2";
      auto b = tg.create_task(cbt::nap(1ms), opts);
      auto c = tg.create_task(cbt::nap(1ms));
      by_string = a.get_name();
      by_options = b.get_name();
      default_name = c.get_name();
      co_return;
    });
  };
  loop.run_until_complete(body());
  EXPECT_EQ(by_string, "worker-1");
  EXPECT_EQ(by_options, "worker-2");
  EXPECT_EQ(default_name.rfind("Task-", 0), 0u) << default_name;
}

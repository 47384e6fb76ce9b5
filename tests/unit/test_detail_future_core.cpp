// White-box tests of the listener lists in future_core
// (corio/detail/future_core.hpp): the lone listener stored without a node,
// its conversion to a node when a second listener arrives, removal, and the
// order of notification.
#include <corio/detail/future_core.hpp>

#include <corio/futures.hpp>
#include <corio/testing/loop.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

using corio::detail::future_core;
using corio::detail::listener;
using corio::detail::listener_node;
using corio::detail::node_kind;

namespace {

// Every notification, in order: (listener name, future).
using journal = std::vector<std::pair<std::string, future_core*>>;

struct named_lone : listener {
  std::string name;
  journal* log;
  named_lone(std::string n, journal& j) : name(std::move(n)), log(&j) {
    on_done = [](listener* self, future_core* f) noexcept {
      auto* me = static_cast<named_lone*>(self);
      me->log->emplace_back(me->name, f);
    };
  }
};

struct named_node : listener_node {
  std::string name;
  journal* log;
  named_node(std::string n, journal& j) : name(std::move(n)), log(&j) {
    on_done = [](listener* self, future_core* f) noexcept {
      auto* me = static_cast<named_node*>(static_cast<listener_node*>(self));
      me->log->emplace_back(me->name, f);
    };
  }
};

std::vector<std::string> names(const journal& j) {
  std::vector<std::string> out;
  for (const auto& e : j) out.push_back(e.first);
  return out;
}

// A bare core: listeners and completion need nothing of the typed layers.
struct bare_core : future_core {
  bare_core() : future_core(node_kind::future) {}
};

}  // namespace

TEST(FutureCore, a_lone_listener_needs_no_node_and_is_told_once) {
  journal j;
  bare_core f;
  named_lone a("a", j);
  EXPECT_FALSE(f.has_listeners());
  f.add_lone_listener(&a);
  EXPECT_TRUE(f.has_listeners());
  EXPECT_EQ(f.waiters_ & 1u, 1u) << "stored tagged, in place of a list";
  f.finish(future_core::st_result);
  EXPECT_TRUE(f.done());
  EXPECT_FALSE(f.has_listeners());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0], std::make_pair(std::string("a"), static_cast<future_core*>(&f)));
  EXPECT_EQ(f.refs, 1u) << "the reference taken during notification is given back";
}

TEST(FutureCore, one_lone_listener_may_watch_many_futures) {
  journal j;
  bare_core f1, f2, f3;
  named_lone shared("g", j);
  for (future_core* f : {static_cast<future_core*>(&f1), static_cast<future_core*>(&f2), static_cast<future_core*>(&f3)})
    f->add_lone_listener(&shared);
  f2.finish(future_core::st_result);
  f3.finish(future_core::st_exception);
  f1.finish(future_core::st_cancelled);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0].second, &f2);
  EXPECT_EQ(j[1].second, &f3);
  EXPECT_EQ(j[2].second, &f1);
}

TEST(FutureCore, a_node_after_a_lone_listener_turns_the_lone_one_into_a_node_first) {
  journal j;
  bare_core f;
  named_lone a("a", j);
  named_node b("b", j);
  f.add_lone_listener(&a);
  f.add_listener(&b);
  EXPECT_EQ(f.waiters_ & 1u, 0u) << "now a list";
  f.finish(future_core::st_result);
  EXPECT_EQ(names(j), (std::vector<std::string>{"a", "b"}));
}

TEST(FutureCore, a_second_lone_listener_keeps_both_in_order) {
  journal j;
  bare_core f;
  named_lone a("a", j), b("b", j);
  f.add_lone_listener(&a);
  f.add_lone_listener(&b);
  f.finish(future_core::st_result);
  EXPECT_EQ(names(j), (std::vector<std::string>{"a", "b"}));
}

TEST(FutureCore, listeners_are_told_in_registration_order_whatever_their_kind) {
  journal j;
  bare_core f;
  named_node n1("n1", j), n3("n3", j), n5("n5", j), n6("n6", j);
  named_lone l2("l2", j), l4("l4", j);
  f.add_listener(&n1);
  f.add_lone_listener(&l2);
  f.add_listener(&n3);
  f.add_lone_listener(&l4);
  f.add_listener(&n5);
  f.add_listener(&n6);
  f.finish(future_core::st_result);
  EXPECT_EQ(names(j), (std::vector<std::string>{"n1", "l2", "n3", "l4", "n5", "n6"}));
}

TEST(FutureCore, remove_lone_listener_takes_out_a_lone_listener) {
  journal j;
  bare_core f;
  named_lone a("a", j), other("other", j);
  f.add_lone_listener(&a);
  EXPECT_FALSE(f.remove_lone_listener(&other));
  EXPECT_TRUE(f.remove_lone_listener(&a));
  EXPECT_FALSE(f.has_listeners());
  EXPECT_FALSE(f.remove_lone_listener(&a));
  f.finish(future_core::st_result);
  EXPECT_TRUE(j.empty());
}

TEST(FutureCore, remove_lone_listener_finds_a_converted_lone_listener) {
  journal j;
  bare_core f;
  named_lone a("a", j), c("c", j);
  named_node b("b", j);
  f.add_lone_listener(&a);
  f.add_listener(&b);
  f.add_lone_listener(&c);
  EXPECT_TRUE(f.remove_lone_listener(&a));
  EXPECT_FALSE(f.remove_lone_listener(&a));
  f.finish(future_core::st_result);
  EXPECT_EQ(names(j), (std::vector<std::string>{"b", "c"}));
}

TEST(FutureCore, a_lone_listener_registered_twice_is_removed_one_registration_at_a_time) {
  journal j;
  bare_core f;
  named_lone a("a", j);
  f.add_lone_listener(&a);
  f.add_lone_listener(&a);
  EXPECT_TRUE(f.remove_lone_listener(&a));
  f.finish(future_core::st_result);
  EXPECT_EQ(names(j), std::vector<std::string>{"a"});
}

TEST(FutureCore, remove_listener_takes_out_only_that_node) {
  journal j;
  bare_core f;
  named_node a("a", j), b("b", j), c("c", j), stranger("s", j);
  f.add_listener(&a);
  f.add_listener(&b);
  f.add_listener(&c);
  EXPECT_FALSE(f.remove_listener(&stranger));
  EXPECT_TRUE(f.remove_listener(&b));
  EXPECT_FALSE(f.remove_listener(&b));
  EXPECT_TRUE(f.remove_listener(&c));  // the tail
  EXPECT_TRUE(f.remove_listener(&a));  // the head
  EXPECT_FALSE(f.has_listeners());
  f.finish(future_core::st_result);
  EXPECT_TRUE(j.empty());
}

TEST(FutureCore, remove_listener_leaves_a_lone_listener_alone) {
  journal j;
  bare_core f;
  named_lone a("a", j);
  named_node n("n", j);
  f.add_lone_listener(&a);
  EXPECT_FALSE(f.remove_listener(&n));
  f.finish(future_core::st_result);
  EXPECT_EQ(names(j), std::vector<std::string>{"a"});
}

TEST(FutureCore, a_listener_removing_a_later_one_during_notification_does_not_unschedule_it) {
  // Python copies the callback list before scheduling: what was registered
  // when the future completed is told, exactly once.
  journal j;
  bare_core f;
  struct remover : listener_node {
    bare_core* fut;
    listener_node* victim;
    journal* log;
    bool removed = true;
  } r;
  named_node later("later", j);
  r.fut = &f;
  r.victim = &later;
  r.log = &j;
  r.on_done = [](listener* self, future_core*) noexcept {
    auto* me = static_cast<remover*>(static_cast<listener_node*>(self));
    me->log->emplace_back("remover", me->fut);
    me->removed = me->fut->remove_listener(me->victim);
  };
  f.add_listener(&r);
  f.add_listener(&later);
  f.finish(future_core::st_result);
  EXPECT_FALSE(r.removed) << "the list was already taken";
  EXPECT_EQ(names(j), (std::vector<std::string>{"remover", "later"}));
}

TEST(FutureCore, cancel_now_completes_once_and_tells_listeners) {
  corio::event_loop loop(corio::testing::virtual_time());
  corio::future<int> fut = loop.create_future<int>();
  future_core* f = fut.core();
  journal j;
  named_lone a("a", j);
  f->add_lone_listener(&a);
  EXPECT_TRUE(f->cancel_now("why"));
  EXPECT_TRUE(f->cancelled());
  EXPECT_FALSE(f->cancel_now("again"));
  EXPECT_EQ(names(j), std::vector<std::string>{"a"});
  try {
    std::rethrow_exception(f->exc_slot());
  } catch (const corio::cancelled_error& e) {
    EXPECT_STREQ(e.what(), "why");
  }
}

TEST(FutureCore, a_future_dropped_with_converted_lone_listeners_frees_their_nodes) {
  // Run under LeakSanitizer, this catches nodes the future forgot.
  corio::event_loop loop(corio::testing::virtual_time());
  journal j;
  named_lone a("a", j), b("b", j), c("c", j);
  {
    corio::future<int> fut = loop.create_future<int>();
    fut.core()->add_lone_listener(&a);
    fut.core()->add_lone_listener(&b);
    fut.core()->add_lone_listener(&c);
  }
  EXPECT_TRUE(j.empty()) << "a future that never completes tells nobody";
}

// docs/semantics.md section 16, a sync manager's containers: dict, list,
// Value, Array and Namespace (MG-06, MG-10, MG-12, MG-13).
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>
#include <corio/runners.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {
struct point {
  int x = 0, y = 0;
  std::string label;
  CORIO_CODEC(x, y, label)
  friend bool operator==(const point&, const point&) = default;
};
}  // namespace

TEST_F(mp_test, MG_13_a_dict_proxy_forwards_the_dict_methods) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>({{"a", 1}, {"b", 2}});
  EXPECT_EQ(d.size(), 2u);
  d.set("c", 3);
  d.set("a", 10);  // keeps its place
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(d.values(), (std::vector<int>{10, 2, 3}));
  EXPECT_EQ(d.items().back(), (std::pair<std::string, int>{"c", 3}));
  EXPECT_TRUE(d.contains("b"));
  EXPECT_FALSE(d.contains("z"));
  EXPECT_EQ(d.get("z", -1), -1);
  EXPECT_EQ(d.find("z"), std::nullopt);
  EXPECT_EQ(d.find("b"), 2);
  EXPECT_EQ(d.setdefault("b", 7), 2);
  EXPECT_EQ(d.setdefault("d", 7), 7);
  EXPECT_EQ(d.pop("d"), 7);
  EXPECT_EQ(d.pop("d", 0), 0);
  EXPECT_THROW(d.pop("d"), std::out_of_range);
  d.erase("c");
  EXPECT_THROW(d.erase("c"), std::out_of_range);
  d.update({{"e", 5}, {"a", 1}});
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"a", "b", "e"}));
  EXPECT_EQ(d.at("a"), 1);
  d.clear();
  EXPECT_EQ(d.size(), 0u);
}

TEST_F(mp_test, MG_13_a_missing_key_raises_out_of_range_naming_the_key) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  try {
    (void)d.at("nope");
    FAIL();
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
}

TEST_F(mp_test, MG_13_keys_of_any_codec_type_compare_by_value) {
  auto m = mp::manager();
  auto d = m.dict<std::pair<int, std::string>, point>();
  d.set({1, "one"}, point{1, 2, "p"});
  EXPECT_EQ(d.at({1, "one"}), (point{1, 2, "p"}));
  EXPECT_FALSE(d.contains({1, "two"}));
  // Integer keys compare by value whatever their C++ width.
  auto w = m.dict<long, int>();
  w.set(5, 1);
  EXPECT_TRUE(w.contains(5L));
}

TEST_F(mp_test, MG_13_a_list_proxy_forwards_the_list_methods_and_takes_python_indexes) {
  auto m = mp::manager();
  auto l = m.list<int>({1, 2, 3});
  l.append(4);
  l += {5, 6};
  EXPECT_EQ(l.size(), 6u);
  EXPECT_EQ(l.at(-1), 6);
  EXPECT_EQ(l.at(0), 1);
  l.set(-2, 50);
  EXPECT_EQ(l.to_vector(), (std::vector<int>{1, 2, 3, 4, 50, 6}));
  l.insert(0, 0);
  l.insert(100, 7);  // clamped, as in Python
  EXPECT_EQ(l.pop(), 7);
  EXPECT_EQ(l.pop(0), 0);
  l.erase(-1);
  EXPECT_EQ(l.index(50), 4u);
  EXPECT_EQ(l.count(2), 1u);
  EXPECT_TRUE(l.contains(3));
  l.remove(3);
  EXPECT_THROW(l.remove(3), std::invalid_argument);
  EXPECT_THROW(l.index(3), std::invalid_argument);
  l.reverse();
  EXPECT_EQ(l.to_vector(), (std::vector<int>{50, 4, 2, 1}));
  EXPECT_THROW(l.at(4), std::out_of_range);
  EXPECT_THROW(l.at(-5), std::out_of_range);
  l.clear();
  EXPECT_THROW(l.pop(), std::out_of_range);
}

TEST_F(mp_test, MG_06_results_come_back_by_value) {
  auto m = mp::manager();
  auto l = m.list<std::vector<int>>({{1}});
  auto inner = l.at(0);
  inner.push_back(2);  // a copy: the server's list is unchanged
  EXPECT_EQ(l.at(0), (std::vector<int>{1}));
}

TEST_F(mp_test, MG_06_a_proxy_stored_in_a_managed_container_comes_back_as_a_proxy_to_the_same_object) {
  auto m = mp::manager();
  auto inner = m.list<int>({1});
  auto outer = m.list<mp::list_proxy<int>>();
  outer.append(inner);
  auto back = outer.at(0);
  back.append(2);
  EXPECT_EQ(inner.to_vector(), (std::vector<int>{1, 2}));
  EXPECT_EQ(back.id(), inner.id());
}

TEST_F(mp_test, MG_12_value_holds_any_codec_value_with_get_and_set) {
  auto m = mp::manager();
  auto v = m.value<point>(point{1, 2, "a"});
  EXPECT_EQ(v.get(), (point{1, 2, "a"}));
  v.set(point{3, 4, "b"});
  EXPECT_EQ(v.get().label, "b");
}

TEST_F(mp_test, MG_12_array_has_length_item_get_and_item_set_only) {
  auto m = mp::manager();
  auto a = m.array<double>({1.5, 2.5});
  EXPECT_EQ(a.size(), 2u);
  a.set(1, 3.5);
  EXPECT_EQ(a.at(-1), 3.5);
  EXPECT_EQ(a.to_vector(), (std::vector<double>{1.5, 3.5}));
  EXPECT_THROW(a.set(2, 0.0), std::out_of_range);
}

TEST_F(mp_test, MG_12_a_namespace_forwards_attributes_and_lists_them_sorted) {
  auto m = mp::manager();
  auto ns = m.namespace_();
  ns.set("name", std::string("x"));
  ns.set("count", 3);
  EXPECT_EQ(ns.get<std::string>("name"), "x");
  EXPECT_EQ(ns.get<int>("count"), 3);
  EXPECT_EQ(ns.names(), (std::vector<std::string>{"count", "name"}));
  EXPECT_TRUE(ns.contains("count"));
  ns.erase("count");
  EXPECT_FALSE(ns.contains("count"));
  EXPECT_THROW(ns.get<int>("count"), std::out_of_range);
  EXPECT_THROW(ns.erase("count"), std::out_of_range);
  EXPECT_THROW(ns.set("_private", 1), std::invalid_argument);
}

TEST_F(mp_test, MG_13_every_container_method_has_an_awaitable_form) {
  auto m = mp::manager();
  auto d = m.dict<std::string, int>();
  auto l = m.list<int>();
  auto ns = m.namespace_();
  corio::run([&]() -> corio::task<void> {
    co_await d.set_async("a", 1);
    EXPECT_EQ(co_await d.at_async("a"), 1);
    EXPECT_EQ(co_await d.find_async("b"), std::nullopt);
    co_await l.append_async(3);
    EXPECT_EQ(co_await l.pop_async(), 3);
    co_await ns.set_async("n", 2);
    EXPECT_EQ(co_await ns.get_async<int>("n"), 2);
  });
  EXPECT_EQ(d.size(), 1u);
}

CORIO_MP_TEST_MAIN()

// A future awaited by many tasks: each new awaiter was appended to the
// future's listener list by walking it from the head: quadratic (100,000
// awaiters took 15-23 s; now 0.1 s). The list is now circular, held by its
// tail. What these tests hold it to: awaiters wake in the order they began
// to wait, as asyncio runs callbacks in the order they were added, and
// removals from the head, middle and tail keep the list whole.
#include <corio/runners.hpp>

#include <corio/events.hpp>
#include <corio/futures.hpp>
#include <corio/tasks.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace {

corio::task<void> await_and_record(corio::future<int> f, std::vector<int>& order, int me) {
  const int v = co_await f;
  order.push_back(me + v);
}

}  // namespace

TEST(many_awaiters_of_one_future, twenty_thousand_awaiters_wake_in_the_order_they_came) {
  corio::run([]() -> corio::task<void> {
    corio::future<int> f = corio::get_running_loop().create_future<int>();
    std::vector<int> order;
    std::vector<corio::task<void>> tasks;
    constexpr int n = 20000;
    tasks.reserve(n);
    for (int i = 0; i < n; ++i) tasks.push_back(corio::create_task(await_and_record(f, order, i)));
    co_await corio::sleep(std::chrono::seconds(0));  // every task now waits on f
    f.set_result(0);
    for (auto& t : tasks) co_await t;
    EXPECT_EQ(order.size(), std::size_t{n});
    int out_of_place = 0;
    for (std::size_t i = 0; i < order.size(); ++i) out_of_place += order[i] != static_cast<int>(i);
    EXPECT_EQ(out_of_place, 0);
  }());
}

TEST(many_awaiters_of_one_future, callbacks_removed_at_the_head_middle_and_tail_leave_the_rest_in_order) {
  corio::run([]() -> corio::task<void> {
    corio::future<int> f = corio::get_running_loop().create_future<int>();
    std::vector<int> order;
    std::vector<std::uintptr_t> ids;
    for (int i = 0; i < 10; ++i) ids.push_back(f.add_done_callback([&order, i](corio::future<int>&) { order.push_back(i); }));
    for (int i : {0, 4, 9}) EXPECT_EQ(f.remove_done_callback(ids[i]), 1u) << i;
    EXPECT_EQ(f.remove_done_callback(ids[9]), 0u);  // gone already
    // One added after the removals comes after the rest.
    f.add_done_callback([&order](corio::future<int>&) { order.push_back(10); });
    f.set_result(0);
    co_await corio::sleep(std::chrono::seconds(0));
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 5, 6, 7, 8, 10}));
  }());
}

TEST(many_awaiters_of_one_future, removing_every_callback_one_by_one_from_the_tail_empties_the_list) {
  corio::run([]() -> corio::task<void> {
    corio::future<int> f = corio::get_running_loop().create_future<int>();
    int calls = 0;
    std::vector<std::uintptr_t> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(f.add_done_callback([&calls](corio::future<int>&) { ++calls; }));
    for (int i = 4; i >= 0; --i) EXPECT_EQ(f.remove_done_callback(ids[i]), 1u) << i;
    f.add_done_callback([&calls](corio::future<int>&) { calls += 100; });
    f.set_result(0);
    co_await corio::sleep(std::chrono::seconds(0));
    EXPECT_EQ(calls, 100);
  }());
}

// docs/semantics.md section 16, MG-20: the remote task and result queues.
// A master serves both queues on 127.0.0.1 with an authkey; three worker
// processes connect as if from other hosts (their connections bound to
// 127.0.0.2, .3 and .4), take tasks and put results; the master collects
// every result once. A worker killed while holding a task loses it, as in
// Python: nothing redelivers it.
#include "multiprocessing_util.hpp"

#include <corio/multiprocessing/managers.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
namespace mp = corio::multiprocessing;
using corio_test::mp_test;

namespace {

constexpr auto kBound = 60s;
const std::string kAuthkey = "remote queues";
const std::vector<std::string> kHosts = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};

using result = std::tuple<int, int, std::string>;  // (task, its square, the worker's host)

struct queues {
  mp::queue_proxy<int> tasks;
  mp::queue_proxy<result> results;
};

queues connect_as(mp::base_manager& m, const std::string& host) {
  m.bind_client(mp::address(host, 0));
  m.connect();
  return {m.make<mp::queue_proxy<int>>("get_task_queue"), m.make<mp::queue_proxy<result>>("get_result_queue")};
}

void worker(mp::address master, std::string host) {
  mp::base_manager m(master, kAuthkey);
  auto [tasks, results] = connect_as(m, host);
  for (int n; (n = tasks.get(true, kBound)) >= 0;) results.put({n, n * n, host});
}

// Takes one task, says which, and never finishes it.
void dies_holding_a_task(mp::address master, std::string host) {
  mp::base_manager m(master, kAuthkey);
  auto [tasks, results] = connect_as(m, host);
  const int n = tasks.get(true, kBound);
  results.put({n, -1, "taken"});
  for (;;) ::pause();
}

struct master {
  mp::base_manager m{mp::address("127.0.0.1", 0), kAuthkey};
  master() {
    m.register_queue("get_task_queue");
    m.register_queue("get_result_queue");
    m.start();
  }
  mp::queue_proxy<int> tasks() const { return m.make<mp::queue_proxy<int>>("get_task_queue"); }
  mp::queue_proxy<result> results() const { return m.make<mp::queue_proxy<result>>("get_result_queue"); }
};

}  // namespace

TEST_F(mp_test, MG_20_three_remote_workers_take_every_task_and_the_master_collects_each_result_once) {
  master ms;
  auto tasks = ms.tasks();
  auto results = ms.results();
  constexpr int kTasks = 60;
  for (int n = 0; n < kTasks; ++n) tasks.put(n);
  std::deque<mp::process> workers;
  for (const auto& h : kHosts) workers.emplace_back(worker, ms.m.address(), h);
  for (auto& p : workers) p.start();
  for (std::size_t i = 0; i < kHosts.size(); ++i) tasks.put(-1);

  std::map<int, int> seen;
  for (int i = 0; i < kTasks; ++i) {
    const auto [n, sq, host] = results.get(true, kBound);
    EXPECT_EQ(sq, n * n);
    EXPECT_NE(std::find(kHosts.begin(), kHosts.end(), host), kHosts.end()) << host;
    ++seen[n];
  }
  for (auto& p : workers) {
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kTasks));
  for (const auto& [n, count] : seen) EXPECT_EQ(count, 1) << "task " << n;
  EXPECT_THROW(results.get(false), corio::queue_empty);
}

TEST_F(mp_test, MG_20_a_worker_killed_while_holding_a_task_loses_it_as_in_python) {
  master ms;
  auto tasks = ms.tasks();
  auto results = ms.results();
  constexpr int kTasks = 10;
  for (int n = 0; n < kTasks; ++n) tasks.put(n);
  mp::process doomed(dies_holding_a_task, ms.m.address(), kHosts[0]);
  doomed.start();
  const auto [lost, marker, what] = results.get(true, kBound);
  ASSERT_EQ(what, "taken");
  doomed.kill();
  doomed.join(kBound);
  ASSERT_EQ(doomed.exitcode(), -SIGKILL);

  std::deque<mp::process> workers;
  for (std::size_t i = 1; i < kHosts.size(); ++i) workers.emplace_back(worker, ms.m.address(), kHosts[i]);
  for (auto& p : workers) p.start();
  for (std::size_t i = 0; i < workers.size(); ++i) tasks.put(-1);
  std::set<int> done;
  for (int i = 0; i < kTasks - 1; ++i) done.insert(std::get<0>(results.get(true, kBound)));
  for (auto& p : workers) {
    p.join(kBound);
    EXPECT_EQ(p.exitcode(), 0);
  }
  // Every task but the one the dead worker held; nobody will ever run it.
  EXPECT_EQ(done.size(), static_cast<std::size_t>(kTasks - 1));
  EXPECT_EQ(done.count(lost), 0u);
  EXPECT_TRUE(tasks.empty());
  EXPECT_THROW(results.get(false), corio::queue_empty);
}

CORIO_MP_TEST_MAIN()

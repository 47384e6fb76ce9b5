// Distributed processes over a manager (the classic pattern of Python's
// tutorials, on multiprocessing.managers.BaseManager):
//
//   # master                                   # worker, on another host
//   task_queue, result_queue = Queue(), Queue()
//   class QueueManager(BaseManager): pass      class QueueManager(BaseManager): pass
//   QueueManager.register('get_task_queue',    QueueManager.register('get_task_queue')
//       callable=lambda: task_queue)           QueueManager.register('get_result_queue')
//   QueueManager.register('get_result_queue',  m = QueueManager(address=(master, 5000),
//       callable=lambda: result_queue)                            authkey=b'abc')
//   m = QueueManager(address=('', 5000),       m.connect()
//                    authkey=b'abc')           tasks = m.get_task_queue()
//   m.start()                                  results = m.get_result_queue()
//   tasks = m.get_task_queue()                 while (n := tasks.get()) >= 0:
//   for n in range(10): tasks.put(n)               results.put((n, n * n))
//   ... results.get() ten times
//
// Here the master serves both queues on 127.0.0.1 and three worker
// processes connect to it as if from other hosts, each binding its
// connections to its own loopback address (127.0.0.2, .3, .4). The
// workers take tasks in whatever order they run; the master sorts the
// results. A worker that dies holding a task loses it, as in Python: a
// broker that redelivers is the next step (docs/guide.md).
#include <corio/multiprocessing.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <string>
#include <tuple>
#include <vector>

namespace mp = corio::multiprocessing;

using result = std::tuple<int, int, std::string>;  // (task, its square, the worker's host)

void worker(mp::address master, std::string authkey, std::string host) {
  mp::base_manager m(master, authkey);
  m.bind_client(mp::address(host, 0));
  m.connect();
  auto tasks = m.make<mp::queue_proxy<int>>("get_task_queue");
  auto results = m.make<mp::queue_proxy<result>>("get_result_queue");
  for (int n; (n = tasks.get()) >= 0;) results.put({n, n * n, host});
}

int main() {
  mp::freeze_support();
  const std::string authkey = "abc";
  mp::base_manager master(mp::address("127.0.0.1", 0), authkey);
  master.register_queue("get_task_queue");
  master.register_queue("get_result_queue");
  master.start();
  auto tasks = master.make<mp::queue_proxy<int>>("get_task_queue");
  auto results = master.make<mp::queue_proxy<result>>("get_result_queue");
  for (int n = 0; n < 10; ++n) tasks.put(n);

  const std::vector<std::string> hosts = {"127.0.0.2", "127.0.0.3", "127.0.0.4"};
  std::deque<mp::process> workers;
  for (const auto& h : hosts) workers.emplace_back(worker, master.address(), authkey, h);
  for (auto& p : workers) p.start();
  for (std::size_t i = 0; i < hosts.size(); ++i) tasks.put(-1);  // one stop per worker

  std::vector<result> got;
  for (int i = 0; i < 10; ++i) got.push_back(results.get());
  for (auto& p : workers) p.join();
  std::sort(got.begin(), got.end());
  for (const auto& [n, sq, host] : got) {
    const bool known = std::find(hosts.begin(), hosts.end(), host) != hosts.end();
    std::printf("task %d: %d (from a worker on %s)\n", n, sq, known ? "127.0.0.x" : host.c_str());
  }
  std::printf("workers exited: %s\n",
              std::all_of(workers.begin(), workers.end(), [](mp::process& p) { return p.exitcode() == 0; }) ? "yes"
                                                                                                          : "no");
}

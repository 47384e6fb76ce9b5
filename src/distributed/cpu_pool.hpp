// The worker's pool of processes for the functions registered with
// worker::register_cpu_function. Internal to src/distributed.
//
// Unlike multiprocessing::pool, it lives on the worker's loop, with no
// handler thread: each process has a duplex pipe the loop reads and writes
// through its awaitable forms, and the pool hands a run only to an idle
// process, so it always knows which process runs which task. That is what
// the time limit needs: a run over it kills exactly its own process.
#pragma once

#include <corio/distributed/task_queue.hpp>
#include <corio/locks.hpp>
#include <corio/multiprocessing/connection.hpp>
#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/process.hpp>
#include <corio/tasks.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corio::distributed::detail {

class cpu_pool {
 public:
  /// processes: 0 is multiprocessing::cpu_count(); ctx: none is the
  /// default context. Starts no process yet.
  cpu_pool(std::size_t processes, std::optional<multiprocessing::context> ctx);
  /// Kills and reaps the processes left (close() normally stopped them).
  ~cpu_pool();
  cpu_pool(const cpu_pool&) = delete;
  cpu_pool& operator=(const cpu_pool&) = delete;

  /// Runs fn with `args` (a msgpack array) in an idle process, started if
  /// none is idle and fewer than `processes` are alive, else waited for.
  /// Gives the encoded result, or raises the function's exception;
  /// timeout_error once `limit` has passed since the process took the run
  /// (the process is killed); worker_lost_error if the process died.
  /// Cancelling the call kills its process. `what` names the task in errors.
  task<std::string> call(const cpu_function& fn, std::string_view args, duration limit, std::string what);

  /// Once no call runs: each process sees its pipe end and exits (killed
  /// after 5 s); waits for them all.
  task<void> close();

  /// Processes alive now, busy or idle.
  std::size_t alive() const noexcept { return alive_; }

 private:
  struct proc;
  std::unique_ptr<proc> take();
  std::unique_ptr<proc> start_one();
  // Kills `p` and reaps it in a task of its own, which close() awaits.
  void discard(std::unique_ptr<proc> p);
  task<void> reap(std::unique_ptr<proc> p);

  const std::size_t size_;
  const multiprocessing::context ctx_;
  semaphore free_;
  std::vector<std::unique_ptr<proc>> idle_;
  std::vector<proc*> all_;  // alive, busy or idle: a forked process closes their pipes
  std::vector<task<void>> reapers_;
  std::size_t alive_ = 0;
  std::size_t started_ = 0;
};

// The body of a pool process: runs the calls its pipe brings until the
// pipe ends.
void cpu_pool_process(multiprocessing::connection conn, std::int64_t parent_pid, std::vector<int> close_fds);

}  // namespace corio::distributed::detail

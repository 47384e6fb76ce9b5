// The pool's engine, shared by multiprocessing::pool and
// futures::process_pool_executor: the workers, the task queue and the
// handler thread (pool.cpp describes the protocol). Internal to the
// library.
#pragma once

#include <corio/multiprocessing/context.hpp>
#include <corio/multiprocessing/detail/pool_job.hpp>
#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/multiprocessing/pool.hpp>

#include <corio/detail/pipes.hpp>
#include <corio/detail/unique_fd.hpp>
#include <corio/exceptions.hpp>
#include <corio/os_errors.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace corio::multiprocessing::detail {

using corio::detail::unique_fd;

// A result message's head: job, index, status.
inline constexpr std::size_t kResultHead = 8 + 4 + 1;

// The worker's body (pool.cpp): runs the initializer, then tasks until its
// pipe ends or it has run `maxtasks` (0: no limit).
void pool_worker(connection conn, std::string init, std::int64_t maxtasks, std::int64_t parent_pid,
                 std::vector<int> close_fds);

// -- the pool's core ---------------------------------------------------------------------

struct task_item {
  std::shared_ptr<pool_job> job;
  std::uint64_t id = 0;
  std::uint32_t index = 0;
  std::shared_ptr<const std::string> blob;  // the job's messages; this one is [begin, end)
  std::size_t begin = 0, end = 0;
  std::string_view tail;  // the message's rest, outside the blob (task_frames::tails)
  std::string_view frame() const noexcept { return std::string_view(*blob).substr(begin, end - begin); }
  bool started = false;  // job->start() said yes (once)
};

// How many tasks a worker is sent ahead of its answers.
inline constexpr std::size_t kWorkerDepth = 2;

struct worker_slot {
  std::unique_ptr<process> proc;
  connection conn;
  pid_t pid = -1;
  // Sent and not answered, oldest first: the front one runs (or is about
  // to), the others wait in the pipe, so a worker never waits for the
  // parent between tasks.
  std::deque<task_item> inflight;
  std::int64_t given = 0;
  // The task message still being written (its payload lives in the blob
  // of inflight.back()): the handler never waits on a worker's pipe, since
  // that worker may be waiting in its own write for the handler to read a
  // large result.
  char head[12] = {};
  std::size_t head_len = 0;
  std::string_view body, tail;
  std::size_t sent = 0;  // of head_len + body.size() + tail.size()
  bool sending() const noexcept { return sent < head_len + body.size() + tail.size(); }
};

inline std::string signal_text(int code) {
  if (code < 0) {
    const char* abbrev = ::sigabbrev_np(-code);
    return "killed by signal " + std::to_string(-code) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
  }
  return "exited with code " + std::to_string(code);
}

struct pool_core_options {
  int processes = 1;
  std::optional<int> maxtasks;
  context ctx;
  std::string init;  // the initializer's task message, or empty
  bool daemon = true;
  // The executor's rule (MP-49): a worker ending abruptly breaks the pool,
  // failing everything pending or running; the pool's (MP-48, a departure):
  // only the task it held fails, and it is replaced.
  bool break_on_worker_death = false;
  // Makes the error a broken pool raises, from its reason.
  std::function<std::exception_ptr(const std::string&)> broken_error;
};

class pool_core {
 public:
  explicit pool_core(pool_core_options o)
      : n_(o.processes),
        maxtasks_(o.maxtasks.value_or(0)),
        ctx_(std::move(o.ctx)),
        init_(std::move(o.init)),
        daemon_(o.daemon),
        break_on_death_(o.break_on_worker_death),
        broken_error_(std::move(o.broken_error)) {
    wake_ = unique_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_) throw_errno("multiprocessing pool: eventfd");
    handler_ = std::thread([this] { handler_main(); });
    std::unique_lock g(mu_);
    cv_.wait(g, [&] { return started_ || start_error_; });
    if (start_error_) {
      g.unlock();
      handler_.join();
      std::rethrow_exception(start_error_);
    }
  }
  ~pool_core() {
    terminate();
    join_thread();
  }

  const std::string& method() const noexcept { return ctx_.get_start_method(); }
  int processes() const noexcept { return n_; }
  std::uint64_t next_id() noexcept { return ++ids_; }

  void check_usable() const {
    std::lock_guard g(mu_);
    check_usable_locked();
  }

  void submit(std::shared_ptr<pool_job> job, task_frames frames, std::uint64_t id) {
    auto blob = std::make_shared<const std::string>(std::move(frames.blob));
    {
      std::lock_guard g(mu_);
      check_usable_locked();
      std::size_t begin = 0;
      for (std::size_t i = 0; i < frames.ends.size(); ++i) {
        queue_.push_back(task_item{job, id, static_cast<std::uint32_t>(i), blob, begin, frames.ends[i],
                                    frames.tails.empty() ? std::string_view() : frames.tails[i]});
        begin = frames.ends[i];
      }
      outstanding_ += frames.ends.size();
    }
    wake();
  }

  void close() {
    {
      std::lock_guard g(mu_);
      if (state_ == st::running) state_ = st::closed;
    }
    wake();
  }
  void terminate() {
    {
      std::lock_guard g(mu_);
      state_ = st::terminating;
    }
    wake();
    join_thread();
  }
  void join() {
    {
      std::lock_guard g(mu_);
      if (state_ == st::running) throw std::invalid_argument("Pool is still running");
    }
    join_thread();
  }
  // Python: shutdown(cancel_futures=True): the calls not handed out yet
  // are cancelled.
  void cancel_queue() {
    std::deque<task_item> q;
    {
      std::lock_guard g(mu_);
      q.swap(queue_);
      outstanding_ -= q.size();
    }
    for (auto& it : q) it.job->cancel(it.index);
    wake();
  }
  bool is_broken() const {
    std::lock_guard g(mu_);
    return static_cast<bool>(broken_);
  }
  // Why it broke ("" if it did not, or no reason was given).
  std::string broken_why() const {
    std::lock_guard g(mu_);
    return broken_why_;
  }
  std::vector<pid_t> worker_pids() const {
    std::lock_guard g(mu_);
    return pids_;
  }

 private:
  enum class st { running, closed, terminating };

  void check_usable_locked() const {
    if (broken_) std::rethrow_exception(broken_);
    if (state_ != st::running) throw std::invalid_argument("Pool not running");
  }
  void wake() noexcept {
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  void join_thread() {
    std::lock_guard g(join_mu_);
    if (handler_.joinable()) handler_.join();
  }

  // -- the handler thread --

  void start_worker() {
    auto [mine, theirs] = multiprocessing::pipe(true);
    std::vector<int> close_fds;
    if (method() == "fork") {
      // Both fds of each duplex end (a pipe each way): a forked worker that
      // kept a write end open would keep its peers from seeing EOF.
      auto close_conn = [&close_fds](const connection& c) {
        close_fds.push_back(c.fileno());
        if (c.write_fileno() != c.fileno()) close_fds.push_back(c.write_fileno());
      };
      close_conn(mine);
      close_fds.push_back(wake_.get());
      for (auto& w : workers_)
        if (!w.conn.closed()) close_conn(w.conn);
    }
    const std::string prefix = method() == "fork" ? "ForkPoolWorker-" : method() == "spawn" ? "SpawnPoolWorker-" : "ForkServerPoolWorker-";
    auto p = std::make_unique<process>(process_options{.name = prefix + std::to_string(++started_count_), .daemon = daemon_},
                                       pool_worker, std::move(theirs), init_, static_cast<std::int64_t>(maxtasks_),
                                       static_cast<std::int64_t>(::getpid()), std::move(close_fds));
    ctx_.start(*p);
    worker_slot w;
    w.pid = p->pid().value_or(-1);
    w.proc = std::move(p);
    w.conn = std::move(mine);
    // Never blocks the handler (see worker_slot::sending): the parent's
    // write end is its own (the worker closed its copy, or never had it).
    const int wfd = w.conn.write_fileno();
    if (::fcntl(wfd, F_SETFL, ::fcntl(wfd, F_GETFL) | O_NONBLOCK) < 0) throw_os_error(errno, "pool: fcntl(O_NONBLOCK) on a worker's pipe");
    workers_.push_back(std::move(w));
    publish_pids();
  }

  void publish_pids() {
    std::vector<pid_t> pids;
    for (auto& w : workers_) pids.push_back(w.pid);
    std::lock_guard g(mu_);
    pids_ = std::move(pids);
  }

  void fail_item(task_item& item, std::exception_ptr e) {
    item.job->chunk_failed(item.index, std::move(e));
    item.job.reset();
    std::lock_guard g(mu_);
    --outstanding_;
  }

  void fail_queue(std::exception_ptr e) {
    std::deque<task_item> q;
    {
      std::lock_guard g(mu_);
      q.swap(queue_);
    }
    for (auto& it : q) fail_item(it, e);
  }

  std::exception_ptr broken(const std::string& why) const {
    if (broken_error_) return broken_error_(why);
    return std::make_exception_ptr(broken_pool_error("pool: " + why));
  }

  void make_broken(std::exception_ptr e, std::string why = {}) {
    {
      std::lock_guard g(mu_);
      if (!broken_) {
        broken_ = e;
        broken_why_ = std::move(why);
      }
      e = broken_;
    }
    fail_queue(e);
  }

  void on_result(worker_slot& w, std::string_view m) {
    if (m.size() < kResultHead) {
      if (!w.inflight.empty()) {
        fail_item(w.inflight.front(), std::make_exception_ptr(process_error("pool: worker " + std::to_string(w.pid) +
                                                                            " sent a malformed result")));
        w.inflight.pop_front();
      }
      w.proc->kill();
      return;
    }
    std::uint64_t job;
    std::uint32_t index;
    std::memcpy(&job, m.data(), 8);
    std::memcpy(&index, m.data() + 8, 4);
    const bool ok = m[12] == 0;
    const std::string_view payload = m.substr(kResultHead);
    auto error = [&]() -> std::exception_ptr {
      try {
        return decode<std::exception_ptr>(payload);
      } catch (...) {
        return std::current_exception();
      }
    };
    if (job == 0) {  // the initializer raised (MP-47, a departure: the pool breaks)
      std::string what = "?";
      try {
        std::rethrow_exception(error());
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      make_broken(broken("the initializer raised in worker " + std::to_string(w.pid) + ": " + what),
                  "the initializer raised in worker " + std::to_string(w.pid) + ": " + what);
      return;
    }
    if (w.inflight.empty() || w.inflight.front().id != job || w.inflight.front().index != index) return;
    task_item item = std::move(w.inflight.front());
    w.inflight.pop_front();
    if (ok) {
      item.job->chunk_done(index, payload);
    } else {
      item.job->chunk_failed(index, error());
    }
    item.job.reset();
    std::lock_guard g(mu_);
    --outstanding_;
  }

  // Reads the worker's messages; false once its pipe has ended. Each is
  // handled where the connection read it, without a copy.
  bool read_worker(worker_slot& w, bool drain) {
    do {
      std::exception_ptr failed;
      try {
        w.conn.recv_bytes_with([&](std::string_view m) {
          try {
            on_result(w, m);
          } catch (...) {
            failed = std::current_exception();
          }
        });
      } catch (...) {
        w.conn.close();
        return false;
      }
      if (failed) std::rethrow_exception(failed);
    } while (drain && !w.conn.closed() && w.conn.poll());
    return true;
  }

  // The worker ended: its task, if it held one, fails (MP-48, a departure).
  void on_exit(std::size_t i) {
    worker_slot& w = workers_[i];
    if (!w.conn.closed() && w.conn.poll()) read_worker(w, true);
    w.proc->join();
    const int code = w.proc->exitcode().value_or(-1);
    std::exception_ptr already;
    {
      std::lock_guard g(mu_);
      already = broken_;  // an initializer raised: what the worker held fails with that
    }
    if (already) {
      for (auto& it : w.inflight) fail_item(it, already);
      w.inflight.clear();
    }
    if (break_on_death_ && (!w.inflight.empty() || code != 0 || already)) {
      // MP-49: every pending or running call fails, the other workers stop.
      std::exception_ptr e = already;
      if (!e) {
        e = broken("worker process " + std::to_string(w.pid) + " " + signal_text(code));
        std::lock_guard g(mu_);
        if (!broken_) {
          broken_ = e;
          broken_why_ = "worker process " + std::to_string(w.pid) + " " + signal_text(code);
        }
        e = broken_;
      }
      for (auto& it : w.inflight) fail_item(it, e);
      w.inflight.clear();
      try {
        w.proc->close();
      } catch (...) {
      }
      workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
      for (auto& o : workers_) {
        for (auto& it : o.inflight) fail_item(it, e);
        o.inflight.clear();
      }
      kill_all();
      fail_queue(e);
      return;
    }
    if (!w.inflight.empty()) {
      // The front task was the one running; those behind it never left the
      // pipe, so they go back to the queue, in order.
      task_item& run = w.inflight.front();
      fail_item(run, std::make_exception_ptr(worker_lost_error(
                         "pool: worker process " + std::to_string(w.pid) + " " + signal_text(code) +
                         " while running a task (job " + std::to_string(run.id) + ", chunk " +
                         std::to_string(run.index) + ")")));
      w.inflight.pop_front();
      std::lock_guard g(mu_);
      while (!w.inflight.empty()) {
        queue_.push_front(std::move(w.inflight.back()));
        w.inflight.pop_back();
      }
    }
    try {
      w.proc->close();
    } catch (...) {
    }
    workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
    publish_pids();
  }

  void kill_all() {
    for (auto& w : workers_) w.proc->terminate();
    for (auto& w : workers_) {
      w.proc->join(std::chrono::seconds(5));
      if (!w.proc->exitcode()) {
        w.proc->kill();
        w.proc->join();
      }
      for (auto& it : w.inflight)
        fail_item(it, std::make_exception_ptr(pool_terminated_error("pool: terminated before the task finished")));
      w.inflight.clear();
      try {
        w.proc->close();
      } catch (...) {
      }
    }
    workers_.clear();
    publish_pids();
  }

  // Writes what it can of w's task message without blocking. A worker
  // whose pipe is gone gets nothing more: its sentinel fails what it held.
  static void push_out(worker_slot& w) {
    while (w.sending() && !w.conn.closed()) {
      iovec iov[3];
      int n = 0;
      std::size_t skip = w.sent;
      for (const std::string_view part : {std::string_view(w.head, w.head_len), w.body, w.tail}) {
        if (skip >= part.size()) {
          skip -= part.size();
          continue;
        }
        iov[n++] = {const_cast<char*>(part.data()) + skip, part.size() - skip};
        skip = 0;
      }
      const ssize_t r = corio::detail::writev_nosignal(w.conn.write_fileno(), iov, n);
      if (r >= 0) {
        w.sent += static_cast<std::size_t>(r);
      } else if (r == -EAGAIN) {
        return;
      } else if (r != -EINTR) {
        w.head_len = w.sent = 0;
        w.body = w.tail = {};
      }
    }
  }

  void handler_main() {
    try {
      for (int i = 0; i < n_; ++i) start_worker();
    } catch (...) {
      kill_all();
      std::lock_guard g(mu_);
      start_error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    {
      std::lock_guard g(mu_);
      started_ = true;
      cv_.notify_all();
    }
    bool pipes_closed = false;
    std::vector<pollfd> fds;
    for (;;) {
      st state;
      std::size_t outstanding;
      bool queued, is_broken_now;
      {
        std::lock_guard g(mu_);
        state = state_;
        outstanding = outstanding_;
        queued = !queue_.empty();
        is_broken_now = static_cast<bool>(broken_);
      }
      if (state == st::terminating) {
        kill_all();
        fail_queue(std::make_exception_ptr(pool_terminated_error("pool: terminated before the task ran")));
        return;
      }
      // Replace the workers that ended while there may be work for them.
      if (!is_broken_now && (state == st::running || queued)) {
        try {
          while (static_cast<int>(workers_.size()) < n_) start_worker();
        } catch (...) {
          const std::string why = "a worker could not be started: " + describe_exception(std::current_exception());
          make_broken(broken(why), why);
        }
      }
      // Hand tasks to the workers: one to each idle worker first, then up
      // to kWorkerDepth each (two tasks must not queue behind one worker
      // while another is idle).
      for (std::size_t depth = 1; depth <= kWorkerDepth; ++depth)
      for (auto& w : workers_) {
        while (w.inflight.size() < depth && !w.conn.closed() && !w.sending() && (maxtasks_ == 0 || w.given < maxtasks_)) {
          task_item item;
          for (;;) {
            {
              std::lock_guard g(mu_);
              if (queue_.empty()) break;
              item = std::move(queue_.front());
              queue_.pop_front();
            }
            if (item.started || item.job->start(item.index)) break;  // a cancelled call is dropped here
            item.job.reset();
            std::lock_guard g(mu_);
            --outstanding_;
          }
          if (!item.job) break;
          item.started = true;
          w.head_len = frame_header(w.head, item.frame().size() + item.tail.size());
          w.body = item.frame();
          w.tail = item.tail;
          w.sent = 0;
          w.inflight.push_back(std::move(item));
          ++w.given;
          push_out(w);
          if (w.sending()) break;  // the pipe is full: the rest when it drains
        }
      }
      if (state == st::closed && outstanding == 0 && !pipes_closed) {
        for (auto& w : workers_) w.conn.close();  // each worker sees its pipe end and exits
        pipes_closed = true;
      }
      if (pipes_closed && workers_.empty()) return;
      fds.clear();
      fds.push_back({wake_.get(), POLLIN, 0});
      for (auto& w : workers_) {
        fds.push_back({w.proc->sentinel(), POLLIN, 0});
        fds.push_back({w.conn.closed() ? -1 : w.conn.fileno(), POLLIN, 0});
        fds.push_back({w.sending() && !w.conn.closed() ? w.conn.write_fileno() : -1, POLLOUT, 0});
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        make_broken(broken("poll failed: " + std::string(std::strerror(errno))));
        continue;
      }
      if (fds[0].revents) {
        std::uint64_t v;
        (void)!::read(wake_.get(), &v, sizeof v);
      }
      // Results first: a worker that answered and then exited held nothing.
      for (std::size_t i = 0; i < workers_.size(); ++i)
        if (fds[2 + 3 * i].revents && !workers_[i].conn.closed()) read_worker(workers_[i], true);
      for (std::size_t i = 0; i < workers_.size(); ++i)
        if (fds[3 + 3 * i].revents) push_out(workers_[i]);
      for (std::size_t i = workers_.size(); i-- > 0;)
        if (i < workers_.size() && fds[1 + 3 * i].revents) on_exit(i);
    }
  }

  const int n_;
  const std::int64_t maxtasks_;
  const context ctx_;
  const std::string init_;
  const bool daemon_;
  const bool break_on_death_;
  const std::function<std::exception_ptr(const std::string&)> broken_error_;
  std::atomic<std::uint64_t> ids_{0};
  unique_fd wake_;
  std::thread handler_;
  std::mutex join_mu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  std::exception_ptr start_error_;
  st state_ = st::running;
  std::exception_ptr broken_;
  std::string broken_why_;
  std::deque<task_item> queue_;
  std::size_t outstanding_ = 0;
  std::vector<pid_t> pids_;

  // The handler thread's own.
  std::vector<worker_slot> workers_;
  std::uint64_t started_count_ = 0;
};


}  // namespace corio::multiprocessing::detail

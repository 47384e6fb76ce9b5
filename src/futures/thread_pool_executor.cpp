// concurrent.futures.ThreadPoolExecutor: workers, submitting, parking
// and shutdown.
//
// Submitting is lock-free and makes no system call while the workers are
// busy: the item is pushed on the intrusive queue and a worker is woken only
// if one sleeps. A worker that runs out of work spins briefly before it
// sleeps, since a wake-up costs the submitter a system call.
//
// Shutting down without a lock on the submit path: a submit pushes its item,
// then reads closed_ (both sequentially consistent). If it reads false, the
// push precedes shutdown's closed_ store, so the drain and the workers' last
// look at the queue (both after that store) see the item. If it reads true,
// the submit refuses: it cancels its own item, unless a worker has already
// started it, in which case the item was accepted after all. Refused items
// left in the queue are skipped by the workers or freed by the destructor.
// An accepted item whose submit raced shutdown may have no worker: a
// waiting shutdown (and so the destructor) runs it on its own thread.
#include <corio/futures/thread_pool_executor.hpp>

#include <corio/futures/detail/work_queue.hpp>
#include <corio/detail/fork.hpp>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace corio::futures {

namespace detail {

namespace {
constexpr int spin_rounds = 200;
constexpr const char* broken_message = "A thread initializer failed, the thread pool is not usable anymore";

std::atomic<unsigned> executor_counter{0};

// Linux limits a thread's name to 15 bytes; keep the "_<i>" suffix visible.
void set_thread_name(const std::string& prefix, std::size_t index) {
  std::string suffix = std::to_string(index);
  suffix.insert(suffix.begin(), '_');
  std::string name = prefix.substr(0, suffix.size() < 15 ? 15 - suffix.size() : 0);
  name.append(suffix);
  if (name.size() > 15) name.erase(15);
  pthread_setname_np(pthread_self(), name.c_str());
}
}  // namespace

class pool_core : public std::enable_shared_from_this<pool_core> {
 public:
  pool_core(std::size_t max_workers, std::string prefix, std::function<void()> initializer)
      : max_workers_(max_workers), prefix_(std::move(prefix)), initializer_(std::move(initializer)) {
    if (prefix_.empty()) prefix_ = "ThreadPoolExecutor-" + std::to_string(executor_counter.fetch_add(1));
  }

  std::size_t max_workers() const noexcept { return max_workers_; }

  // The caller keeps the future alive meanwhile (executor::submit holds it).
  void submit(work_ref item) {
    origin_.check("this thread_pool_executor");  // its threads did not come along a fork
    state_base* s = item.release();
    queue_.push(s);
    if (CORIO_UNLIKELY(closed_.load(std::memory_order_seq_cst))) {
      if (s->cancel()) refuse();
      return;  // a worker took it before we could refuse it: accepted
    }
    if (CORIO_UNLIKELY(!full_.load(std::memory_order_relaxed)) && !take_idle_token()) spawn();
    if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_one();
  }

  void shutdown(bool wait, bool cancel_futures) {
    closed_.store(true, std::memory_order_seq_cst);
    if (cancel_futures) drain([](work_ref w) { w.cancel(); });
    {
      std::lock_guard lk(park_mu_);
      stopping_.store(true, std::memory_order_release);
    }
    park_cv_.notify_all();
    if (wait) {
      join_all();
      // An item can be accepted with no worker left to run it: its submit
      // read closed_ as false, but its spawn() came after the store and
      // started none. (Python's submit holds the shutdown lock, so it
      // cannot race like this.) The caller runs what is left, so that
      // everything accepted has run when shutdown(wait) returns.
      drain([](work_ref w) { w.run(); });
    }
  }

  // The executor's destructor.
  void close() noexcept {
    shutdown(true, false);
    bool self_alive = false;
    {
      std::lock_guard lk(threads_mu_);
      for (std::thread& t : threads_) {
        if (t.joinable()) {  // this thread: it keeps the core alive and finishes the queue
          t.detach();
          self_alive = true;
        }
      }
    }
    // Items no worker will run (refused ones, or none could be started).
    if (!self_alive) drain([](work_ref w) { w.cancel(); });
  }

 private:
  corio::detail::fork_origin origin_;
  struct worker_context : run_context {
    pool_core* pool;
  };

  [[noreturn]] void refuse() const {
    if (broken_.load(std::memory_order_acquire)) throw broken_thread_pool(broken_message);
    throw std::runtime_error("cannot schedule new futures after shutdown");
  }

  // Python's _idle_semaphore.acquire(timeout=0): a worker that finished a
  // call will take the item, so no new thread is needed.
  bool take_idle_token() noexcept {
    std::uint32_t t = idle_tokens_.load(std::memory_order_relaxed);
    while (t > 0)
      if (idle_tokens_.compare_exchange_weak(t, t - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
    return false;
  }

  void spawn() {
    std::lock_guard lk(threads_mu_);
    const std::size_t index = threads_.size();
    if (index >= max_workers_ || closed_.load(std::memory_order_relaxed)) return;
    threads_.emplace_back([self = shared_from_this(), index] { self->worker_main(index); });
    if (index + 1 == max_workers_) full_.store(true, std::memory_order_relaxed);
  }

  void wake_one() {
    std::lock_guard lk(park_mu_);
    if (sleepers_.load(std::memory_order_relaxed) > 0) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      ++wakeups_;
      park_cv_.notify_one();
    }
  }

  // Takes every queued item, waiting out pushes under way, and hands each to `f`.
  template <class F>
  void drain(F f) noexcept {
    backoff b;
    for (;;) {
      if (state_base* s = queue_.pop()) {
        f(work_ref(s));
      } else if (queue_.empty_now()) {
        return;
      } else {
        b.pause();  // a push is half done
      }
    }
  }

  void join_all() {
    std::lock_guard lk(threads_mu_);
    const std::thread::id me = std::this_thread::get_id();
    for (std::thread& t : threads_)
      if (t.joinable() && t.get_id() != me) t.join();
  }

  void worker_main(std::size_t index) noexcept {
    set_thread_name(prefix_, index);
    if (initializer_) {
      try {
        initializer_();
      } catch (...) {
        break_pool(std::current_exception());
        return;
      }
    }
    worker_context ctx;
    ctx.pool = this;
    ctx.before_complete = [](run_context* c) noexcept {
      pool_core* p = static_cast<worker_context*>(c)->pool;
      // Python: the worker releases _idle_semaphore after each call. Here it
      // happens before the future completes, so whoever sees the result and
      // submits again finds this worker idle. Once the pool is full no new
      // thread can start, and the count is not needed.
      if (!p->full_.load(std::memory_order_relaxed)) p->idle_tokens_.fetch_add(1, std::memory_order_release);
    };
    while (state_base* s = next_item()) work_ref(s).run(&ctx);
  }

  // The next item to run; nullptr once shut down and the queue is empty.
  state_base* next_item() noexcept {
    for (;;) {
      if (state_base* s = queue_.pop()) return s;
      for (int i = 0; i < spin_rounds; ++i) {
        cpu_relax();
        if (queue_.hint_nonempty()) {
          if (state_base* s = queue_.pop()) return s;
        }
      }
      if (stopping_.load(std::memory_order_acquire) && queue_.empty_now()) return nullptr;
      std::this_thread::yield();
      if (state_base* s = queue_.pop()) return s;
      park();
      if (stopping_.load(std::memory_order_acquire) && queue_.empty_now()) return nullptr;
    }
  }

  void park() {
    std::unique_lock lk(park_mu_);
    // Counted before the emptiness check: a submitter pushes and then reads
    // the count, so one of the two sees the other (both seq_cst).
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    if (!queue_.empty_now() || stopping_.load(std::memory_order_relaxed)) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return;
    }
    while (wakeups_ == 0 && !stopping_.load(std::memory_order_relaxed)) park_cv_.wait(lk);
    if (wakeups_ > 0)
      --wakeups_;  // the waker took us off the count
    else
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
  }

  // Python: ThreadPoolExecutor._initializer_failed.
  void break_pool(std::exception_ptr e) noexcept {
    try {
      std::fprintf(stderr, "corio::futures: exception in initializer of %s: %s\n", prefix_.c_str(),
                   describe_exception(e).c_str());
    } catch (...) {
    }
    broken_.store(true, std::memory_order_seq_cst);
    closed_.store(true, std::memory_order_seq_cst);
    drain([](work_ref w) {
      std::exception_ptr x;
      try {
        x = std::make_exception_ptr(broken_thread_pool(broken_message));
      } catch (...) {
        x = std::current_exception();
      }
      w.fail(std::move(x));
    });
  }

  const std::size_t max_workers_;
  std::string prefix_;
  const std::function<void()> initializer_;

  // Read on every submit, written rarely.
  alignas(64) std::atomic<int> sleepers_{0};  // parked workers not yet woken
  std::atomic<bool> full_{false};             // max_workers threads started
  std::atomic<bool> closed_{false};           // shut down or broken: refuse work
  std::atomic<bool> broken_{false};
  std::atomic<bool> stopping_{false};         // workers leave once the queue is empty
  alignas(64) std::atomic<std::uint32_t> idle_tokens_{0};
  work_queue queue_;

  std::mutex park_mu_;
  std::condition_variable park_cv_;
  std::uint32_t wakeups_ = 0;  // guarded by park_mu_

  std::mutex threads_mu_;
  std::vector<std::thread> threads_;  // guarded by threads_mu_
};

}  // namespace detail

std::size_t thread_pool_executor::checked_max_workers(long long n) {
  if (n <= 0) throw std::invalid_argument("max_workers must be greater than 0");
  return static_cast<std::size_t>(n);
}

thread_pool_executor::thread_pool_executor(std::size_t max_workers, std::string thread_name_prefix,
                                           std::function<void()> initializer) {
  if (max_workers == 0) {
    const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
    max_workers = std::min<std::size_t>(32, cpus + 4);
  }
  core_ = std::make_shared<detail::pool_core>(max_workers, std::move(thread_name_prefix), std::move(initializer));
}

thread_pool_executor::~thread_pool_executor() { core_->close(); }

std::size_t thread_pool_executor::max_workers() const noexcept { return core_->max_workers(); }

void thread_pool_executor::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

void thread_pool_executor::schedule(detail::work_ref item) { core_->submit(std::move(item)); }

}  // namespace corio::futures

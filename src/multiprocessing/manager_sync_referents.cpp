// The queues and synchronization objects of a sync manager (MG-10, MG-11),
// built on corio's asyncio primitives on the server's loop: a call that
// waits (get, put, acquire, wait) is a coroutine there, so it holds up
// neither the loop nor the other clients. Timeouts are seconds (nil: no
// limit), as Python's; a blocking call with a timeout of 0 or less tries
// once without waiting.
#include "manager_server.hpp"

#include <corio/exceptions.hpp>
#include <corio/locks.hpp>
#include <corio/queues.hpp>
#include <corio/timeouts.hpp>

#include <chrono>
#include <deque>
#include <list>
#include <memory>
#include <optional>

namespace corio::multiprocessing::detail {

namespace {

using seconds = std::chrono::duration<double>;

std::optional<double> timeout_arg(const call_args& a, std::size_t i) {
  if (a.size() <= i) return std::nullopt;
  auto t = a.get<std::optional<double>>(i);
  if (t && *t < 0) throw std::invalid_argument("'timeout' must be a non-negative number");
  return t;
}

bool block_arg(const call_args& a, std::size_t i) { return a.size() <= i || a.get<bool>(i); }

// Runs `wait` (a task) within `t` seconds: false when the time ran out.
task<bool> within(std::optional<double> t, task<void> wait) {
  if (!t) {
    co_await std::move(wait);
    co_return true;
  }
  try {
    co_await corio::wait_for(std::move(wait), seconds(*t));
  } catch (const corio::timeout_error&) {
    co_return false;
  }
  co_return true;
}

// -- queue -------------------------------------------------------------------------------

class queue_referent final : public referent {
 public:
  explicit queue_referent(const call_args& a) : q_(a.size() > 0 ? a.get<std::int64_t>(0) : 0) {
    a.expect("queue", 0, 1);
  }
  explicit queue_referent(std::int64_t maxsize) : q_(maxsize) {}

  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "qsize") {
      out.set(q_.qsize() + returned_.size());
    } else if (m == "empty") {
      out.set(q_.empty() && returned_.empty());
    } else if (m == "full") {
      out.set(q_.full());
    } else if (m == "put_nowait") {
      a.expect(m, 1);
      q_.put_nowait(a.bytes(0));
    } else if (m == "get_nowait") {
      a.expect(m, 0);
      out.set_raw(take());
    } else if (m == "task_done") {
      a.expect(m, 0);
      q_.task_done();
    } else if (m == "put" && (!block_arg(a, 1) || nonpositive(timeout_arg(a, 2)) || !q_.full())) {
      // A put that must not wait, or has room, is done here: the queue's
      // own put() would not wait either, and a call that waits costs a task
      // and a watch on its connection (manager_server.cpp).
      a.expect(m, 1, 3);
      q_.put_nowait(a.bytes(0));
    } else if (m == "get" &&
               (!block_arg(a, 0) || nonpositive(timeout_arg(a, 1)) || !q_.empty() || !returned_.empty())) {
      a.expect(m, 0, 2);
      out.set_raw(take());
    } else if (m == "_unget") {
      a.expect(m, 1);
      unget(a.bytes(0));
    } else {
      return false;
    }
    return true;
  }

  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "put") {  // put(item, block, timeout)
      a.expect(m, 1, 3);
      std::string item = a.bytes(0);
      if (!co_await within(timeout_arg(a, 2), put(std::move(item)))) throw queue_full();
    } else if (m == "get") {  // get(block, timeout)
      a.expect(m, 0, 2);
      std::string item;
      if (!co_await within(timeout_arg(a, 1), get(item))) throw queue_empty();
      out.set_raw(item);
    } else if (m == "join") {
      a.expect(m, 0);
      co_await q_.join();
    } else {
      no_such_method("queue", m);
    }
  }

 private:
  static bool nonpositive(std::optional<double> t) { return t && *t <= 0; }
  std::string take() {
    if (returned_.empty()) return q_.get_nowait();
    std::string x = std::move(returned_.front());
    returned_.pop_front();
    return x;
  }
  // `_unget`: a client gives back an item its get took after the get was
  // cancelled (manager_client.cpp): the item goes back at the head, past
  // maxsize if it must (it held its place), without a new unfinished task.
  // With nothing to take in the queue, a put hands it to the first waiting
  // getter (task_done() undoes the count the put adds); otherwise it waits
  // in front of the queue's items.
  void unget(std::string item) {
    if (returned_.empty() && q_.empty() && !q_.full()) {
      q_.put_nowait(std::move(item));
      q_.task_done();
    } else {
      returned_.push_front(std::move(item));
    }
  }
  task<void> put(std::string item) { co_await q_.put(std::move(item)); }
  task<void> get(std::string& item) { item = co_await q_.get(); }

  corio::queue<std::string> q_;
  std::deque<std::string> returned_;  // given back (unget), taken first
};

// -- locks and semaphores ------------------------------------------------------------------

// Python's acquire(blocking=True, timeout=None) over an asyncio-style
// primitive: Lock, Semaphore, BoundedSemaphore (any client may release,
// MG-11).
template <class Prim>
class acquirer_referent final : public referent {
 public:
  template <class... A>
  explicit acquirer_referent(const char* name, A... a) : name_(name), p_(a...) {}

  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "release") {
      a.expect(m, 0);
      p_.release();
    } else if (m == "locked") {
      out.set(p_.locked());
    } else if (m == "acquire" && !p_.locked()) {
      a.expect(m, 0, 2);
      (void)timeout_arg(a, 1);  // checked all the same
      // Free: taken here, as the primitive's own acquire would without
      // waiting (a call that waits costs a task and a watch on its
      // connection). A woken waiter that has not run yet goes first.
      auto w = p_.acquire().operator co_await();
      if (w.await_ready()) {
        w.await_resume();
        out.set(true);
      } else if (!block_arg(a, 0) || nonpositive(timeout_arg(a, 1))) {
        out.set(false);
      } else {
        return false;
      }
    } else if (m == "acquire" && (!block_arg(a, 0) || nonpositive(timeout_arg(a, 1)))) {
      a.expect(m, 0, 2);
      out.set(false);
    } else {
      return false;
    }
    return true;
  }

  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state&) override {
    if (m != "acquire") no_such_method(name_, m);
    a.expect(m, 0, 2);
    // call() answered every acquire that does not wait: this one waits
    // with its timeout.
    out.set(co_await within(timeout_arg(a, 1), acquire()));
  }

 private:
  static bool nonpositive(std::optional<double> t) { return t && *t <= 0; }
  task<void> acquire() { co_await p_.acquire(); }

  const char* name_;
  Prim p_;
};

// An RLock: owned by the connection that acquired it (MG-11), re-entered by
// it, released only by it.
class rlock_core {
 public:
  bool owned_by(std::uint64_t c) const noexcept { return owner_ == c && count_ > 0; }
  bool free() const noexcept { return count_ == 0 && !l_.locked(); }
  task<bool> acquire(std::uint64_t c, bool block, std::optional<double> t) {
    if (owned_by(c)) {
      ++count_;
      co_return true;
    }
    if (!l_.locked()) {
      co_await take();  // at once
    } else {
      if (!block || (t && *t <= 0)) co_return false;
      const bool taken = co_await within(t, take());
      if (!taken) co_return false;
    }
    owner_ = c;
    count_ = 1;
    co_return true;
  }
  void release(std::uint64_t c) {
    if (!owned_by(c)) throw std::runtime_error("cannot release un-acquired lock");
    if (--count_ == 0) {
      owner_ = 0;
      l_.release();
    }
  }
  // A condition's wait: gives the lock up whole and takes it back.
  std::size_t release_all(std::uint64_t c) {
    if (!owned_by(c)) throw std::runtime_error("cannot wait on un-acquired lock");
    const std::size_t n = count_;
    count_ = 0;
    owner_ = 0;
    l_.release();
    return n;
  }
  task<void> restore(std::uint64_t c, std::size_t n) {
    co_await take();
    owner_ = c;
    count_ = n;
  }

 private:
  task<void> take() { co_await l_.acquire(); }
  corio::lock l_;
  std::uint64_t owner_ = 0;
  std::size_t count_ = 0;
};

class rlock_referent final : public referent {
 public:
  bool call(std::string_view m, const call_args& a, reply_writer&, client_state& c) override {
    if (m == "release") {
      a.expect(m, 0);
      r_.release(c.id);
      return true;
    }
    return false;
  }
  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state& c) override {
    if (m != "acquire") no_such_method("rlock", m);
    a.expect(m, 0, 2);
    out.set(co_await r_.acquire(c.id, block_arg(a, 0), timeout_arg(a, 1)));
  }

 private:
  rlock_core r_;
};

// Python's threading.Condition over an RLock, in the server.
class condition_referent final : public referent {
 public:
  bool call(std::string_view m, const call_args& a, reply_writer&, client_state& c) override {
    if (m == "release") {
      a.expect(m, 0);
      r_.release(c.id);
    } else if (m == "notify" || m == "notify_all") {
      a.expect(m, 0, 1);
      if (!r_.owned_by(c.id)) throw std::runtime_error("cannot notify on un-acquired lock");
      std::size_t n = m == "notify_all" ? waiters_.size() : a.size() == 1 ? a.get<std::size_t>(0) : 1;
      while (n-- > 0 && !waiters_.empty()) {
        waiters_.front()->set();
        waiters_.pop_front();
      }
    } else {
      return false;
    }
    return true;
  }

  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state& c) override {
    if (m == "acquire") {
      a.expect(m, 0, 2);
      out.set(co_await r_.acquire(c.id, block_arg(a, 0), timeout_arg(a, 1)));
    } else if (m == "wait") {  // wait(timeout): false if it timed out
      a.expect(m, 0, 1);
      const std::optional<double> t = timeout_arg(a, 0);
      auto ev = std::make_shared<event>();
      const std::size_t n = r_.release_all(c.id);
      waiters_.push_back(ev);
      bool notified = false;
      std::exception_ptr err;
      try {
        notified = co_await within(t, wait(ev));
      } catch (...) {
        err = std::current_exception();
      }
      if (!notified) waiters_.remove(ev);
      co_await r_.restore(c.id, n);
      if (err) std::rethrow_exception(err);
      out.set(notified);
    } else {
      no_such_method("condition", m);
    }
  }

 private:
  static task<void> wait(std::shared_ptr<event> ev) { co_await ev->wait(); }
  rlock_core r_;
  std::list<std::shared_ptr<event>> waiters_;
};

// -- event and barrier ----------------------------------------------------------------------

class event_referent final : public referent {
 public:
  bool call(std::string_view m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "is_set") {
      out.set(e_.is_set());
    } else if (m == "set") {
      e_.set();
    } else if (m == "clear") {
      e_.clear();
    } else if (m == "wait" && (e_.is_set() || (timeout_arg(a, 0) && *timeout_arg(a, 0) <= 0))) {
      out.set(e_.is_set());
    } else {
      return false;
    }
    return true;
  }
  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state&) override {
    if (m != "wait") no_such_method("event", m);
    a.expect(m, 0, 1);
    out.set(co_await within(timeout_arg(a, 0), wait()));
  }

 private:
  task<void> wait() { co_await e_.wait(); }
  event e_;
};

class barrier_referent final : public referent {
 public:
  explicit barrier_referent(const call_args& a) : b_((a.expect("barrier", 1, 2), a.get<std::size_t>(0))) {
    if (a.size() == 2) default_timeout_ = a.get<std::optional<double>>(1);
  }
  bool call(std::string_view m, const call_args&, reply_writer& out, client_state&) override {
    if (m == "parties") {
      out.set(b_.parties());
    } else if (m == "n_waiting") {
      out.set(b_.n_waiting());
    } else if (m == "broken") {
      out.set(b_.broken());
    } else {
      return false;
    }
    return true;
  }
  task<void> call_async(std::string m, const call_args& a, reply_writer& out, client_state&) override {
    if (m == "wait") {  // Python: a timeout breaks the barrier
      a.expect(m, 0, 1);
      std::optional<double> t = a.size() == 1 ? timeout_arg(a, 0) : default_timeout_;
      std::size_t index = 0;
      bool in_time = true;
      if (t) {
        try {
          index = co_await corio::wait_for(b_.wait(), seconds(*t));
        } catch (const corio::timeout_error&) {
          in_time = false;
        }
      } else {
        index = co_await b_.wait();
      }
      if (!in_time) {
        co_await b_.abort();
        throw broken_barrier_error("the barrier wait timed out: the barrier is broken");
      }
      out.set(index);
    } else if (m == "abort") {
      co_await b_.abort();
    } else if (m == "reset") {
      co_await b_.reset();
    } else {
      no_such_method("barrier", m);
    }
  }

 private:
  barrier b_;
  std::optional<double> default_timeout_;
};

}  // namespace

std::unique_ptr<referent> make_queue(std::int64_t maxsize) { return std::make_unique<queue_referent>(maxsize); }

std::unique_ptr<referent> make_sync_builtin(std::string_view type_id, const call_args& a) {
  if (type_id == "queue") return std::make_unique<queue_referent>(a);
  if (type_id == "lock") {
    a.expect("lock", 0);
    return std::make_unique<acquirer_referent<corio::lock>>("lock");
  }
  if (type_id == "semaphore" || type_id == "bounded_semaphore") {
    a.expect(type_id, 0, 1);
    const std::int64_t n = a.size() == 1 ? a.get<std::int64_t>(0) : 1;
    if (type_id == "semaphore") return std::make_unique<acquirer_referent<corio::semaphore>>("semaphore", n);
    return std::make_unique<acquirer_referent<corio::bounded_semaphore>>("bounded_semaphore", n);
  }
  if (type_id == "rlock") {
    a.expect("rlock", 0);
    return std::make_unique<rlock_referent>();
  }
  if (type_id == "condition") {
    a.expect("condition", 0);
    return std::make_unique<condition_referent>();
  }
  if (type_id == "event") {
    a.expect("event", 0);
    return std::make_unique<event_referent>();
  }
  if (type_id == "barrier") return std::make_unique<barrier_referent>(a);
  return nullptr;
}

}  // namespace corio::multiprocessing::detail

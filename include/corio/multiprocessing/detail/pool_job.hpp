// The parent's side of the work a pool runs: a job (one apply, or one map
// and its chunks), completed by the pool's handler thread as the workers'
// results come back, and waited for by async_result and imap_result. Not
// for users.
#pragma once

#include <corio/multiprocessing/detail/pool_wire.hpp>
#include <corio/multiprocessing/errors.hpp>

#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corio::multiprocessing::detail {

using pool_clock = std::chrono::steady_clock;
using pool_duration = std::chrono::duration<double>;

std::optional<pool_clock::time_point> pool_deadline(std::optional<pool_duration> timeout);
// Asks for transparent huge pages over a large buffer not touched yet: a
// big map's results would otherwise fault in 4 KiB at a time.
void advise_huge_pages(void* p, std::size_t n) noexcept;
// Prints a callback's exception on stderr: the pool goes on (a departure
// from MP-43, where it kills the result handler).
void report_callback_error(const char* which, std::exception_ptr e) noexcept;

// Completed by the handler thread, chunk by chunk; a chunk either arrives
// (its encoded outcome) or fails.
struct pool_job {
  virtual ~pool_job() = default;
  virtual void chunk_done(std::uint32_t index, std::string_view payload) = 0;
  virtual void chunk_failed(std::uint32_t index, std::exception_ptr e) = 0;
  // Before the chunk goes to a worker: false drops it (a cancelled call).
  virtual bool start(std::uint32_t) { return true; }
  // The chunk will never run (shutdown with cancel_futures).
  virtual void cancel(std::uint32_t index) {
    chunk_failed(index, std::make_exception_ptr(std::runtime_error("pool: the task was cancelled")));
  }
};

// A job with one outcome: a value of T or an exception, waited for by
// async_result<T>; the callbacks run in the handler thread before it is
// ready (MP-43).
template <class T>
class result_job : public pool_job {
 public:
  using callback_t = std::function<void(T&)>;
  using error_callback_t = std::function<void(std::exception_ptr)>;
  result_job(callback_t cb, error_callback_t ecb) : cb_(std::move(cb)), ecb_(std::move(ecb)) {}

  bool wait(std::optional<pool_duration> timeout) {
    std::unique_lock g(mu_);
    if (const auto d = pool_deadline(timeout)) return cv_.wait_until(g, *d, [&] { return done_; });
    cv_.wait(g, [&] { return done_; });
    return true;
  }
  bool ready() {
    std::lock_guard g(mu_);
    return done_;
  }
  bool successful() {
    std::lock_guard g(mu_);
    if (!done_) throw std::invalid_argument("async_result is not ready");  // Python: ValueError
    return !failed_;
  }
  // Waits; the value (moved out once) or the exception.
  T take(std::optional<pool_duration> timeout) {
    if (!wait(timeout)) throw timeout_error("async_result.get(): the result is not ready");
    std::unique_lock g(mu_);
    if (error_) {
      // Moved out, so that the caller holds the exception's last reference
      // (the handler thread may drop the job after this).
      std::exception_ptr e = std::move(error_);
      g.unlock();
      std::rethrow_exception(std::move(e));
    }
    if (failed_) throw std::logic_error("async_result.get(): the exception was raised already");
    if (!value_) throw std::logic_error("async_result.get(): the value was taken already");
    T v = std::move(*value_);
    value_.reset();
    return v;
  }

 protected:
  void finish(T v) {
    if (cb_) {
      try {
        cb_(v);
      } catch (...) {
        report_callback_error("callback", std::current_exception());
      }
    }
    std::lock_guard g(mu_);
    value_.emplace(std::move(v));
    done_ = true;
    cv_.notify_all();
  }
  void fail(std::exception_ptr e) {
    if (ecb_) {
      try {
        ecb_(e);
      } catch (...) {
        report_callback_error("error_callback", std::current_exception());
      }
    }
    std::lock_guard g(mu_);
    error_ = std::move(e);
    failed_ = true;
    done_ = true;
    cv_.notify_all();
  }

 private:
  callback_t cb_;
  error_callback_t ecb_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool failed_ = false;
  std::optional<T> value_;
  std::exception_ptr error_;
};

// apply / apply_async: one call; T is its result (std::monostate for void).
template <class T, class R>
class apply_job final : public result_job<T> {
 public:
  using result_job<T>::result_job;
  void chunk_done(std::uint32_t, std::string_view payload) override {
    std::optional<T> v;
    std::exception_ptr e;
    try {
      if constexpr (std::is_void_v<R>) {
        (void)decode<std::nullptr_t>(payload);
        v.emplace();
      } else {
        v.emplace(decode<R>(payload));
      }
    } catch (...) {
      e = std::current_exception();
    }
    // Failed outside the handler: this thread lets go of the exception
    // before the waiter can see it.
    if (e) {
      this->fail(std::move(e));
      return;
    }
    this->finish(std::move(*v));
  }
  void chunk_failed(std::uint32_t, std::exception_ptr e) override { this->fail(std::move(e)); }
};

// map / starmap: `n` items in chunks of `cs`, results in input order; the
// first failure to arrive is raised once every chunk is in (MP-44). Each
// chunk's results are decoded straight into their place.
template <class R>
class map_job final : public result_job<std::vector<R>> {
  static constexpr bool in_place = std::is_default_constructible_v<R> && !std::is_same_v<R, bool>;

 public:
  map_job(std::size_t n, std::size_t cs, typename result_job<std::vector<R>>::callback_t cb,
          typename result_job<std::vector<R>>::error_callback_t ecb)
      : result_job<std::vector<R>>(std::move(cb), std::move(ecb)), n_(n), cs_(cs), left_(cs == 0 ? 0 : (n + cs - 1) / cs) {
    if constexpr (in_place) {
      all_.reserve(n);
      advise_huge_pages(all_.data(), n * sizeof(R));  // before the pages are first touched
      all_.resize(n);
    } else {
      parts_.resize(left_);
    }
  }
  void chunk_done(std::uint32_t index, std::string_view payload) override {
    try {
      const std::size_t first = std::size_t{index} * cs_;
      const std::size_t count = std::min(cs_, n_ - first);
      if constexpr (in_place && raw_chunk<R>) {
        if (payload.size() != count * sizeof(R)) throw codec_error("pool: a chunk's result has the wrong size");
        std::memcpy(all_.data() + first, payload.data(), payload.size());
      } else if constexpr (in_place) {
        std::vector<R> part = decode_chunk<R>(payload);
        if (part.size() != count) throw codec_error("pool: a chunk's result has the wrong size");
        std::move(part.begin(), part.end(), all_.begin() + static_cast<std::ptrdiff_t>(first));
      } else {
        parts_.at(index) = decode_chunk<R>(payload);
      }
    } catch (...) {
      if (!first_error_) first_error_ = std::current_exception();
    }
    one_less();
  }
  void chunk_failed(std::uint32_t, std::exception_ptr e) override {
    if (!first_error_) first_error_ = std::move(e);
    one_less();
  }
  // An empty input: done at once.
  void finish_empty() { this->finish({}); }

 private:
  void one_less() {
    if (--left_ != 0) return;
    if (first_error_) {
      all_.clear();
      parts_.clear();
      this->fail(std::move(first_error_));
      return;
    }
    if constexpr (!in_place) {
      for (auto& p : parts_)
        for (auto& x : p) all_.push_back(std::move(x));
      parts_.clear();
    }
    this->finish(std::move(all_));
  }
  // Only the handler thread touches these.
  const std::size_t n_, cs_;
  std::size_t left_;
  std::vector<R> all_;
  std::vector<std::vector<R>> parts_;
  std::exception_ptr first_error_;
};

// imap / imap_unordered: chunks handed out as they come, in input order or
// in completion order; a chunk's failure is raised at its place, once.
template <class R>
class imap_job final : public pool_job {
 public:
  imap_job(std::size_t chunks, bool ordered) : ordered_(ordered), total_(chunks) {}
  void chunk_done(std::uint32_t index, std::string_view payload) override {
    part p;
    try {
      p = decode_chunk<R>(payload);
    } catch (...) {
      p = std::current_exception();
    }
    put(index, std::move(p));
  }
  void chunk_failed(std::uint32_t index, std::exception_ptr e) override { put(index, std::move(e)); }

  // The next result; none at the end. timeout_error if none came in time.
  std::optional<R> next(std::optional<pool_duration> timeout) {
    const auto d = pool_deadline(timeout);
    std::unique_lock g(mu_);
    for (;;) {
      if (!items_.empty()) {
        R r = std::move(items_.front());
        items_.pop_front();
        return r;
      }
      if (handed_ == total_) return std::nullopt;
      auto it = ordered_ ? arrived_.find(static_cast<std::uint32_t>(handed_)) : arrived_.begin();
      if (it != arrived_.end()) {
        part p = std::move(it->second);
        arrived_.erase(it);
        ++handed_;
        if (auto* e = std::get_if<std::exception_ptr>(&p)) std::rethrow_exception(*e);
        for (auto& x : std::get<std::vector<R>>(p)) items_.push_back(std::move(x));
        continue;
      }
      if (d) {
        if (pool_clock::now() >= *d) throw timeout_error("imap: the next result is not ready");
        cv_.wait_until(g, *d);
      } else {
        cv_.wait(g);
      }
    }
  }

 private:
  using part = std::variant<std::vector<R>, std::exception_ptr>;
  void put(std::uint32_t index, part p) {
    std::lock_guard g(mu_);
    arrived_.emplace(index, std::move(p));
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  const bool ordered_;
  const std::size_t total_;
  std::size_t handed_ = 0;  // chunks handed out (or raised)
  std::map<std::uint32_t, part> arrived_;
  std::deque<R> items_;  // the rest of the chunk being handed out
};

}  // namespace corio::multiprocessing::detail

// Python: threading.Timer.
#pragma once

#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/thread_target.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/thread.hpp>

#include <chrono>
#include <memory>
#include <utility>

namespace corio::threading {

/// Python: threading.Timer. A thread that, once started, waits `interval`
/// and then calls `f(args...)` on its own thread, unless cancel() came first.
/// Arguments are copied in as for thread. Like any thread it is joined when
/// destroyed (unless a daemon): call cancel() first if it should not fire.
class timer : public thread {
 public:
  /// Python: Timer(interval, function, args). std::invalid_argument if
  /// `interval` is negative.
  template <class Rep, class Period, class F, class... Args>
  timer(std::chrono::duration<Rep, Period> interval, F&& f, Args&&... args)
      : timer(thread_options{}, interval, std::forward<F>(f), std::forward<Args>(args)...) {}
  /// The same with a name and daemon flag.
  template <class Rep, class Period, class F, class... Args>
  timer(thread_options opts, std::chrono::duration<Rep, Period> interval, F&& f, Args&&... args)
      : timer(std::make_shared<event>(), std::move(opts), detail::checked_timeout(interval, "timer"),
              detail::make_target(std::forward<F>(f), std::forward<Args>(args)...)) {}
  // A bare number is not an interval: say std::chrono::milliseconds(n).
  template <detail::plain_number N, class F, class... Args>
  timer(N, F&&, Args&&...) = delete;
  template <detail::plain_number N, class F, class... Args>
  timer(thread_options, N, F&&, Args&&...) = delete;
  ~timer() override;

  /// Python: Timer.cancel(): stops the timer if it has not fired yet;
  /// harmless after.
  void cancel() { finished_->set(); }
  /// Python: Timer.interval.
  detail::clock::duration interval() const noexcept { return interval_; }

 private:
  timer(std::shared_ptr<event> finished, thread_options opts, detail::clock::duration interval,
        std::unique_ptr<detail::thread_target> fn);

  // Shared with the running target, so a daemon timer's object may go first.
  std::shared_ptr<event> finished_;
  detail::clock::duration interval_;
};

}  // namespace corio::threading

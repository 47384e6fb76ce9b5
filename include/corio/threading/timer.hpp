// Python: threading.Timer.
#pragma once

#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/thread_target.hpp>
#include <corio/threading/event.hpp>
#include <corio/threading/thread.hpp>

#include <chrono>
#include <memory>
#include <type_traits>
#include <utility>

namespace corio::threading {

class timer_handle;
namespace detail {
// Starts a timer no object owns (start_timer).
timer_handle start_owned_timer(thread_options opts, clock::duration interval, std::unique_ptr<thread_target> fn);
}  // namespace detail

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

/// A timer start_timer() started (Python: the Timer object, kept to cancel
/// or join it): a thread_handle that can also cancel it. Cheap to copy;
/// dropping every copy neither cancels nor detaches the timer.
class timer_handle : public thread_handle {
 public:
  /// Python: Timer.cancel(): the function is not called if it has not
  /// started yet, and the timer's thread ends; harmless after.
  void cancel() { finished_->set(); }
  /// Python: Timer.interval.
  detail::clock::duration interval() const noexcept { return interval_; }

 private:
  friend timer_handle detail::start_owned_timer(thread_options, detail::clock::duration,
                                                std::unique_ptr<detail::thread_target>);
  timer_handle(thread_handle h, std::shared_ptr<event> finished, detail::clock::duration interval) noexcept
      : thread_handle(std::move(h)), finished_(std::move(finished)), interval_(interval) {}

  std::shared_ptr<event> finished_;
  detail::clock::duration interval_;
};

/// Python: `threading.Timer(interval, f, args).start()`, keeping no Timer
/// object. After `interval`, calls `f(args...)` on a thread the library
/// owns, unless cancelled first through the handle; the thread is waited for
/// at exit and reclaimed as start_thread's are (see there).
/// std::invalid_argument if `interval` is negative.
template <class Rep, class Period, class F, class... Args>
  requires(!std::is_same_v<std::remove_cvref_t<F>, thread_options>)
timer_handle start_timer(std::chrono::duration<Rep, Period> interval, F&& f, Args&&... args) {
  return detail::start_owned_timer(thread_options{}, detail::checked_timeout(interval, "start_timer"),
                                   detail::make_target(std::forward<F>(f), std::forward<Args>(args)...));
}
/// The same with a name and daemon flag.
template <class Rep, class Period, class F, class... Args>
timer_handle start_timer(thread_options opts, std::chrono::duration<Rep, Period> interval, F&& f, Args&&... args) {
  return detail::start_owned_timer(std::move(opts), detail::checked_timeout(interval, "start_timer"),
                                   detail::make_target(std::forward<F>(f), std::forward<Args>(args)...));
}
// A bare number is not an interval: say std::chrono::milliseconds(n).
template <detail::plain_number N, class F, class... Args>
timer_handle start_timer(N, F&&, Args&&...) = delete;
template <detail::plain_number N, class F, class... Args>
timer_handle start_timer(thread_options, N, F&&, Args&&...) = delete;

}  // namespace corio::threading

#include <corio/threading/timer.hpp>

namespace corio::threading {

namespace {

// Python's Timer.run(): waits, then calls, unless the event (which doubles
// as the cancel signal) was set first.
std::unique_ptr<detail::thread_target> timer_body(std::shared_ptr<event> finished, detail::clock::duration interval,
                                                  std::unique_ptr<detail::thread_target> fn) {
  return detail::make_target(
      [finished = std::move(finished), interval](std::unique_ptr<detail::thread_target> call) {
        finished->wait(interval);
        if (!finished->is_set()) call->invoke();
        finished->set();
      },
      std::move(fn));
}

}  // namespace

timer::timer(std::shared_ptr<event> finished, thread_options opts, detail::clock::duration interval,
             std::unique_ptr<detail::thread_target> fn)
    : thread(detail::adopt_target_t{}, std::move(opts), timer_body(finished, interval, std::move(fn))),
      finished_(std::move(finished)),
      interval_(interval) {}

// The base destructor would change the object's dynamic type while the new
// thread may still be dispatching run() on it: settle first.
timer::~timer() { settle(); }

namespace detail {

timer_handle start_owned_timer(thread_options opts, clock::duration interval, std::unique_ptr<thread_target> fn) {
  auto finished = std::make_shared<event>();
  thread_handle h = start_owned(std::move(opts), timer_body(finished, interval, std::move(fn)));
  return timer_handle(std::move(h), std::move(finished), interval);
}

}  // namespace detail

}  // namespace corio::threading

#include <corio/threading/timer.hpp>

namespace corio::threading {

timer::timer(std::shared_ptr<event> finished, thread_options opts, detail::clock::duration interval,
             std::unique_ptr<detail::thread_target> fn)
    : thread(std::move(opts),
             [finished, interval](std::unique_ptr<detail::thread_target> call) {
               // Python's Timer.run(): the event doubles as the cancel signal.
               finished->wait(interval);
               if (!finished->is_set()) call->invoke();
               finished->set();
             },
             std::move(fn)),
      finished_(std::move(finished)),
      interval_(interval) {}

// The base destructor would change the object's dynamic type while the new
// thread may still be dispatching run() on it: settle first.
timer::~timer() { settle(); }

}  // namespace corio::threading

#include <corio/wait.hpp>

namespace corio::detail {

void check_wait_args(bool empty, bool has_unscheduled) {
  if (empty) throw std::invalid_argument("Set of Futures is empty.");  // CB-14
  if (has_unscheduled)
    throw std::invalid_argument("corio::wait: pass scheduled tasks or futures (create_task the coroutine first)");
}

}  // namespace corio::detail

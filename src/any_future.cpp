#include <corio/any_future.hpp>

#include <stdexcept>

namespace corio::detail {

void throw_unscheduled_any_future() {
  throw std::invalid_argument(
      "corio::any_future: the task is a coroutine not scheduled yet, which nothing would run; create_task it first");
}

}  // namespace corio::detail

#include <corio/threading/detail/deadline.hpp>

#include <stdexcept>
#include <string>

namespace corio::threading::detail {

void throw_negative_timeout(const char* what) {
  throw std::invalid_argument(std::string(what) + ": timeout must be non-negative");
}

}  // namespace corio::threading::detail

#include <corio/locks.hpp>

#include <stdexcept>
#include <string>

namespace corio::detail {

void bind_primitive(std::uint32_t& bound, std::uint32_t loop_ref, const char* what) {
  if (bound == 0 || loop_from_ref(bound) == nullptr) {
    bound = loop_ref;
    return;
  }
  if (bound != loop_ref) throw std::runtime_error(std::string(what) + " is bound to a different event loop");
}

}  // namespace corio::detail

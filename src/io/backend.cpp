// Which backend a new loop gets: io_uring when the kernel offers it, epoll
// when it does not or when CORIO_BACKEND=epoll.
#include <corio/detail/loop_core.hpp>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace corio::detail {

std::unique_ptr<io_backend> make_epoll_backend();
std::unique_ptr<io_backend> make_uring_backend();
bool uring_available() noexcept;

std::unique_ptr<io_backend> make_default_backend() {
  const char* env = std::getenv("CORIO_BACKEND");
  if (env && *env) {
    if (std::strcmp(env, "epoll") == 0) return make_epoll_backend();
    if (std::strcmp(env, "io_uring") == 0) {
      if (!uring_available()) throw std::runtime_error("corio: CORIO_BACKEND=io_uring, but this kernel refuses io_uring");
      return make_uring_backend();
    }
    throw std::invalid_argument(std::string("corio: CORIO_BACKEND must be io_uring or epoll, not '") + env + "'");
  }
  return uring_available() ? make_uring_backend() : make_epoll_backend();
}

}  // namespace corio::detail

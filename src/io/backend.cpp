// Which backend a new loop gets: io_uring when the kernel offers everything
// the io_uring backend needs (see uring_backend.cpp), epoll when it does not
// or when CORIO_BACKEND=epoll.
#include <corio/detail/loop_core.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace corio::detail {

std::unique_ptr<io_backend> make_epoll_backend();
std::unique_ptr<io_backend> make_uring_backend();
// Null if io_uring has all the backend needs; else what it lacks. Probed
// once per process.
const char* uring_missing() noexcept;
// What the io_uring backend uses, for the debug note.
extern const char* const kUringUses;

namespace {

const char* backend_env() noexcept {
  const char* env = std::getenv("CORIO_BACKEND");
  return env && *env ? env : nullptr;
}

}  // namespace

std::unique_ptr<io_backend> make_default_backend() {
  if (const char* env = backend_env()) {
    if (std::strcmp(env, "epoll") == 0) return make_epoll_backend();
    if (std::strcmp(env, "io_uring") == 0) {
      if (const char* missing = uring_missing())
        throw std::runtime_error(std::string("corio: CORIO_BACKEND=io_uring, but ") + missing);
      return make_uring_backend();
    }
    throw std::invalid_argument(std::string("corio: CORIO_BACKEND must be io_uring or epoll, not '") + env + "'");
  }
  return uring_missing() ? make_epoll_backend() : make_uring_backend();
}

// Python's debug mode logs "Using selector: EpollSelector" for each new
// loop; corio says once per process which backend it chose and why.
void note_backend_choice(const io_backend& chosen) noexcept {
  static std::atomic<bool> noted{false};
  if (noted.exchange(true)) return;
  if (backend_env())
    std::fprintf(stderr, "corio: I/O backend %s, as CORIO_BACKEND asks\n", chosen.name());
  else if (const char* missing = uring_missing())
    std::fprintf(stderr, "corio: I/O backend %s: io_uring is not used because %s\n", chosen.name(), missing);
  else
    std::fprintf(stderr, "corio: I/O backend %s (%s)\n", chosen.name(), kUringUses);
}

}  // namespace corio::detail

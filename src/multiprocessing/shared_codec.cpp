// Shared objects crossing a process start (see
// multiprocessing/detail/shared_codec.hpp).
#include <corio/multiprocessing/detail/shared_codec.hpp>

#include <unistd.h>

#include <charconv>
#include <string>
#include <string_view>

namespace corio::multiprocessing::detail {

namespace {

constexpr std::string_view kFdPrefix = "fd:";

// n if `segment` is "/proc/<this pid>/fd/<n>", else -1.
int own_fd(std::string_view segment) {
  const std::string prefix = "/proc/" + std::to_string(::getpid()) + "/fd/";
  if (!segment.starts_with(prefix)) return -1;
  segment.remove_prefix(prefix.size());
  int fd = -1;
  const auto [end, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), fd);
  if (ec != std::errc() || end != segment.data() + segment.size() || fd < 0) return -1;
  return fd;
}

}  // namespace

shared_handle handle_for_child(shared_handle h) {
  if (!sharing_fds()) return h;
  if (const int fd = own_fd(h.segment); fd >= 0)
    h.segment = std::string(kFdPrefix) + std::to_string(share_fd(fd, "a shared object"));
  for (shared_handle& part : h.parts) part = handle_for_child(std::move(part));
  return h;
}

shared_handle handle_from_parent(shared_handle h) {
  if (h.segment.starts_with(kFdPrefix)) {
    const std::string_view digits = std::string_view(h.segment).substr(kFdPrefix.size());
    std::size_t index = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc() || end != digits.data() + digits.size())
      throw codec_error("codec: a shared " + h.kind + " names a bad fd index: " + h.segment);
    const int fd = received_fd(index, "a shared object");
    close_after_decoding(fd);
    h.segment = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd);
  }
  for (shared_handle& part : h.parts) part = handle_from_parent(std::move(part));
  return h;
}

}  // namespace corio::multiprocessing::detail

#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

namespace corio {

namespace detail {

void throw_sock_error(int neg_errno, const char* call, int fd) {
  throw_os_error(-neg_errno, std::string(call) + " on fd " + std::to_string(fd));
}

void throw_sock_error(int neg_errno, const char* call, int fd, const socket_address& peer) {
  throw_os_error(-neg_errno, std::string(call) + " on fd " + std::to_string(fd) + " to " + peer.to_string());
}

}  // namespace detail

task<void> sock_sendall(socket& s, std::string_view data) {
  while (!data.empty()) {
    const std::size_t n = co_await sock_send(s, data);
    data.remove_prefix(n);
  }
}

}  // namespace corio

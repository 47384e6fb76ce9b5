// Between the addresses users write (multiprocessing::address: a path or a
// host and port) and the ones system calls take (socket_address): shared by
// the listener, the client and the managers. Not for users.
#pragma once

#include <corio/multiprocessing/address.hpp>
#include <corio/socket.hpp>
#include <corio/tasks.hpp>

namespace corio::multiprocessing::detail {

/// AF_UNIX, AF_INET or AF_INET6.
int af_of(family f) noexcept;
/// The sockaddr of `a`: a path or a numeric host at once, a host name
/// through getaddrinfo (blocking); gai_error naming `who` and the address.
socket_address resolve_blocking(const address& a, family f, const char* who);
/// The same in a running loop (getaddrinfo off the loop thread).
task<socket_address> resolve_async(address a, const char* who);
/// The address a sockaddr names (a numeric host).
address from_sockaddr(const socket_address& sa);

}  // namespace corio::multiprocessing::detail

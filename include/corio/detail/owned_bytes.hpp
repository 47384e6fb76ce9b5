// Which byte-string arguments an I/O call takes over. Not for users.
//
// A coroutine or an awaitable may run after the statement that made it has
// ended (`create_task(sock_sendall(s, make_payload()))`, Python's ordinary
// `loop.create_task(loop.sock_sendall(sock, make_payload()))`), so a view of
// a temporary would dangle. The calls that keep their bytes until they run
// have an overload for a std::string rvalue, which moves the string into the
// task or the awaitable; a named string, a literal or a view is still viewed
// without a copy, and must outlive the call as any view must.
#pragma once

#include <concepts>
#include <string>
#include <type_traits>

namespace corio::detail {

// S as deduced from a forwarding reference `S&&`: a reference type for an
// lvalue, so only std::string rvalues (a temporary, a std::move) match.
template <class S>
concept string_rvalue = !std::is_reference_v<S> && std::same_as<std::remove_cv_t<S>, std::string>;

}  // namespace corio::detail

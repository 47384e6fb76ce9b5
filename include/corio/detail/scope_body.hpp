// Calling the body of a structured scope (timeout, task_group): a coroutine
// that may or may not take the scope as its argument. Not for users.
#pragma once

#include <type_traits>

namespace corio::detail {

template <class F, class Scope>
auto call_scope_body(F& body, Scope& scope) {
  if constexpr (std::is_invocable_v<F&, Scope&>)
    return body(scope);
  else
    return body();
}

}  // namespace corio::detail

// Storage for an outcome: a T or an exception_ptr, sharing one union, with
// the discriminant kept in the owning future_core's state bits. Used by
// futures and task promises alike. Not for users.
#pragma once

#include <corio/detail/future_core.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

namespace corio::detail {

template <class T>
struct stored {
  using type = T;
};
template <class T>
struct stored<T&> {
  using type = T*;
};

template <class T>
union result_slot {
  using value_type = typename stored<T>::type;
  static_assert(alignof(value_type) <= 16,
                "corio: result types aligned beyond 16 bytes are not supported; "
                "return std::unique_ptr<T> instead");
  value_type value;
  std::exception_ptr exc;

  result_slot() noexcept {}
  ~result_slot() {}

  template <class... A>
  void emplace(A&&... a) {
    if constexpr (std::is_reference_v<T>) {
      static_assert(sizeof...(A) == 1);
      value = std::addressof(a...);
    } else {
      ::new (static_cast<void*>(std::addressof(value))) value_type(std::forward<A>(a)...);
    }
  }
  void destroy(std::uint16_t state) noexcept {
    if (state == future_core::st_result) {
      if constexpr (!std::is_trivially_destructible_v<value_type>) value.~value_type();
    } else if (state != future_core::st_pending) {
      exc.~exception_ptr();
    }
  }
  T& get() noexcept {
    if constexpr (std::is_reference_v<T>)
      return *value;
    else
      return value;
  }
};

template <>
union result_slot<void> {
  std::exception_ptr exc;
  result_slot() noexcept {}
  ~result_slot() {}
  void destroy(std::uint16_t state) noexcept {
    if (state != future_core::st_pending && state != future_core::st_result) exc.~exception_ptr();
  }
};

// The outcome of a done core as the awaiter sees it: the value (moved out if
// Move), or the stored exception rethrown.
template <class T, bool Move>
decltype(auto) take_outcome(future_core* core, result_slot<T>& slot) {
  core->set(future_core::f_retrieved);
  if (CORIO_UNLIKELY(core->state() != future_core::st_result)) std::rethrow_exception(slot.exc);
  if constexpr (std::is_void_v<T>) {
    return;
  } else if constexpr (std::is_reference_v<T>) {
    return static_cast<T>(*slot.value);
  } else if constexpr (Move) {
    return T(std::move(slot.value));
  } else {
    return static_cast<T&>(slot.value);
  }
}

}  // namespace corio::detail

// Stress-test helpers for code that must not use machine stack per level of
// nesting: run it on a thread with a small stack, and measure how far down
// the stack a point of the code sits.
#pragma once

#include <corio/detail/config.hpp>

#include <gtest/gtest.h>
#include <pthread.h>

#include <cstdint>
#include <functional>

namespace corio_test {

/// How deep the machine stack is at the caller.
CORIO_NOINLINE inline std::uintptr_t stack_mark() {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}

/// The distance between two stack marks, in bytes.
inline std::uintptr_t distance(std::uintptr_t a, std::uintptr_t b) { return a > b ? a - b : b - a; }

/// Runs fn on a thread with a 1 MiB stack, so that a chain that does use
/// stack per level overflows it instead of quietly succeeding.
inline void on_small_stack(std::function<void()> fn) {
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, 1 << 20), 0);
  pthread_t th;
  auto body = [](void* p) -> void* {
    (*static_cast<std::function<void()>*>(p))();
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&th, &attr, body, &fn), 0);
  pthread_join(th, nullptr);
  pthread_attr_destroy(&attr);
}

}  // namespace corio_test

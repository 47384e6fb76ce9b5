// Debug mode's check for the most common lifetime bug of coroutine code
// (C++ Core Guidelines CP.51-53): a lazily started task whose reference
// parameter (or lambda object) is bound to a temporary or to a local of a
// function that returns before the task first runs,
//
//   corio::create_task(send(std::string("x")));   // send(const std::string&)
//   corio::create_task([&] -> corio::task<> { ... }());
//
// What the library can see: a task's promise is constructed with the
// coroutine's parameters, so it knows the address each reference parameter
// is bound to. While some loop has debug mode on, the addresses that lie on
// the creating thread's stack are remembered for tasks create_task
// schedules; before such a task's first step, an address below the stack
// pointer of the loop's dispatch (a stack frame that has since returned)
// means the referent is gone, and the task ends with an error naming it
// instead of running its body on freed memory. A reference to a live frame
// (a local of main() around run_forever, a temporary around
// run_until_complete or an await) is above it and passes. Referents outside
// the stack (heap objects, other coroutines' frames) are not judged. Not for
// users.
#pragma once

#include <corio/detail/config.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <type_traits>

namespace corio::detail {

struct task_base;

// Loops with debug mode on, in any thread.
extern std::atomic<int> g_debug_loops;

// The promise constructor's record: which of `n` parameter addresses lie on
// this thread's stack (kept for the next task_start of `t`).
void note_stack_refs(const task_base* t, const void* const* addrs, std::size_t n) noexcept;
// task_start of a lazily started task: keep what was noted for it.
void watch_stack_refs(const task_base* t) noexcept;
// Before a watched task's first step: true if a referent lies in a stack
// frame that has returned (the record is dropped either way).
bool stack_refs_dangle(const task_base* t, const void* stack_pointer) noexcept;
// The task goes away without having run.
void forget_stack_refs(const task_base* t) noexcept;
// True while some task of this thread is watched.
extern thread_local bool tl_stack_refs_watched;

// The address of a parameter, or null for an empty object (a capture-less
// lambda's closure: nothing in it can dangle).
template <class A>
CORIO_ALWAYS_INLINE const void* param_address(A& a) noexcept {
  if constexpr (std::is_empty_v<A>)
    return nullptr;
  else
    return static_cast<const void*>(std::addressof(a));
}

template <class... A>
CORIO_ALWAYS_INLINE void note_params(const task_base* t, A&... a) noexcept {
  if (CORIO_UNLIKELY(g_debug_loops.load(std::memory_order_relaxed) != 0)) {
    const void* addrs[] = {param_address(a)...};
    note_stack_refs(t, addrs, sizeof...(A));
  }
}

}  // namespace corio::detail

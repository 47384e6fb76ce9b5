#include <corio/detail/stack_refs.hpp>
#include <corio/detail/task_base.hpp>

#include <pthread.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace corio::detail {

std::atomic<int> g_debug_loops{0};
thread_local bool tl_stack_refs_watched = false;

namespace {

constexpr std::size_t kMaxNoted = 8;

// The last promise constructed on this thread and its parameters' stack
// addresses, until create_task takes them (or the next promise overwrites).
struct noted_refs {
  const task_base* t = nullptr;
  std::size_t n = 0;
  const void* refs[kMaxNoted];
};
thread_local noted_refs tl_noted;

struct stack_range {
  const char* lo = nullptr;
  const char* hi = nullptr;
};
thread_local stack_range tl_stack;

const stack_range& this_stack() noexcept {
  if (tl_stack.hi == nullptr) {
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
      void* addr = nullptr;
      std::size_t size = 0;
      if (pthread_attr_getstack(&a, &addr, &size) == 0) {
        tl_stack.lo = static_cast<const char*>(addr);
        tl_stack.hi = tl_stack.lo + size;
      }
      pthread_attr_destroy(&a);
    }
  }
  return tl_stack;
}

std::unordered_map<const task_base*, std::vector<const void*>>& watched() {
  thread_local std::unordered_map<const task_base*, std::vector<const void*>> m;
  return m;
}

}  // namespace

void note_stack_refs(const task_base* t, const void* const* addrs, std::size_t n) noexcept {
  const stack_range& s = this_stack();
  tl_noted.t = nullptr;
  tl_noted.n = 0;
  for (std::size_t i = 0; i < n && tl_noted.n < kMaxNoted; ++i) {
    const char* p = static_cast<const char*>(addrs[i]);
    if (p >= s.lo && p < s.hi) tl_noted.refs[tl_noted.n++] = p;
  }
  if (tl_noted.n) tl_noted.t = t;
}

void watch_stack_refs(const task_base* t) noexcept {
  if (tl_noted.t != t) return;
  tl_noted.t = nullptr;
  try {
    watched()[t].assign(tl_noted.refs, tl_noted.refs + tl_noted.n);
    tl_stack_refs_watched = true;
  } catch (...) {
    // Out of memory: this task goes unchecked.
  }
}

bool stack_refs_dangle(const task_base* t, const void* stack_mark) noexcept {
  auto& m = watched();
  auto it = m.find(t);
  if (it == m.end()) return false;
  const stack_range& s = this_stack();
  const char* mark = static_cast<const char*>(stack_mark);
  const bool dangle = mark != nullptr && std::any_of(it->second.begin(), it->second.end(), [&](const void* r) {
                        const char* p = static_cast<const char*>(r);
                        return p >= s.lo && p < mark;
                      });
  m.erase(it);
  tl_stack_refs_watched = !m.empty();
  return dangle;
}

void forget_stack_refs(const task_base* t) noexcept {
  if (tl_noted.t == t) tl_noted.t = nullptr;
  if (!tl_stack_refs_watched) return;
  auto& m = watched();
  m.erase(t);
  tl_stack_refs_watched = !m.empty();
}

}  // namespace corio::detail

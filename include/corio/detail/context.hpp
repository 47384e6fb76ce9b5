// The machinery behind contextvars. Not for users.
//
// A context's contents are an immutable map (ctx_map) from variables to
// values, shared by reference count, so copying a context is O(1) (CV-03):
// setting a variable builds a new map and swaps the pointer. A null map is
// the empty context: code that never sets a variable never allocates.
//
// Where the "current context" lives is a context word: a task's own word (in
// its promise), a callback's word (in its handle), the thread's word, or the
// word of a corio::context object entered with run(). A word holds either a
// map pointer (the owner's own context) or, tagged, a context_impl* (an
// explicit Context object, shared: its mutations are visible to whoever
// holds it, CV-07). The loop points the thread's current slot at the running
// task's or callback's word; that store is the whole per-resume cost.
#pragma once

#include <corio/detail/future_core.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace corio::detail {

struct ctx_value {
  std::atomic<std::uint32_t> refs{1};
  void (*destroy)(ctx_value*) noexcept;
  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(this);
  }
};

// Immutable after construction; shared between contexts and threads.
struct ctx_map {
  struct entry {
    const void* var;
    ctx_value* value;
  };
  std::atomic<std::uint32_t> refs{1};
  std::uint32_t size = 0;
  entry entries[1];  // `size` of them, sorted by var; allocated to fit

  ctx_value* find(const void* var) const noexcept;
  // A new map with var set to v (takes a reference to v).
  static ctx_map* with(const ctx_map* m, const void* var, ctx_value* v);
  // A new map without var (null when empty).
  static ctx_map* without(const ctx_map* m, const void* var);
  static void retain(const ctx_map* m) noexcept {
    if (m) const_cast<ctx_map*>(m)->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void release(const ctx_map* m) noexcept;
};

// A Context object (Python: contextvars.Context).
class context_impl {
 public:
  std::atomic<std::uint32_t> refs{1};
  const ctx_map* map = nullptr;  // guarded by the single-entry rule (CV-05)
  std::atomic<bool> entered{false};

  void retain() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;
};

// Context words: a ctx_map* (own context), or context_impl* | kImplTag.
inline constexpr std::uintptr_t kImplTag = 2;

inline const ctx_map* word_map(std::uintptr_t w) noexcept {
  if (w & kImplTag) return reinterpret_cast<context_impl*>(w & ~kImplTag)->map;
  return reinterpret_cast<const ctx_map*>(w);
}
// A word holding a snapshot of the context `w` designates (Python: the copy
// a task or callback takes at creation, CV-06, CV-08).
inline std::uintptr_t snapshot_word(std::uintptr_t w) noexcept {
  const ctx_map* m = word_map(w);
  ctx_map::retain(m);
  return reinterpret_cast<std::uintptr_t>(m);
}
void release_word(std::uintptr_t w) noexcept;


// The current context word: an explicit slot (a callback's, or a Context
// being run), else the running task's own word, else the thread's. Derived
// on demand, so that a task step costs nothing for contexts.
inline std::uintptr_t* current_ctx_slot() noexcept {
  if (tls.ctx_slot) return tls.ctx_slot;
  if (tls.current_task) return reinterpret_cast<future_core*>(tls.current_task)->ctx_slot();
  return &tls.thread_ctx;
}

// False until a context variable is first set or a Context first made: until
// then every context is empty, and creating a task need not look.
extern std::atomic<bool> g_contexts_in_use;

// A snapshot of the current context, for a task or callback being created.
inline std::uintptr_t capture_context() noexcept {
  if (!g_contexts_in_use.load(std::memory_order_relaxed)) return 0;
  return snapshot_word(*current_ctx_slot());
}

// Python's Handle copies the current context when a callback is registered
// for later (add_signal_handler, add_reader): `fn`, made to run in such a
// copy every time, so what it sets stays there from one call to the next.
std::function<void()> bind_to_current_context(std::function<void()> fn);

}  // namespace corio::detail

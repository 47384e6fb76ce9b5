// Python: threading.local.
//
//   mydata = threading.local()          corio::threading::local<data> mydata;
//   mydata.x = 1                        mydata->x = 1;
//
// C++'s `thread_local` covers static storage: a global or a static member,
// one per program. threading.local is an object: made at run time, one per
// instance, for instance a member of each connection pool, each holding a
// connection per thread. local<T> is that object.
#pragma once

#include <corio/detail/config.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::threading {

namespace detail {

struct local_control;

// One value of one local object in one thread.
struct local_record {
  local_control* ctl;            // holds a reference; immutable
  void* value;                   // null once the local destroyed it (ctl->mu)
  local_record* prev = nullptr;  // in ctl's list (ctl->mu)
  local_record* next = nullptr;
  struct local_table* table;     // the thread whose value it is
};

// What a local object shares with the records of its values: they may
// outlive it, in threads that have not looked at their slot since.
struct local_control {
  std::mutex mu;
  local_record* records = nullptr;  // values still alive, one per thread (mu)
  void (*destroy)(void*) noexcept;
  std::uint32_t index;              // the slot in every thread's table
  std::atomic<std::uint32_t> refs{1};
};

// The calling thread's values: slot `index` of a local object holds its
// record (or a stale one, of a destroyed local that had the same index).
struct local_table {
  std::vector<local_record*> slots;
};
extern constinit thread_local local_table* tl_local_table CORIO_TLS_MODEL;

local_control* local_create(void (*destroy)(void*) noexcept);
// Destroys the value of every thread, then lets go of the control block.
void local_destroy(local_control* c) noexcept;
// Records `value` as the calling thread's value of `c`. On an exception the
// caller still owns `value`.
void local_insert(local_control* c, void* value);

// A value being made in the calling thread: a factory that asks its own
// local object for the value would otherwise recurse until the stack ends.
struct local_making {
  const local_control* c;
  local_making* outer;
  // Throws std::logic_error if `c`'s value is being made in this thread already.
  explicit local_making(const local_control* ctl);
  ~local_making();
  local_making(const local_making&) = delete;
  local_making& operator=(const local_making&) = delete;
};

// The calling thread's value of `c`, or null: no lock, no call.
CORIO_ALWAYS_INLINE void* local_find(const local_control* c) noexcept {
  const local_table* t = tl_local_table;
  if (CORIO_UNLIKELY(t == nullptr || c->index >= t->slots.size())) return nullptr;
  const local_record* r = t->slots[c->index];
  return r != nullptr && r->ctl == c ? r->value : nullptr;
}

}  // namespace detail

/// Python: threading.local(): an object whose value is different in each
/// thread. A thread's first get() makes its value: `T()`, or what the
/// factory returns (Python: the __init__ of a threading.local subclass,
/// which runs again in each thread). The value is destroyed when its thread
/// exits or when the local object is destroyed, whichever comes first; in
/// the second case on the thread destroying it, so destroy the object only
/// once no thread uses its value.
///
/// Thread-safe: every thread may call get() at once; the factory may then
/// run in several threads at once. A value's destructor may use other local
/// objects. Not copyable or movable: the object is the key of every
/// thread's value (hold it in a std::unique_ptr to move it). A lookup is a
/// thread-local load and two compares, no lock.
template <class T>
class local {
  static_assert(std::is_object_v<T> && !std::is_const_v<T> && !std::is_array_v<T>,
                "corio::threading::local<T>: T must be a non-const object type (not an array)");

 public:
  /// Each thread's value starts as `T()`.
  local()
    requires std::is_default_constructible_v<T>
      : ctl_(detail::local_create(&destroy_value)) {}
  /// Each thread's value starts as `factory()`, called in that thread on its
  /// first get().
  template <class F>
    requires(std::is_invocable_r_v<T, F&> && !std::is_same_v<std::remove_cvref_t<F>, local>)
  explicit local(F factory) : factory_(std::move(factory)), ctl_(detail::local_create(&destroy_value)) {}
  local(const local&) = delete;
  local& operator=(const local&) = delete;
  /// Destroys the value of every thread that still has one.
  ~local() { detail::local_destroy(ctl_); }

  /// The calling thread's value, made on its first call in this thread.
  T& get() {
    if (void* v = detail::local_find(ctl_)) return *static_cast<T*>(v);
    return make();
  }
  const T& get() const { return const_cast<local*>(this)->get(); }
  T& operator*() { return get(); }
  const T& operator*() const { return get(); }
  T* operator->() { return &get(); }
  const T* operator->() const { return &get(); }

 private:
  static void destroy_value(void* p) noexcept { delete static_cast<T*>(p); }

  CORIO_NOINLINE T& make() {
    const detail::local_making making(ctl_);
    std::unique_ptr<T> v;
    if constexpr (std::is_default_constructible_v<T>) {
      v.reset(factory_ ? new T(factory_()) : new T());
    } else {
      v.reset(new T(factory_()));
    }
    detail::local_insert(ctl_, v.get());
    return *v.release();
  }

  std::function<T()> factory_;
  detail::local_control* ctl_;
};

}  // namespace corio::threading

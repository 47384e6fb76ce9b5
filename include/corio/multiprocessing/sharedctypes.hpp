// Python: multiprocessing.sharedctypes: Value, Array, RawValue, RawArray.
//
// A value or an array of a trivially copyable T in shared memory, seen by
// every process that has a handle to it: a forked child's copy, or, under
// spawn, from_handle(x.corio_handle()) (shared_handle.hpp). Like the locks,
// the C++ object is a handle: copies refer to the same shared T.
//
//   Python                                 corio (corio::multiprocessing)
//   Value('i', 5)                          value<int> v(5)  (its own rlock)
//   Value('i', 5, lock=lk)                 value<int, lock> v(5, lk)
//   Value('i', 5, lock=False), RawValue    raw_value<int> v(5)
//   v.value, v.value = 6                   v.get(), v.set(6)  (each under the lock, MP-31)
//   with v.get_lock(): v.value += 1        auto g = v.get_lock().scoped(); v.set(v.get() + 1);
//   Array('d', 10), Array('i', [1, 2])     array<double> a(10), array<int> a{1, 2}
//   a[i], a[i] = x, len(a), a[:], a[1:3]   a.get(i), a.set(i, x), a.size(), a.to_vector(), a.get_slice(1, 3)
//   RawArray('i', 10)                      raw_array<int> a(10)  (a[i] is an int&)
//
// T must be trivially copyable, and not a pointer: it is copied byte for
// byte between processes, where an address means nothing. Anything else
// is refused at compile time.
#pragma once

#include <corio/multiprocessing/detail/shared_heap.hpp>
#include <corio/multiprocessing/shared_handle.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <ranges>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace corio::multiprocessing {

template <class T, class Lock>
class value;
template <class T, class Lock>
class array;

namespace detail {

// What a shared value or array may hold.
template <class T>
constexpr void check_shared_type() {
  static_assert(std::is_trivially_copyable_v<T> && !std::is_reference_v<T>,
                "corio::multiprocessing::value/array<T>: T must be trivially copyable (it lives in shared memory and "
                "is copied byte for byte between processes); T is named in the instantiation above");
  static_assert(!std::is_pointer_v<T> && !std::is_member_pointer_v<T>,
                "corio::multiprocessing::value/array<T>: T must not be a pointer (an address means nothing in "
                "another process); T is named in the instantiation above");
  static_assert(alignof(T) <= block_align,
                "corio::multiprocessing::value/array<T>: T must not need more than 64-byte alignment");
}

template <class Lock>
constexpr void check_lock_type() {
  static_assert(std::is_same_v<Lock, rlock> || std::is_same_v<Lock, primitive_lock>,
                "corio::multiprocessing::value/array<T, Lock>: Lock must be multiprocessing::lock or "
                "multiprocessing::rlock, a lock the other processes see (Python: an object without acquire is an "
                "AttributeError)");
}

constexpr std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

// A new Lock in the first bytes of `block`.
template <class Lock>
Lock make_lock_at(const shared_place& block) {
  if constexpr (std::is_same_v<Lock, rlock>) {
    return sync_access::make_rlock_at(block);
  } else {
    return sync_access::make_lock_at(block);
  }
}

template <class Lock>
inline constexpr std::size_t lock_bytes = std::is_same_v<Lock, rlock> ? rlock_state_size : lock_state_size;

template <class T>
std::string kind_of(const char* what) {
  return std::string(what) + "<" + std::string(type_tag<T>()) + ">";
}

[[noreturn]] inline void out_of_range(const char* what, std::size_t i, std::size_t n) {
  throw std::out_of_range(std::string(what) + ": index " + std::to_string(i) + " out of range (size " +
                          std::to_string(n) + ")");
}

inline void check_slice(const char* what, std::size_t start, std::size_t stop, std::size_t n) {
  if (start > stop || stop > n)
    throw std::out_of_range(std::string(what) + ": slice [" + std::to_string(start) + ", " + std::to_string(stop) +
                            ") out of range (size " + std::to_string(n) + ")");
}

}  // namespace detail

/// Python: multiprocessing.RawValue(type, value) (and Value(..., lock=False)):
/// a T in shared memory without a lock. get() and set() copy it; *v and
/// v->m reach it in place. Concurrent writers need a lock of their own.
template <class T>
class raw_value {
  static_assert((detail::check_shared_type<T>(), true));

 public:
  /// A new shared T, a copy of `init` (Python: RawValue(t, init); T{} by
  /// default: zero for numbers).
  explicit raw_value(const T& init = T{}) : raw_value(detail::allocate(sizeof(T)), init) {}

  /// Python: v.value.
  T get() const noexcept { return *ptr(); }
  /// Python: v.value = x.
  void set(const T& x) const noexcept { *ptr() = x; }
  T& operator*() const noexcept { return *ptr(); }
  T* operator->() const noexcept { return ptr(); }

  /// The handle another process maps this value with (shared_handle.hpp).
  shared_handle corio_handle() const { return detail::make_handle(detail::kind_of<T>("raw_value"), p_); }
  /// The value a handle names. std::invalid_argument for a handle of
  /// something else (another T included); file_not_found_error if it is gone.
  static raw_value from_handle(const shared_handle& h) {
    return raw_value(detail::attach(h, detail::kind_of<T>("raw_value"), sizeof(T), alignof(T)));
  }
  /// Whether both handles refer to the same shared T.
  friend bool operator==(const raw_value& a, const raw_value& b) noexcept { return a.p_ == b.p_; }

 private:
  template <class U, class L>
  friend class value;
  raw_value(detail::shared_place p, const T& init) : p_(std::move(p)) { ::new (p_.addr) T(init); }
  explicit raw_value(detail::shared_place p) noexcept : p_(std::move(p)) {}
  T* ptr() const noexcept { return std::launder(reinterpret_cast<T*>(p_.addr)); }

  detail::shared_place p_;
};

/// Python: multiprocessing.Value(type, value, lock=True): a T in shared
/// memory with a lock. get() and set() each take the lock (MP-31), so
/// `v.set(v.get() + 1)` is two locked steps and loses updates when processes
/// race; hold get_lock() across a compound update. The lock is an rlock of
/// the value's own (Python's default), in the same cache line as a T of up
/// to 8 bytes, or the lock given, which get_lock() returns (MP-30).
template <class T, class Lock = rlock>
class value {
  static_assert((detail::check_shared_type<T>(), detail::check_lock_type<Lock>(), true));
  static constexpr std::size_t kOffset = detail::round_up(detail::lock_bytes<Lock>, alignof(T));

 public:
  /// Python: Value(t, init): a new Lock of its own (an rlock by default).
  explicit value(const T& init = T{}) : value(detail::allocate(kOffset + sizeof(T)), init) {}
  /// Python: Value(t, init, lock=lk): guarded by `lk`, which get_lock()
  /// returns.
  value(const T& init, Lock lk) : lock_(std::move(lk)), obj_(init) {}

  /// Python: v.value: a copy, read under the lock.
  T get() const {
    auto g = lock_.scoped();
    return obj_.get();
  }
  /// Python: v.value = x, under the lock.
  void set(const T& x) const {
    auto g = lock_.scoped();
    obj_.set(x);
  }
  /// Python: v.get_lock(). A reference to this value's handle of the
  /// lock, so that `auto g = v.get_lock().scoped();` guards a lock that
  /// outlives the statement; copy it to keep the lock apart from the value.
  Lock& get_lock() const noexcept { return lock_; }
  /// Python: v.get_obj(): the T itself, without the lock.
  raw_value<T> get_obj() const { return obj_; }

  shared_handle corio_handle() const {
    shared_handle h = detail::make_handle(detail::kind_of<T>("value"), obj_.p_);
    h.parts.push_back(lock_.corio_handle());
    return h;
  }
  static value from_handle(const shared_handle& h) {
    auto p = detail::attach(h, detail::kind_of<T>("value"), sizeof(T), alignof(T));
    if (h.parts.size() != 1)
      throw std::invalid_argument("cannot attach to a shared " + h.kind + " from handle: it names no lock");
    return value(raw_value<T>(std::move(p)), Lock::from_handle(h.parts.front()));
  }
  friend bool operator==(const value& a, const value& b) noexcept { return a.obj_ == b.obj_; }

 private:
  value(raw_value<T> obj, Lock lk) : lock_(std::move(lk)), obj_(std::move(obj)) {}
  // The lock, then the T, in one block.
  value(const detail::shared_place& block, const T& init)
      : lock_(detail::make_lock_at<Lock>(block)), obj_(block.at(kOffset), init) {}

  // mutable: reading takes the lock, whose state is shared, not this
  // handle's.
  mutable Lock lock_;
  raw_value<T> obj_;
};

/// Python: multiprocessing.RawArray(type, size_or_init) (and Array(...,
/// lock=False)): n T's in shared memory without a lock; a[i] is a T&, and
/// it is a contiguous range (begin/end, data, std::span).
template <class T>
class raw_array {
  static_assert((detail::check_shared_type<T>(), true));

 public:
  /// Python: RawArray(t, n): n elements, value-initialised (zero for
  /// numbers). std::length_error if n * sizeof(T) overflows.
  explicit raw_array(std::size_t n) : raw_array(allocate_for(n), n) { construct(); }
  /// Python: RawArray(t, [a, b, c]).
  raw_array(std::initializer_list<T> init) : raw_array(std::span<const T>(init.begin(), init.size())) {}
  /// Python: RawArray(t, sequence): a copy of `init`.
  template <std::ranges::input_range R>
    requires std::convertible_to<std::ranges::range_reference_t<R>, T>
  explicit raw_array(R&& init) : raw_array(from_range(std::forward<R>(init))) {}

  /// Python: len(a).
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  /// Python: a[i] (unchecked, as std::vector's operator[]).
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  /// a[i], std::out_of_range past the end.
  T& at(std::size_t i) const {
    if (i >= n_) detail::out_of_range("multiprocessing::raw_array.at", i, n_);
    return data()[i];
  }
  T* data() const noexcept { return std::launder(reinterpret_cast<T*>(p_.addr)); }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + n_; }
  operator std::span<T>() const noexcept { return {data(), n_}; }
  /// Python: a[:] (a copy).
  std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

  shared_handle corio_handle() const { return detail::make_handle(detail::kind_of<T>("raw_array"), p_, n_); }
  static raw_array from_handle(const shared_handle& h) { return attach_as(h, "raw_array"); }
  friend bool operator==(const raw_array& a, const raw_array& b) noexcept { return a.p_ == b.p_; }

 private:
  template <class U, class L>
  friend class array;

  raw_array(detail::shared_place p, std::size_t n) noexcept : p_(std::move(p)), n_(n) {}
  static std::size_t bytes_for(std::size_t n) {
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T) - detail::block_align)
      throw std::length_error("multiprocessing::array: " + std::to_string(n) + " elements do not fit in memory");
    return n * sizeof(T);
  }
  static detail::shared_place allocate_for(std::size_t n) { return detail::allocate(bytes_for(n)); }
  void construct() const {
    // Shared memory starts zeroed, which is T{} for numbers; a T with
    // default member initialisers gets them.
    if constexpr (!std::is_trivially_default_constructible_v<T>) std::uninitialized_value_construct_n(data(), n_);
  }
  template <class R>
  static raw_array from_range(R&& init) {
    std::vector<T> items;
    for (auto&& x : init) items.push_back(static_cast<T>(x));
    raw_array a(allocate_for(items.size()), items.size());
    std::uninitialized_copy(items.begin(), items.end(), a.data());
    return a;
  }
  static raw_array attach_as(const shared_handle& h, const char* what) {
    const std::size_t n = static_cast<std::size_t>(h.length);
    if (h.length > std::numeric_limits<std::size_t>::max() / sizeof(T))
      throw std::invalid_argument("cannot attach to a shared " + h.kind + " from handle: length out of range");
    return raw_array(detail::attach(h, detail::kind_of<T>(what), n * sizeof(T), alignof(T)), n);
  }

  detail::shared_place p_;
  std::size_t n_ = 0;
};

/// Python: multiprocessing.Array(type, size_or_init, lock=True): n T's in
/// shared memory with a lock. Each get(i) and set(i, x) takes the lock, and
/// each slice read or write takes it once (MP-31); hold get_lock() across a
/// compound update. Indexes are checked: std::out_of_range.
template <class T, class Lock = rlock>
class array {
  static_assert((detail::check_shared_type<T>(), detail::check_lock_type<Lock>(), true));
  static constexpr std::size_t kOffset = detail::round_up(detail::lock_bytes<Lock>, alignof(T));

 public:
  /// Python: Array(t, n): n elements, value-initialised (zero for numbers),
  /// with a new Lock of its own (an rlock by default).
  explicit array(std::size_t n) : array(own_block(n), n) { obj_.construct(); }
  /// Python: Array(t, [a, b, c]).
  array(std::initializer_list<T> init) : array(items_tag{}, std::vector<T>(init)) {}
  /// Python: Array(t, sequence).
  template <std::ranges::input_range R>
    requires std::convertible_to<std::ranges::range_reference_t<R>, T>
  explicit array(R&& init) : array(items_tag{}, collect(std::forward<R>(init))) {}
  /// Python: Array(t, n, lock=lk).
  array(std::size_t n, Lock lk) : lock_(std::move(lk)), obj_(n) {}
  /// Python: Array(t, [a, b, c], lock=lk).
  array(std::initializer_list<T> init, Lock lk) : lock_(std::move(lk)), obj_(init) {}

  /// Python: len(a).
  std::size_t size() const noexcept { return obj_.size(); }
  /// Python: a[i], under the lock.
  T get(std::size_t i) const {
    if (i >= size()) detail::out_of_range("multiprocessing::array.get", i, size());
    auto g = lock_.scoped();
    return obj_[i];
  }
  /// Python: a[i] = x, under the lock.
  void set(std::size_t i, const T& x) const {
    if (i >= size()) detail::out_of_range("multiprocessing::array.set", i, size());
    auto g = lock_.scoped();
    obj_[i] = x;
  }
  /// Python: a[start:stop] (a copy, under the lock once).
  std::vector<T> get_slice(std::size_t start, std::size_t stop) const {
    detail::check_slice("multiprocessing::array.get_slice", start, stop, size());
    auto g = lock_.scoped();
    return std::vector<T>(obj_.begin() + start, obj_.begin() + stop);
  }
  /// Python: a[start:stop] = values: std::invalid_argument unless
  /// values.size() == stop - start ("Can only assign sequence of same size").
  void set_slice(std::size_t start, std::size_t stop, std::span<const T> values) const {
    detail::check_slice("multiprocessing::array.set_slice", start, stop, size());
    if (values.size() != stop - start)
      throw std::invalid_argument("multiprocessing::array.set_slice: can only assign a sequence of the same size");
    auto g = lock_.scoped();
    std::copy(values.begin(), values.end(), obj_.begin() + start);
  }
  /// Python: a[:].
  std::vector<T> to_vector() const { return get_slice(0, size()); }
  /// Python: a.get_lock() (a reference, as value::get_lock()).
  Lock& get_lock() const noexcept { return lock_; }
  /// Python: a.get_obj(): the elements themselves, without the lock.
  raw_array<T> get_obj() const { return obj_; }

  shared_handle corio_handle() const {
    shared_handle h = detail::make_handle(detail::kind_of<T>("array"), obj_.p_, obj_.size());
    h.parts.push_back(lock_.corio_handle());
    return h;
  }
  static array from_handle(const shared_handle& h) {
    raw_array<T> obj = raw_array<T>::attach_as(h, "array");
    if (h.parts.size() != 1)
      throw std::invalid_argument("cannot attach to a shared " + h.kind + " from handle: it names no lock");
    return array(std::move(obj), Lock::from_handle(h.parts.front()));
  }
  friend bool operator==(const array& a, const array& b) noexcept { return a.obj_ == b.obj_; }

 private:
  array(raw_array<T> obj, Lock lk) : lock_(std::move(lk)), obj_(std::move(obj)) {}
  // A new lock of the array's own, then the n elements, in one block.
  static detail::shared_place own_block(std::size_t n) {
    return detail::allocate(kOffset + raw_array<T>::bytes_for(n));
  }
  array(const detail::shared_place& block, std::size_t n)
      : lock_(detail::make_lock_at<Lock>(block)), obj_(block.at(kOffset), n) {}
  struct items_tag {};
  array(items_tag, std::vector<T> items) : array(own_block(items.size()), items.size()) {
    std::uninitialized_copy(items.begin(), items.end(), obj_.data());
  }
  template <class R>
  static std::vector<T> collect(R&& init) {
    std::vector<T> items;
    for (auto&& x : init) items.push_back(static_cast<T>(x));
    return items;
  }

  mutable Lock lock_;
  raw_array<T> obj_;
};

}  // namespace corio::multiprocessing

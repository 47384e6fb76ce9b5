// What crosses to another process in place of a shared object (a value, an
// array, a lock, a shared_memory segment): a small handle saying where the
// object lives. Python pickles these objects only while it starts a child
// ("should only be shared between processes through inheritance"); in corio
// each such type has a `corio_handle()` member that makes the handle and a
// `from_handle()` factory that maps the same object in the receiving
// process, and the codec carries the handle like any other struct.
//
// With the fork start method nothing needs to cross: the child's copy of the
// object refers to the same shared memory. With spawn and forkserver, the
// child decodes the handle and calls from_handle(). The creating process must
// keep the object until then (Python: until the child has started), since
// corio's own objects live in memory that has no name in /dev/shm and is
// reached through the creator's /proc/<pid>/fd entry (docs/design.md,
// "Shared memory and process-shared locks").
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace corio::multiprocessing {

/// Where a shared object lives, as another process on the same machine finds
/// it. Plain data: the codec writes it as an array of its members (the
/// `corio_fields()` members are what CORIO_CODEC would give it).
struct shared_handle {
  /// What the object is: "lock", "rlock", "semaphore", "bounded_semaphore",
  /// "event", "condition", "barrier", "value<int>", "array<double>",
  /// "raw_value<int>", "raw_array<char>", "shared_memory". from_handle()
  /// refuses a handle of another kind.
  std::string kind;
  /// The segment holding it: for corio's own objects a path that opens it
  /// (`/proc/<pid>/fd/<n>` of the process that made the handle); for a
  /// shared_memory, its name.
  std::string segment;
  /// Where the object's state starts in the segment.
  std::uint64_t offset = 0;
  /// Elements of an array, bytes of a shared_memory; 0 otherwise.
  std::uint64_t length = 0;
  /// The segment's device and inode when the handle was made: a path that
  /// has come to open another file is refused, never mistaken for it.
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  /// The shared objects this one uses: the lock of a value, an array or a
  /// condition.
  std::vector<shared_handle> parts;

  auto corio_fields() { return std::tie(kind, segment, offset, length, device, inode, parts); }
  auto corio_fields() const { return std::tie(kind, segment, offset, length, device, inode, parts); }
  friend bool operator==(const shared_handle&, const shared_handle&) = default;
};

/// A type whose objects cross to another process by handle:
/// `h = x.corio_handle()` in one process, `T::from_handle(h)` in the other.
template <class T>
concept shareable = requires(const T& x, const shared_handle& h) {
  { x.corio_handle() } -> std::same_as<shared_handle>;
  { T::from_handle(h) } -> std::same_as<T>;
};

}  // namespace corio::multiprocessing

// Python: multiprocessing.shared_memory.SharedMemory: a named POSIX shared
// memory segment (shm_open, in /dev/shm), which any process, Python's too,
// can attach to by name.
//
// Ownership (MP-33..MP-35): close() unmaps this handle and keeps the
// segment; unlink() removes the name. A segment created with track=true
// (the default) and never unlinked is removed by corio's resource tracker
// once every process of the creator's process tree has ended (killed
// ones too) and no process still has it open, with a warning on stderr, as
// Python's tracker does. Unlike Python 3.11's, the tracker knows only the
// segments this tree created: a process that merely attached never removes
// a segment others use (docs/python-mapping.md, departures).
#pragma once

#include <corio/multiprocessing/shared_handle.hpp>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

namespace corio::multiprocessing {

/// Python: SharedMemory(name=None, create=False, size=0, *, track=True). A
/// mapping of a named segment, shared with every process that attaches to
/// the same name. Move-only; the destructor closes it (but never unlinks).
class shared_memory {
 public:
  /// Python: SharedMemory(name, create, size, track=track).
  ///
  /// create=true makes a new segment of `size` bytes (zeroed), named `name`
  /// or, without one, a fresh unique name; file_exists_error if the name is
  /// taken. create=false attaches to the segment `name`, ignoring `size`
  /// (size() is the segment's); file_not_found_error if there is none.
  /// std::invalid_argument for a negative size, a size of 0 when creating,
  /// no name when attaching, or a name that is empty, has a '/' past the
  /// first character or is too long. A leading '/' is dropped: name()
  /// never has one.
  ///
  /// track (Python 3.13): a segment this process creates is given to the
  /// resource tracker, which removes it if it is still there once its
  /// process tree has ended and nobody holds it open; false leaves it to
  /// the program.
  explicit shared_memory(std::optional<std::string> name = std::nullopt, bool create = false, std::int64_t size = 0,
                         bool track = true);
  shared_memory(shared_memory&& o) noexcept;
  shared_memory& operator=(shared_memory&& o) noexcept;
  shared_memory(const shared_memory&) = delete;
  shared_memory& operator=(const shared_memory&) = delete;
  /// Closes (Python: __del__ closes; nothing is unlinked).
  ~shared_memory();

  /// Python: shm.buf: the segment's bytes. std::runtime_error after close().
  std::span<std::byte> buf() const;
  /// Python: shm.name, without a leading '/'.
  const std::string& name() const noexcept { return name_; }
  /// Python: shm.size: the segment's size in bytes (when attaching, what the
  /// segment has, whatever was asked).
  std::size_t size() const noexcept { return size_; }

  /// Python: shm.close(). Unmaps this handle's view; the segment stays.
  /// Harmless if already closed.
  void close() noexcept;
  /// Python: shm.unlink(). Removes the name: nobody can attach any more,
  /// and mappings made before stay valid until closed (MP-34).
  /// file_not_found_error if the name is gone already.
  void unlink();

  /// The handle another process attaches with: the name and the size
  /// (Python pickles a SharedMemory as its name).
  shared_handle corio_handle() const;
  /// Attaches to the segment a handle names (Python: unpickling);
  /// file_not_found_error once it has been unlinked.
  static shared_memory from_handle(const shared_handle& h);

  /// Python: repr(shm): `shared_memory('psm_2f0b...', size=512)`.
  friend std::ostream& operator<<(std::ostream& os, const shared_memory& m);

 private:
  std::string name_;
  std::size_t size_ = 0;
  std::byte* base_ = nullptr;  // null once closed
  int fd_ = -1;
  bool tracked_ = false;  // created here and given to the tracker
};

}  // namespace corio::multiprocessing

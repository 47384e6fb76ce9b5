// Python's SharedMemory on shm_open and mmap (see shared_memory.hpp).
#include <corio/multiprocessing/shared_memory.hpp>

#include <corio/detail/repr.hpp>
#include <corio/multiprocessing/detail/resource_tracker.hpp>
#include <corio/os_errors.hpp>

#include "random_bytes.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <utility>

namespace corio::multiprocessing {

namespace {

constexpr std::size_t kNameMax = 255;

// The name as shm_open takes it ("/name"), checked; `name` loses a leading '/'.
std::string posix_name(std::string& name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  if (name.empty()) throw std::invalid_argument("shared_memory: the name must not be empty");
  if (name.size() > kNameMax)
    throw std::invalid_argument("shared_memory: the name is longer than 255 bytes");
  for (const char c : name) {
    if (c == '/' || c == '\0')
      throw std::invalid_argument("shared_memory: the name '" + name + "' holds a '/' or a NUL past its start");
  }
  if (name == "." || name == "..") throw std::invalid_argument("shared_memory: '" + name + "' is not a name");
  return "/" + name;
}

// A fresh name, as Python's _make_filename: "psm_" and random hex digits.
std::string fresh_name() {
  unsigned char bytes[8];
  if (!detail::fill_random(bytes, sizeof bytes)) throw_errno("getrandom for a shared_memory name");
  return "psm_" + detail::to_hex(bytes, sizeof bytes);
}

}  // namespace

shared_memory::shared_memory(std::optional<std::string> name, bool create, std::int64_t size, bool track) {
  if (size < 0) throw std::invalid_argument("shared_memory: 'size' must be a positive integer");
  if (create && size == 0)
    throw std::invalid_argument("shared_memory: 'size' must be a positive number different from zero");
  if (!name && !create) throw std::invalid_argument("shared_memory: 'name' can only be none if create is true");

  if (create) {
    // A generated name that exists already is drawn again (Python does the
    // same); a name given is the caller's to choose.
    for (int attempt = 0;; ++attempt) {
      name_ = name ? *name : fresh_name();
      const std::string pname = posix_name(name_);
      fd_ = ::shm_open(pname.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
      if (fd_ >= 0) break;
      if (errno == EEXIST && !name && attempt < 100) continue;
      throw_os_error(errno, "shared_memory: cannot create '" + name_ + "'");
    }
    size_ = static_cast<std::size_t>(size);
    if (::ftruncate(fd_, static_cast<off_t>(size_)) < 0) {
      const int err = errno;
      ::shm_unlink(("/" + name_).c_str());
      ::close(fd_);
      throw_os_error(err, "shared_memory: cannot size '" + name_ + "' to " + std::to_string(size_) + " bytes");
    }
  } else {
    name_ = *name;
    const std::string pname = posix_name(name_);
    fd_ = ::shm_open(pname.c_str(), O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_os_error(errno, "shared_memory: cannot attach to '" + name_ + "'");
    struct stat st {};
    if (::fstat(fd_, &st) < 0) {
      const int err = errno;
      ::close(fd_);
      throw_os_error(err, "shared_memory: fstat of '" + name_ + "'");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) {
      ::close(fd_);
      throw std::invalid_argument("shared_memory: '" + name_ + "' is empty (size 0): nothing to map");
    }
  }

  void* p = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    if (create) ::shm_unlink(("/" + name_).c_str());
    ::close(fd_);
    throw_os_error(err, "shared_memory: cannot map '" + name_ + "' (" + std::to_string(size_) + " bytes)");
  }
  base_ = static_cast<std::byte*>(p);
  // Every handle holds a shared lock on the segment for as long as it is
  // open: the resource tracker removes a leaked segment only once it can
  // take an exclusive one, when nobody uses it any more.
  while (::flock(fd_, LOCK_SH) < 0 && errno == EINTR) {
  }
  if (create && track) {
    struct stat st {};
    ::fstat(fd_, &st);
    detail::tracker_register(name_, static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino));
    tracked_ = true;
  }
}

shared_memory::shared_memory(shared_memory&& o) noexcept
    : name_(std::move(o.name_)),
      size_(std::exchange(o.size_, 0)),
      base_(std::exchange(o.base_, nullptr)),
      fd_(std::exchange(o.fd_, -1)),
      tracked_(std::exchange(o.tracked_, false)) {}

shared_memory& shared_memory::operator=(shared_memory&& o) noexcept {
  if (this != &o) {
    close();
    name_ = std::move(o.name_);
    size_ = std::exchange(o.size_, 0);
    base_ = std::exchange(o.base_, nullptr);
    fd_ = std::exchange(o.fd_, -1);
    tracked_ = std::exchange(o.tracked_, false);
  }
  return *this;
}

shared_memory::~shared_memory() { close(); }

std::span<std::byte> shared_memory::buf() const {
  if (!base_) throw std::runtime_error("shared_memory '" + name_ + "' is closed");
  return {base_, size_};
}

void shared_memory::close() noexcept {
  if (base_) ::munmap(base_, size_);
  base_ = nullptr;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void shared_memory::unlink() {
  if (name_.empty()) throw std::runtime_error("shared_memory: unlink of a moved-from object");
  if (::shm_unlink(("/" + name_).c_str()) < 0) throw_os_error(errno, "shared_memory: cannot unlink '" + name_ + "'");
  if (tracked_) {
    detail::tracker_unregister(name_);
    tracked_ = false;
  }
}

shared_handle shared_memory::corio_handle() const {
  shared_handle h;
  h.kind = "shared_memory";
  h.segment = name_;
  h.length = size_;
  return h;
}

shared_memory shared_memory::from_handle(const shared_handle& h) {
  if (h.kind != "shared_memory")
    throw std::invalid_argument("cannot attach to a shared_memory from handle: it is a handle of a " + h.kind);
  return shared_memory(h.segment);
}

std::ostream& operator<<(std::ostream& os, const shared_memory& m) {
  // Python: SharedMemory('psm_2f0b9a1c', size=512).
  os << "shared_memory(";
  corio::detail::write_quoted(os, m.name_);
  return os << ", size=" << m.size_ << ')';
}

}  // namespace corio::multiprocessing

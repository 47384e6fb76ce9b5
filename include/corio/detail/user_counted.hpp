// Two counts for the state behind a copyable handle (a stream_writer, a
// server, a datagram_endpoint): references keep the object alive, users are
// the handles. Operations in flight hold references only, so the last handle
// closes the object (Python closes what is garbage-collected) while the
// memory lives until the kernel has finished with it.
#pragma once

#include <cstdint>
#include <utility>

namespace corio::detail {

// Derived provides `void on_last_user() noexcept` and befriends this base if
// its destructor is private (only release() may delete it). Loop thread only.
template <class Derived>
class user_counted {
 public:
  void retain() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete static_cast<Derived*>(this);
  }
  void add_user() noexcept {
    ++users_;
    retain();
  }
  void drop_user() noexcept {
    if (--users_ == 0) static_cast<Derived*>(this)->on_last_user();
    release();
  }

 protected:
  user_counted() = default;
  ~user_counted() = default;

 private:
  std::uint32_t refs_ = 1;  // the creator's
  std::uint32_t users_ = 0;
};

// A user of a user_counted core: copies are users too.
template <class Core>
class user_ref {
 public:
  user_ref() noexcept = default;
  explicit user_ref(Core* c) noexcept : c_(c) {
    if (c_) c_->add_user();
  }
  user_ref(const user_ref& o) noexcept : user_ref(o.c_) {}
  user_ref(user_ref&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  user_ref& operator=(user_ref o) noexcept {
    std::swap(c_, o.c_);
    return *this;
  }
  ~user_ref() {
    if (c_) c_->drop_user();
  }

  Core* get() const noexcept { return c_; }
  Core* operator->() const noexcept { return c_; }
  Core& operator*() const noexcept { return *c_; }
  explicit operator bool() const noexcept { return c_ != nullptr; }

 private:
  Core* c_ = nullptr;
};

// A reference that keeps a user_counted core alive without being one of its
// users: held by an awaitable a handle returned (drain(), recvfrom()), so
// that scheduling it after the handles are gone is safe, while the last
// handle still closes the object.
template <class Core>
class core_hold {
 public:
  explicit core_hold(Core* c) noexcept : c_(c) { c_->retain(); }
  core_hold(const core_hold& o) noexcept : core_hold(o.c_) {}
  core_hold(core_hold&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  core_hold& operator=(const core_hold&) = delete;
  ~core_hold() {
    if (c_) c_->release();
  }
  Core* get() const noexcept { return c_; }

 private:
  Core* c_;
};

}  // namespace corio::detail

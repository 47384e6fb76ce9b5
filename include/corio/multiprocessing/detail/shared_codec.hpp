// The codec of the objects that cross a process by handle (shared_handle.hpp):
// values, arrays, locks, semaphores, events, conditions, barriers and
// shared_memory segments, as arguments of a process (every start method)
// and in messages.
//
// As a process argument (a spawn or forkserver start), each segment that is
// one of this process's fds (corio's own arenas, `/proc/<pid>/fd/<n>`) goes
// to the child as an inherited fd, like a connection's: the object stays
// reachable however soon the parent drops it after start(), and the child
// attaches through its own copy of the fd (closed again once its arguments
// are decoded). A shared_memory segment crosses by name. In a message the
// handle crosses as it is, and the sender must keep the object until the
// receiver has attached (shared_handle.hpp). With fork nothing crosses: the
// child's copy of the object maps the same memory.
#pragma once

#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/shared_handle.hpp>

namespace corio::multiprocessing {

namespace detail {
// The handle as a start payload carries it: segments that are our fds
// become "fd:<index>" (share_fd). Unchanged outside a start.
shared_handle handle_for_child(shared_handle h);
// In the receiving process: "fd:<index>" becomes the path of the fd it got.
shared_handle handle_from_parent(shared_handle h);
}  // namespace detail

/// A shared object (shareable: corio_handle() and from_handle()): its
/// handle, attached again by from_handle() on the other side.
template <class T>
  requires(shareable<T> && !detail::has_fields<T>)
struct codec<T> {
  static void encode(packer& p, const T& v) {
    codec<shared_handle>::encode(p, detail::handle_for_child(v.corio_handle()));
  }
  static T decode(const object& o) { return T::from_handle(detail::handle_from_parent(codec<shared_handle>::decode(o))); }
};

}  // namespace corio::multiprocessing

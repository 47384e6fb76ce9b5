// Python: multiprocessing.Queue, JoinableQueue and SimpleQueue.
//
// A queue<T> carries values of one type T that the codec carries
// (codec.hpp; a std::variant for several kinds of items) between processes.
// Items live in a ring in shared memory (detail/queue_ring.hpp); the C++
// object is a handle to it, like the shared locks: a forked child's copy is
// the same queue, and a spawned child gets it with
// `queue<T>::from_handle(q.corio_handle())` (shared_handle.hpp).
//
// Differences from Python (docs/python-mapping.md, departures):
// - No feeder thread: put() encodes the item and writes it into the ring in
//   the calling thread, so an item that cannot be encoded raises there
//   (codec_error), and once put() returns the item is visible to every
//   process (MP-17: Python's may not be yet). join_thread() and
//   cancel_join_thread() have nothing to wait for or cancel.
// - The ring has a fixed size (1 MiB unless asked otherwise): a queue with
//   no maxsize still makes put() wait while the ring is full, and
//   put_nowait() raise queue_full then.
// - A consumer killed in get() does not wedge the queue: the next get()
//   takes over its lock (robust mutexes); the item it was reading is either
//   still in the queue or went with it. A producer killed half way through
//   an item larger than a quarter of the ring leaves the partial item
//   dropped. Python deadlocks in both cases.
//
// Blocking calls block the calling thread. Inside a running loop use
// get_async() and put_async(): they wait through the loop, and a timeout or
// cancellation around them takes or puts nothing. A queue object must
// outlive the awaitables it made.
#pragma once

#include <corio/exceptions.hpp>
#include <corio/multiprocessing/codec.hpp>
#include <corio/multiprocessing/detail/queue_ring.hpp>
#include <corio/multiprocessing/detail/shared_heap.hpp>
#include <corio/multiprocessing/shared_handle.hpp>
#include <corio/os_errors.hpp>
#include <corio/tasks.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threads.hpp>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace corio::multiprocessing {

namespace detail {

// The buffer items are encoded into and read out of, one per thread (a put
// or get never re-enters another).
inline std::string& queue_buffer() {
  thread_local std::string buf;
  return buf;
}

// Lets the buffer go after a large item, so that a thread keeps no
// megabytes for ever.
inline void trim_queue_buffer(std::string& buf) noexcept {
  if (buf.capacity() > (std::size_t{1} << 16)) std::string().swap(buf);
}

template <class T>
std::string queue_kind(const char* what) {
  return std::string(what) + "<" + std::string(type_tag<T>()) + ">";
}

[[noreturn]] void throw_queue_closed(const char* what);

// decode<T>(data) for the common items of a queue, numbers and strings,
// without building a msgpack object (its allocation was a third of a
// get()): those MessagePack forms are read here, and anything else (or a
// number out of T's range) goes to the codec, which decodes it or says why
// not.
template <class T>
T queue_decode(std::string_view data) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!data.empty()) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data());
      const unsigned char tag = p[0];
      auto be = [&](std::size_t n) {
        std::uint64_t v = 0;
        for (std::size_t i = 1; i <= n; ++i) v = (v << 8) | p[i];
        return v;
      };
      bool is_signed = false, ok = true;
      std::uint64_t u = 0;
      std::int64_t i = 0;
      std::size_t len = 1;
      if (tag <= 0x7f) {
        u = tag;
      } else if (tag >= 0xe0) {
        is_signed = true;
        i = static_cast<std::int8_t>(tag);
      } else if (tag >= 0xcc && tag <= 0xcf) {
        len = 1 + (std::size_t{1} << (tag - 0xcc));
        ok = data.size() == len;
        if (ok) u = be(len - 1);
      } else if (tag >= 0xd0 && tag <= 0xd3) {
        len = 1 + (std::size_t{1} << (tag - 0xd0));
        ok = data.size() == len;
        is_signed = true;
        if (ok) {
          const std::uint64_t raw = be(len - 1);
          const unsigned bits = static_cast<unsigned>(8 * (len - 1));
          i = bits == 64 ? static_cast<std::int64_t>(raw)
                         : static_cast<std::int64_t>(raw << (64 - bits)) >> (64 - bits);
        }
      } else {
        ok = false;
      }
      if (ok && data.size() == len) {
        if (is_signed && i < 0) {
          if (std::in_range<T>(i)) return static_cast<T>(i);
        } else {
          const std::uint64_t v = is_signed ? static_cast<std::uint64_t>(i) : u;
          if (std::in_range<T>(v)) return static_cast<T>(v);
        }
      }
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    // str or bin (the codec takes both for a std::string).
    if (!data.empty()) {
      const auto* p = reinterpret_cast<const unsigned char*>(data.data());
      const unsigned char tag = p[0];
      std::size_t hdr = 0, len = 0;
      if (tag >= 0xa0 && tag <= 0xbf) {
        hdr = 1;
        len = tag & 0x1f;
      } else if ((tag >= 0xd9 && tag <= 0xdb) || (tag >= 0xc4 && tag <= 0xc6)) {
        const std::size_t n = std::size_t{1} << (tag >= 0xd9 ? tag - 0xd9 : tag - 0xc4);
        if (data.size() > n) {
          hdr = 1 + n;
          for (std::size_t k = 1; k <= n; ++k) len = (len << 8) | p[k];
        }
      }
      if (hdr != 0 && data.size() - hdr == len) return std::string(data.substr(hdr));
    }
  } else if constexpr (std::is_same_v<T, double>) {
    if (data.size() == 9 && static_cast<unsigned char>(data[0]) == 0xcb) {
      std::uint64_t bits = 0;
      for (std::size_t k = 1; k < 9; ++k) bits = (bits << 8) | static_cast<unsigned char>(data[k]);
      return std::bit_cast<double>(bits);
    }
  }
  return decode<T>(data);
}

}  // namespace detail

/// Bytes of ring a queue has unless its constructor is told otherwise.
inline constexpr std::size_t default_ring_bytes = std::size_t{1} << 20;

/// Python: multiprocessing.Queue, of items of type T. Copies of the object
/// refer to the same queue; close() closes this copy only.
template <class T>
class queue {
  static_assert(can_cross<T>,
                "corio::multiprocessing::queue<T>: T must be a type the codec carries (codec.hpp); T is named in the "
                "instantiation above");

 public:
  using clock = threading::detail::clock;

  /// Python: Queue(maxsize=0). maxsize <= 0: no limit on the number of
  /// items (MP-16), though put() still waits while the ring of `ring_bytes`
  /// (rounded up to a power of two, at least 4 KiB) is full.
  explicit queue(std::int64_t maxsize = 0, std::size_t ring_bytes = default_ring_bytes)
      : ring_(maxsize, ring_bytes) {}

  /// Python: Queue.put(obj, block=True). Waits for room with block; without,
  /// throws queue_full at once. codec_error if the item cannot be encoded.
  void put(const T& item, bool block = true) { put_until(item, block, clock::time_point::max(), "put"); }
  /// Python: Queue.put(obj, timeout=t): queue_full once `timeout` has
  /// passed. A negative timeout is std::invalid_argument (MP-16: Python's
  /// just expires).
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_until(item, true, threading::detail::deadline_after(timeout, "multiprocessing::queue.put"), "put");
  }
  // A bare number is neither a flag nor a timeout: say std::chrono::milliseconds(n).
  template <threading::detail::plain_number N>
  void put(const T&, N) = delete;
  /// Python: Queue.put_nowait(obj).
  void put_nowait(const T& item) { put_until(item, false, clock::time_point::max(), "put_nowait"); }

  /// Python: Queue.get(block=True). Waits for an item with block; without,
  /// throws queue_empty at once.
  T get(bool block = true) { return get_until(block, clock::time_point::max(), "get"); }
  /// Python: Queue.get(timeout=t): queue_empty once `timeout` has passed.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    return get_until(true, threading::detail::deadline_after(timeout, "multiprocessing::queue.get"), "get");
  }
  template <threading::detail::plain_number N>
  T get(N) = delete;
  /// Python: Queue.get_nowait().
  T get_nowait() { return get_until(false, clock::time_point::max(), "get_nowait"); }

  /// get() inside a running loop, without blocking it. Cancelled (or timed
  /// out by corio::timeout), it has taken nothing. An item larger than a
  /// quarter of the ring is read to its end once started, with the loop's
  /// thread waiting for its producer's chunks.
  task<T> get_async() {
    check_open("get_async");
    for (;;) {
      const detail::queue_ring::watch w(ring_, detail::queue_event::data);
      std::string& buf = detail::queue_buffer();
      if (ring_.try_get(buf)) {
        T v = detail::queue_decode<T>(buf);
        detail::trim_queue_buffer(buf);
        co_return v;
      }
      co_await ring_.wait_async(w);
    }
  }
  /// put() inside a running loop, without blocking it. Cancelled (or timed
  /// out), it has put nothing, except for an item too large to be in the
  /// ring whole: that one is put by a worker thread (corio::to_thread),
  /// which finishes the put even when the caller stops waiting.
  task<void> put_async(T item) {
    check_open("put_async");
    std::string data = encode(item);
    if (!ring_.fits_whole(data.size())) {
      // Named, not a temporary in the co_await expression (GCC 12 destroys
      // such a temporary's captures twice).
      auto job = corio::to_thread(&queue::put_streaming, ring_, std::move(data), joinable_);
      co_await std::move(job);
      co_return;
    }
    for (;;) {
      const detail::queue_ring::watch w(ring_, detail::queue_event::room);
      if (joinable_) ring_.add_task();
      bool put = false;
      try {
        put = ring_.try_put(data);
      } catch (...) {
        if (joinable_) ring_.undo_task();
        throw;
      }
      if (put) co_return;
      if (joinable_) ring_.undo_task();
      co_await ring_.wait_async(w);
    }
  }

  /// Python: Queue.qsize(): items put and not yet taken (MP-20).
  std::size_t qsize() const noexcept { return ring_.qsize(); }
  /// Python: Queue.empty(). os_error (EBADF) after close(), as Python 3.13.
  bool empty() const {
    if (closed_) detail::throw_queue_closed("empty");
    return ring_.qsize() == 0;
  }
  /// Python: Queue.full(): maxsize items are in the queue.
  bool full() const noexcept { return ring_.full(); }
  /// Python: Queue._maxsize (0: no limit).
  std::int64_t maxsize() const noexcept { return ring_.maxsize(); }

  /// Python: Queue.close(): later put and get through this object throw
  /// std::invalid_argument (ValueError). Other copies, other processes and
  /// the items already put are not affected. Twice is fine.
  void close() noexcept { closed_ = true; }
  bool closed() const noexcept { return closed_; }
  /// Python: Queue.join_thread(): waits for the feeder to flush. There is
  /// no feeder (every put() has written its item when it returns): returns
  /// at once. std::logic_error before close(), as Python asserts.
  void join_thread() const {
    if (!closed_) throw std::logic_error("multiprocessing::queue.join_thread: the queue is not closed");
  }
  /// Python: Queue.cancel_join_thread(): nothing to cancel (no feeder, no
  /// buffered items to lose).
  void cancel_join_thread() noexcept {}

  /// The handle another process maps this queue with (shared_handle.hpp).
  shared_handle corio_handle() const { return ring_.make_handle(kind()); }
  /// The queue a handle names, in this process. std::invalid_argument for
  /// a handle of something else (another item type included);
  /// file_not_found_error if it is gone.
  static queue from_handle(const shared_handle& h) {
    return queue(detail::queue_ring(h, detail::queue_kind<T>("queue")), false);
  }
  /// Whether both refer to the same queue.
  friend bool operator==(const queue& a, const queue& b) noexcept { return a.ring_ == b.ring_; }

 protected:
  queue(detail::queue_ring r, bool joinable) noexcept : ring_(std::move(r)), joinable_(joinable) {}
  std::string kind() const { return detail::queue_kind<T>(joinable_ ? "joinable_queue" : "queue"); }

  void check_open(const char* what) const {
    if (closed_) detail::throw_queue_closed(what);
  }

  void put_until(const T& item, bool block, clock::time_point deadline, const char* what) {
    check_open(what);
    std::string& buf = detail::queue_buffer();
    buf.clear();
    encode_into(buf, item);
    if (joinable_) ring_.add_task();
    bool ok = false;
    try {
      ok = ring_.put(buf, block, deadline);
    } catch (...) {
      if (joinable_) ring_.undo_task();
      detail::trim_queue_buffer(buf);
      throw;
    }
    detail::trim_queue_buffer(buf);
    if (!ok) {
      if (joinable_) ring_.undo_task();
      throw queue_full();
    }
  }

  // put_async's worker for an item larger than the ring.
  static void put_streaming(detail::queue_ring r, std::string data, bool joinable) {
    if (joinable) r.add_task();
    if (!r.put(data, true, clock::time_point::max()) && joinable) r.undo_task();
  }

  T get_until(bool block, clock::time_point deadline, const char* what) {
    check_open(what);
    std::string& buf = detail::queue_buffer();
    if (!ring_.get(buf, block, deadline)) throw queue_empty();
    struct trim {
      std::string& b;
      ~trim() { detail::trim_queue_buffer(b); }
    } t{buf};
    return detail::queue_decode<T>(buf);
  }

  detail::queue_ring ring_;
  bool joinable_ = false;
  bool closed_ = false;
};

/// Python: multiprocessing.JoinableQueue: a queue whose items are counted
/// until a task_done() says each is finished (MP-21).
template <class T>
class joinable_queue : public queue<T> {
 public:
  using typename queue<T>::clock;

  /// Python: JoinableQueue(maxsize=0).
  explicit joinable_queue(std::int64_t maxsize = 0, std::size_t ring_bytes = default_ring_bytes)
      : queue<T>(detail::queue_ring(maxsize, ring_bytes), true) {}

  /// Python: JoinableQueue.task_done(), from any process.
  /// std::invalid_argument("task_done() called too many times") when no
  /// item is unfinished (ValueError).
  void task_done() { this->ring_.task_done(); }
  /// Python: JoinableQueue.join(): waits until every item put has had its
  /// task_done().
  void join() { this->ring_.join(clock::time_point::max()); }
  /// join() waiting at most `timeout`; false if it ran out (Python's has no
  /// timeout).
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return this->ring_.join(threading::detail::deadline_after(timeout, "multiprocessing::joinable_queue.join"));
  }
  /// Items put and not yet marked done (Python: _unfinished_tasks).
  std::size_t unfinished_tasks() const noexcept { return this->ring_.unfinished_tasks(); }

  static joinable_queue from_handle(const shared_handle& h) {
    return joinable_queue(detail::queue_ring(h, detail::queue_kind<T>("joinable_queue")));
  }

 private:
  explicit joinable_queue(detail::queue_ring r) noexcept : queue<T>(std::move(r), true) {}
};

/// Python: multiprocessing.SimpleQueue: put, get, empty and close only
/// (MP-22). put() encodes in the caller and waits while the ring is full;
/// get() waits, with no timeout.
template <class T>
class simple_queue {
  static_assert(can_cross<T>,
                "corio::multiprocessing::simple_queue<T>: T must be a type the codec carries (codec.hpp); T is named "
                "in the instantiation above");

 public:
  /// Python: SimpleQueue().
  explicit simple_queue(std::size_t ring_bytes = default_ring_bytes) : q_(0, ring_bytes) {}

  /// Python: SimpleQueue.put(obj).
  void put(const T& item) { q_.put(item); }
  /// Python: SimpleQueue.get().
  T get() { return q_.get(); }
  /// put() and get() inside a running loop (see queue).
  task<void> put_async(T item) { return q_.put_async(std::move(item)); }
  task<T> get_async() { return q_.get_async(); }
  /// Python: SimpleQueue.empty(). os_error (EBADF) after close().
  bool empty() const { return q_.empty(); }
  /// Python: SimpleQueue.close(). Twice is fine.
  void close() noexcept { q_.close(); }
  bool closed() const noexcept { return q_.closed(); }

  shared_handle corio_handle() const {
    shared_handle h = q_.corio_handle();
    h.kind = detail::queue_kind<T>("simple_queue");
    return h;
  }
  static simple_queue from_handle(const shared_handle& h) {
    if (h.kind != detail::queue_kind<T>("simple_queue"))
      throw std::invalid_argument("multiprocessing::simple_queue::from_handle: a handle of a " + h.kind);
    shared_handle as_queue = h;
    as_queue.kind = detail::queue_kind<T>("queue");
    return simple_queue(queue<T>::from_handle(as_queue));
  }
  friend bool operator==(const simple_queue& a, const simple_queue& b) noexcept { return a.q_ == b.q_; }

 private:
  explicit simple_queue(queue<T> q) noexcept : q_(std::move(q)) {}
  queue<T> q_;
};

}  // namespace corio::multiprocessing

// The shared state behind multiprocessing's queues: a byte ring in shared
// memory that carries encoded items. Not for users (queues.hpp is).
//
// - The ring is single-producer, single-consumer: producers take turns
//   through a put mutex, consumers through a get mutex (robust,
//   process-shared futex locks, detail/sync_state.hpp), so a producer
//   never waits for a consumer's lock or the other way round, and the ring
//   itself needs only two positions, each written by one side.
// - An item is one or more chunks: an 8-byte header (length, flags) and the
//   payload, padded to 8 bytes. An item of up to a quarter of the ring is
//   one chunk, written whole before it is published; a larger one is
//   streamed in chunks as the consumer frees room, so an item of any size
//   passes through a fixed ring.
// - Each side publishes with one 64-bit store: its byte position (low 40
//   bits) and how many whole items it has put or taken (high 24 bits). A
//   process that dies between two of its stores leaves nothing half done:
//   qsize() is the difference of the counts, and an item a consumer was
//   reading when it died is either still there (it had not published) or
//   gone with it.
// - Waits are process-shared futexes on two event words (data, room), which
//   a side bumps only when somebody sleeps on them.
// See docs/design.md, "Queues between processes".
#pragma once

#include <corio/multiprocessing/detail/shared_heap.hpp>
#include <corio/multiprocessing/shared_handle.hpp>
#include <corio/tasks.hpp>
#include <corio/threading/detail/deadline.hpp>
#include <corio/threading/detail/futex.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace corio::multiprocessing::detail {

struct queue_shared;

/// Which event a waiter waits for: an item to get, or room to put one.
enum class queue_event : std::uint8_t { data, room };

/// A handle to one queue's shared state. Copies refer to the same queue.
class queue_ring {
 public:
  using clock = threading::detail::clock;

  /// A new queue: `maxsize` items at most (<= 0: no limit but the ring's
  /// bytes), a ring of `capacity` bytes (rounded up to a power of two, at
  /// least 4 KiB).
  queue_ring(std::int64_t maxsize, std::size_t capacity);
  /// The queue a handle names (`kind` checked).
  queue_ring(const shared_handle& h, std::string_view kind);

  /// Puts one encoded item. Waits for room until `deadline` if `block`;
  /// false if there was none in time (nothing was put then).
  bool put(std::string_view item, bool block, clock::time_point deadline);
  /// Takes one encoded item into `out`. Waits until `deadline` if `block`;
  /// false if none came in time (nothing was taken then).
  bool get(std::string& out, bool block, clock::time_point deadline);
  /// put(item, false, ...) that also gives up at once when another producer
  /// is putting: never sleeps unless it has started streaming a large item.
  bool try_put(std::string_view item);
  /// get(out, false, ...) that also gives up at once when another consumer
  /// is getting.
  bool try_get(std::string& out);

  /// Items put and not yet taken.
  std::size_t qsize() const noexcept;
  /// Whether a put would wait for the maxsize limit now.
  bool full() const noexcept;
  std::int64_t maxsize() const noexcept;
  std::size_t capacity() const noexcept;
  /// Whether an encoded item of `n` bytes can ever be in the ring whole (a
  /// larger one only streams through it, to a consumer reading meanwhile).
  bool fits_whole(std::size_t n) const noexcept;

  // JoinableQueue's count of unfinished tasks: put() adds one before it
  // publishes an item.
  void add_task() noexcept;
  /// Takes back an add_task() whose put failed.
  void undo_task() noexcept;
  /// std::invalid_argument if no task is unfinished.
  void task_done();
  /// Waits until no task is unfinished, or `deadline`: false then.
  bool join(clock::time_point deadline);
  std::uint32_t unfinished_tasks() const noexcept;

  /// A registration as a waiter on one event, taken before looking at the
  /// queue: an event that happens after it wakes wait_async().
  class watch {
   public:
    watch(const queue_ring& r, queue_event e) noexcept;
    watch(const watch&) = delete;
    watch& operator=(const watch&) = delete;
    ~watch();

   private:
    friend class queue_ring;
    const threading::detail::futex_word* word_;
    std::atomic<std::uint32_t>* waiters_;
    std::uint32_t seen_;
  };
  /// Resumes once `w`'s event has happened since `w` was taken, without
  /// blocking the loop (a helper thread sleeps on the futex and signals an
  /// eventfd). Cancelling it stops the helper.
  task<void> wait_async(const watch& w) const;

  shared_handle make_handle(std::string kind) const;
  friend bool operator==(const queue_ring& a, const queue_ring& b) noexcept { return a.p_ == b.p_; }

 private:
  queue_shared* s() const noexcept;
  bool put_locked(std::string_view item, bool block, clock::time_point deadline);
  bool get_locked(std::string& out, bool block, clock::time_point deadline);
  void recover_put_side();
  void probe_producer();

  shared_place p_;
};

}  // namespace corio::multiprocessing::detail

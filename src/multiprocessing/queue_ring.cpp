// The shared byte ring behind multiprocessing's queues (see
// detail/queue_ring.hpp for the layout and why).
#include <corio/multiprocessing/detail/queue_ring.hpp>

#include <corio/multiprocessing/detail/sync_state.hpp>
#include <corio/multiprocessing/queues.hpp>
#include <corio/os_errors.hpp>
#include <corio/sock_ops.hpp>

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

namespace corio::multiprocessing::detail {

using threading::detail::futex_word;

namespace {

constexpr std::uint64_t kPosBits = 40;
constexpr std::uint64_t kPosMask = (std::uint64_t{1} << kPosBits) - 1;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << (64 - kPosBits)) - 1;
constexpr std::size_t kMinCapacity = 4096;
// At most 2^23 items fit (16 bytes each at least), well inside the 24 bits
// of the item counts.
constexpr std::size_t kMaxCapacity = std::size_t{1} << 27;

// Chunk flags.
constexpr std::uint32_t kFirst = 1, kLast = 2, kAbort = 4;
constexpr std::size_t kHeader = 8;

constexpr std::uint64_t pos_of(std::uint64_t w) noexcept { return w & kPosMask; }
constexpr std::uint64_t count_of(std::uint64_t w) noexcept { return w >> kPosBits; }
constexpr std::uint64_t pack(std::uint64_t pos, std::uint64_t count) noexcept {
  return (pos & kPosMask) | ((count & kCountMask) << kPosBits);
}
constexpr std::size_t pad8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }

}  // namespace

struct alignas(block_align) queue_shared {
  // Set once at creation.
  std::uint64_t capacity;
  std::int64_t maxsize;

  // The producers' side, under put_mu.
  alignas(block_align) robust_mutex put_mu;
  // The producer holding put_mu is between the chunks of a large item.
  std::atomic<std::uint32_t> w_in_item;
  // The last head position the producers saw (saves reading the consumers'
  // line on every put).
  std::uint64_t w_head_seen;
  alignas(block_align) std::atomic<std::uint64_t> tail;  // pack(pos, items put)

  // The consumers' side, under get_mu.
  alignas(block_align) robust_mutex get_mu;
  std::uint64_t r_tail_seen;
  alignas(block_align) std::atomic<std::uint64_t> head;  // pack(pos, items taken)

  // Event words: bumped (and woken) only while somebody waits. A side's
  // lock holder says it sleeps with a flag (reset when a dead holder's lock
  // is taken over, so a killed sleeper costs nothing later); asynchronous
  // waiters, which hold no lock, are counted (one killed while waiting
  // leaves the count high: later publishes wake the word for nothing).
  alignas(block_align) futex_word ev_data;
  std::atomic<std::uint32_t> data_sleeper;
  std::atomic<std::uint32_t> data_waiters;
  alignas(block_align) futex_word ev_room;
  std::atomic<std::uint32_t> room_sleeper;
  std::atomic<std::uint32_t> room_waiters;
  // Bytes of free room the sleeping producer waits for (0: any); see
  // wait_for.
  std::atomic<std::uint64_t> room_goal;

  // JoinableQueue.
  alignas(block_align) futex_word unfinished;
  std::atomic<std::uint32_t> join_waiters;

  std::byte* ring() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
};

static_assert(sizeof(queue_shared) % block_align == 0);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

namespace {

// Copies n bytes into / out of the ring at byte position `pos`, wrapping.
void ring_write(queue_shared* s, std::uint64_t pos, const void* src, std::size_t n) noexcept {
  const std::size_t cap = s->capacity;
  const std::size_t at = pos & (cap - 1);
  const std::size_t first = std::min(n, cap - at);
  std::memcpy(s->ring() + at, src, first);
  if (first < n) std::memcpy(s->ring(), static_cast<const std::byte*>(src) + first, n - first);
}

void ring_read(queue_shared* s, std::uint64_t pos, void* dst, std::size_t n) noexcept {
  const std::size_t cap = s->capacity;
  const std::size_t at = pos & (cap - 1);
  const std::size_t first = std::min(n, cap - at);
  std::memcpy(dst, s->ring() + at, first);
  if (first < n) std::memcpy(static_cast<std::byte*>(dst) + first, s->ring(), n - first);
}

// Headers sit at 8-byte aligned positions of a ring whose size is a
// multiple of 8: never split.
struct chunk_header {
  std::uint32_t len;
  std::uint32_t flags;
};

chunk_header read_header(queue_shared* s, std::uint64_t pos) noexcept {
  chunk_header h;
  std::memcpy(&h, s->ring() + (pos & (s->capacity - 1)), sizeof h);
  return h;
}

void write_header(queue_shared* s, std::uint64_t pos, chunk_header h) noexcept {
  std::memcpy(s->ring() + (pos & (s->capacity - 1)), &h, sizeof h);
}

// Publishes a side's new position and count; wakes the other side if it
// sleeps. seq_cst: the store and the other side's "waiters++; recheck" must
// not pass each other (else a wake-up is lost).
// A producer publishes its new tail: the consumer is woken if it sleeps.
// The waker clears the sleeper's flag, so the publishes that follow before
// the sleeper has run make no more system calls (on this VM a wake-up takes
// tens of microseconds to land); a sleeper that still has to wait sets it
// again.
void publish_tail(queue_shared* q, std::uint64_t value) noexcept {
  q->tail.store(value, std::memory_order_seq_cst);
  bool wake = q->data_waiters.load(std::memory_order_seq_cst) != 0;
  if (q->data_sleeper.load(std::memory_order_seq_cst) != 0 &&
      q->data_sleeper.exchange(0, std::memory_order_seq_cst) != 0)
    wake = true;
  if (wake) {
    q->ev_data.fetch_add(1, std::memory_order_seq_cst);
    threading::detail::futex_wake_shared(&q->ev_data, INT_MAX);
  }
}

void poke(futex_word& ev, std::atomic<std::uint32_t>& waiters) noexcept {
  if (waiters.load(std::memory_order_seq_cst) != 0) {
    ev.fetch_add(1, std::memory_order_seq_cst);
    threading::detail::futex_wake_shared(&ev, INT_MAX);
  }
}

// How long a producer that finds the ring full first sleeps for a larger
// goal (see wait_for).
constexpr auto kRoomHysteresis = std::chrono::milliseconds(1);

// Waits until `ready()`: spins a little (the other side is usually running
// on the other core), then sleeps on `ev`. False if `deadline` passed.
//
// With a `goal_word`, the first sleep asks the consumers to wake it only
// once `goal` bytes are free, for at most kRoomHysteresis: a producer
// faster than its consumer then refills a good part of the ring per
// wake-up, instead of the two trading a futex wake-up per item. Later sleeps
// ask for any change, so a consumer that stops half way never leaves a
// producer asleep with room for its item.
template <class Ready>
bool wait_for(Ready ready, futex_word& ev, std::atomic<std::uint32_t>& sleeper,
              threading::detail::clock::time_point deadline, std::atomic<std::uint64_t>* goal_word = nullptr,
              std::uint64_t goal = 0) {
  threading::detail::backoff b;
  for (int i = 0; i < 40; ++i) {
    if (ready()) return true;
    b.pause();
  }
  struct goal_reset {
    std::atomic<std::uint64_t>* w;
    ~goal_reset() {
      if (w) w->store(0, std::memory_order_relaxed);
    }
  } reset{goal_word};
  for (bool first = true;; first = false) {
    auto until = deadline;
    if (goal_word) {
      const bool hold = first && goal != 0;
      goal_word->store(hold ? goal : 0, std::memory_order_seq_cst);
      if (hold) until = std::min(deadline, threading::detail::deadline_in(kRoomHysteresis));
    }
    const std::uint32_t seen = ev.load(std::memory_order_seq_cst);
    sleeper.store(1, std::memory_order_seq_cst);
    if (ready()) {
      sleeper.store(0, std::memory_order_relaxed);
      return true;
    }
    const bool woke = threading::detail::futex_wait_shared(ev, seen, until);
    sleeper.store(0, std::memory_order_relaxed);
    if (ready()) return true;
    if (!woke && threading::detail::clock::now() >= deadline) return false;
  }
}

// A consumer publishes its new head: the producer is woken if it sleeps and
// has the room it asked for.
void publish_head(queue_shared* q, std::uint64_t value) noexcept {
  q->head.store(value, std::memory_order_seq_cst);
  const bool sleeper = q->room_sleeper.load(std::memory_order_seq_cst) != 0;
  const bool watchers = q->room_waiters.load(std::memory_order_seq_cst) != 0;
  if (!sleeper && !watchers) return;
  const std::uint64_t goal = q->room_goal.load(std::memory_order_seq_cst);
  if (goal != 0) {
    const std::uint64_t used = (pos_of(q->tail.load(std::memory_order_acquire)) - pos_of(value)) & kPosMask;
    if (q->capacity - used < goal) return;
  }
  // As publish_tail: the flag is cleared by whoever wakes the sleeper.
  if (!(sleeper && q->room_sleeper.exchange(0, std::memory_order_seq_cst) != 0) && !watchers) return;
  q->ev_room.fetch_add(1, std::memory_order_seq_cst);
  threading::detail::futex_wake_shared(&q->ev_room, INT_MAX);
}

// The put or get mutex, released on scope exit (and the other side poked,
// for asynchronous waiters that found it busy).
class side_lock {
 public:
  side_lock(robust_mutex& m, futex_word& ev, std::atomic<std::uint32_t>& waiters) noexcept
      : m_(&m), ev_(&ev), waiters_(&waiters) {}
  side_lock(const side_lock&) = delete;
  side_lock& operator=(const side_lock&) = delete;
  ~side_lock() {
    if (held_) {
      unlock(*m_);
      poke(*ev_, *waiters_);
    }
  }
  void set_held() noexcept { held_ = true; }

 private:
  robust_mutex* m_;
  futex_word* ev_;
  std::atomic<std::uint32_t>* waiters_;
  bool held_ = false;
};

// A put_nowait or get_nowait that finds another producer (consumer) in its
// call: that call is usually a few hundred nanoseconds from its end, so the
// lock is tried again for a short while, unless its holder sleeps (it waits
// for room or an item: the queue is full or empty for this caller too).
// Only the last attempt may look the holder up in /proc (a non-blocking
// lock() of a held lock does): the others just watch the word.
lock_result lock_briefly(robust_mutex& m, const std::atomic<std::uint32_t>& holder_sleeps) {
  threading::detail::backoff b;
  for (int i = 0;; ++i) {
    const bool last = i == 24 || holder_sleeps.load(std::memory_order_relaxed) != 0;
    if (last || m.word.load(std::memory_order_relaxed) == 0) {
      const lock_result r = lock(m, false, threading::detail::clock::time_point::max());
      if (r != lock_result::not_taken || last) return r;
    }
    b.pause();
  }
}

std::size_t ring_capacity(std::size_t want) {
  std::size_t c = kMinCapacity;
  while (c < want && c < kMaxCapacity) c <<= 1;
  return c;
}

}  // namespace

// == construction ================================================================

queue_ring::queue_ring(std::int64_t maxsize, std::size_t capacity) {
  const std::size_t cap = ring_capacity(capacity);
  p_ = allocate(sizeof(queue_shared) + cap);
  auto* q = new (p_.addr) queue_shared{};
  q->capacity = cap;
  q->maxsize = maxsize > 0 ? maxsize : 0;
}

queue_ring::queue_ring(const shared_handle& h, std::string_view kind) {
  if (h.length < kMinCapacity || h.length > kMaxCapacity || (h.length & (h.length - 1)) != 0)
    throw std::invalid_argument("multiprocessing queue handle: bad ring size " + std::to_string(h.length));
  p_ = attach(h, kind, sizeof(queue_shared) + h.length, alignof(queue_shared));
  if (s()->capacity != h.length)
    throw std::invalid_argument("multiprocessing queue handle: the ring size does not match the queue's");
}

queue_shared* queue_ring::s() const noexcept { return std::launder(reinterpret_cast<queue_shared*>(p_.addr)); }

shared_handle queue_ring::make_handle(std::string kind) const {
  return detail::make_handle(std::move(kind), p_, s()->capacity);
}

std::size_t queue_ring::qsize() const noexcept {
  // Head first: the tail read after it is at least as far (read the other
  // way round, items put and taken in between would make it negative).
  const queue_shared* q = s();
  const std::uint64_t got = count_of(q->head.load(std::memory_order_seq_cst));
  const std::uint64_t put = count_of(q->tail.load(std::memory_order_seq_cst));
  return static_cast<std::size_t>((put - got) & kCountMask);
}

bool queue_ring::full() const noexcept {
  const std::int64_t m = s()->maxsize;
  return m > 0 && qsize() >= static_cast<std::size_t>(m);
}

std::int64_t queue_ring::maxsize() const noexcept { return s()->maxsize; }
std::size_t queue_ring::capacity() const noexcept { return s()->capacity; }

namespace {

// Ring bytes an item of n bytes takes, in chunks of at most `chunk_max`.
std::size_t ring_bytes_of(std::size_t n, std::size_t chunk_max) noexcept {
  if (n <= chunk_max) return kHeader + pad8(n);
  const std::size_t chunks = (n + chunk_max - 1) / chunk_max;
  return (chunks - 1) * (kHeader + chunk_max) + kHeader + pad8(n - (chunks - 1) * chunk_max);
}

}  // namespace

bool queue_ring::fits_whole(std::size_t n) const noexcept {
  const std::size_t cap = s()->capacity;
  return ring_bytes_of(n, cap / 4 - kHeader) + kHeader <= cap;
}

// == put ==========================================================================

void queue_ring::recover_put_side() {
  // The producer that held the put mutex died. Between the chunks of a
  // large item, it has left the consumer a partial item: end it with an
  // abort chunk (there is always room for one: a producer writing a chunk
  // that is not the last keeps a header's room free).
  queue_shared* q = s();
  q->room_goal.store(0, std::memory_order_relaxed);
  q->room_sleeper.store(0, std::memory_order_relaxed);
  if (q->w_in_item.load(std::memory_order_relaxed) == 0) return;
  const std::uint64_t t = q->tail.load(std::memory_order_relaxed);
  write_header(q, pos_of(t), {0, kAbort});
  publish_tail(q, pack(pos_of(t) + kHeader, count_of(t)));
  q->w_in_item.store(0, std::memory_order_relaxed);
}

bool queue_ring::put(std::string_view item, bool block, clock::time_point deadline) {
  queue_shared* q = s();
  side_lock g(q->put_mu, q->ev_room, q->room_waiters);
  lock_result r;
  if (!block) {
    r = lock_briefly(q->put_mu, q->room_sleeper);
  } else if (deadline == clock::time_point::max()) {
    r = lock_forever(q->put_mu);
  } else {
    r = lock(q->put_mu, true, deadline);
  }
  if (r == lock_result::not_taken) return false;
  g.set_held();
  if (r == lock_result::taken_from_dead_owner) recover_put_side();
  return put_locked(item, block, deadline);
}

bool queue_ring::try_put(std::string_view item) {
  queue_shared* q = s();
  side_lock g(q->put_mu, q->ev_room, q->room_waiters);
  const lock_result r = lock(q->put_mu, false, clock::time_point::max());
  if (r == lock_result::not_taken) return false;
  g.set_held();
  if (r == lock_result::taken_from_dead_owner) recover_put_side();
  return put_locked(item, false, clock::time_point::max());
}

bool queue_ring::put_locked(std::string_view item, bool block, clock::time_point deadline) {
  queue_shared* q = s();
  const std::uint64_t cap = q->capacity;
  const std::size_t chunk_max = cap / 4 - kHeader;
  const std::size_t n = item.size();
  const std::uint64_t t0 = q->tail.load(std::memory_order_relaxed);
  std::uint64_t tpos = pos_of(t0);
  const std::uint64_t tcount = count_of(t0);

  auto room = [&](std::size_t need) {
    std::uint64_t used = (tpos - q->w_head_seen) & kPosMask;
    if (cap - used >= need) return true;
    q->w_head_seen = pos_of(q->head.load(std::memory_order_acquire));
    used = (tpos - q->w_head_seen) & kPosMask;
    return cap - used >= need;
  };
  auto below_max = [&] {
    const std::int64_t m = q->maxsize;
    if (m <= 0) return true;
    const std::uint64_t got = count_of(q->head.load(std::memory_order_acquire));
    return ((tcount - got) & kCountMask) < static_cast<std::uint64_t>(m);
  };
  // What a producer asks for when it sleeps: half the ring, unless it
  // waits for the maxsize limit (then any item taken matters).
  auto room_goal = [&](std::size_t need) -> std::uint64_t {
    if (!below_max()) return 0;
    return std::max<std::uint64_t>(need, cap / 2);
  };

  if (n <= chunk_max) {
    const std::size_t need = kHeader + pad8(n);
    auto ready = [&] { return below_max() && room(need); };
    if (!ready()) {
      if (!block) return false;
      if (!wait_for(ready, q->ev_room, q->room_sleeper, deadline, &q->room_goal, room_goal(need))) return false;
    }
    write_header(q, tpos, {static_cast<std::uint32_t>(n), kFirst | kLast});
    if (n != 0) ring_write(q, tpos + kHeader, item.data(), n);
    publish_tail(q, pack(tpos + need, tcount + 1));
    return true;
  }

  // A large item, in chunks. Without blocking, it goes only if all of it
  // fits now.
  if (!block && !(below_max() && room(ring_bytes_of(n, chunk_max) + kHeader))) return false;
  std::size_t off = 0;
  std::uint32_t flags = kFirst;
  while (off < n) {
    const std::size_t len = std::min(chunk_max, n - off);
    const bool last = off + len == n;
    // A chunk that is not the last leaves room for an abort header.
    const std::size_t need = kHeader + pad8(len) + (last ? 0 : kHeader);
    auto ready = [&] { return (off != 0 || below_max()) && room(need); };
    if (!ready() && !wait_for(ready, q->ev_room, q->room_sleeper, deadline, &q->room_goal, room_goal(need))) {
      if (off == 0) return false;
      // Timed out half way: the consumer drops what it has of this item.
      write_header(q, tpos, {0, kAbort});
      tpos += kHeader;
      publish_tail(q, pack(tpos, tcount));
      q->w_in_item.store(0, std::memory_order_relaxed);
      return false;
    }
    if (last) flags |= kLast;
    write_header(q, tpos, {static_cast<std::uint32_t>(len), flags});
    ring_write(q, tpos + kHeader, item.data() + off, len);
    // Set before the first chunk is published, cleared only after the last
    // one is: a producer that dies in between always leaves it set, and the
    // abort that its recovery writes is then at worst a stray one, which
    // consumers skip.
    if (!last) q->w_in_item.store(1, std::memory_order_relaxed);
    tpos += kHeader + pad8(len);
    publish_tail(q, pack(tpos, tcount + (last ? 1 : 0)));
    if (last) q->w_in_item.store(0, std::memory_order_relaxed);
    off += len;
    flags = 0;
  }
  return true;
}

// == get ==========================================================================

bool queue_ring::get(std::string& out, bool block, clock::time_point deadline) {
  queue_shared* q = s();
  side_lock g(q->get_mu, q->ev_data, q->data_waiters);
  lock_result r;
  if (!block) {
    r = lock_briefly(q->get_mu, q->data_sleeper);
  } else if (deadline == clock::time_point::max()) {
    r = lock_forever(q->get_mu);
  } else {
    r = lock(q->get_mu, true, deadline);
  }
  if (r == lock_result::not_taken) return false;
  g.set_held();
  // A consumer that died holding the get mutex left nothing to repair but
  // its sleeping flag: it publishes only whole chunks, and the rest of an
  // item it was reading is skipped below.
  if (r == lock_result::taken_from_dead_owner) q->data_sleeper.store(0, std::memory_order_relaxed);
  return get_locked(out, block, deadline);
}

bool queue_ring::try_get(std::string& out) {
  queue_shared* q = s();
  side_lock g(q->get_mu, q->ev_data, q->data_waiters);
  const lock_result r = lock(q->get_mu, false, clock::time_point::max());
  if (r == lock_result::not_taken) return false;
  g.set_held();
  if (r == lock_result::taken_from_dead_owner) q->data_sleeper.store(0, std::memory_order_relaxed);
  return get_locked(out, false, clock::time_point::max());
}

void queue_ring::probe_producer() {
  // Between the chunks of a large item, the consumer waits for its
  // producer. If that producer died, nobody else may come to end the item:
  // take the put mutex from the dead holder and end it here.
  queue_shared* q = s();
  side_lock g(q->put_mu, q->ev_room, q->room_waiters);
  const lock_result r = lock(q->put_mu, false, clock::time_point::max());
  if (r == lock_result::not_taken) return;  // a live producer holds it
  g.set_held();
  recover_put_side();
}

bool queue_ring::get_locked(std::string& out, bool block, clock::time_point deadline) {
  queue_shared* q = s();
  const std::uint64_t h0 = q->head.load(std::memory_order_relaxed);
  std::uint64_t hpos = pos_of(h0);
  std::uint64_t hcount = count_of(h0);
  auto avail = [&] {
    if (((q->r_tail_seen - hpos) & kPosMask) >= kHeader) return true;
    q->r_tail_seen = pos_of(q->tail.load(std::memory_order_acquire));
    return ((q->r_tail_seen - hpos) & kPosMask) >= kHeader;
  };
  bool in_item = false;
  for (;;) {
    if (!avail()) {
      if (in_item) {
        // The producer is streaming the rest of this item: wait for it
        // whatever the deadline (what was read is not given back), checking
        // now and then that the producer is still alive.
        using namespace std::chrono_literals;
        while (!wait_for(avail, q->ev_data, q->data_sleeper, threading::detail::deadline_in(50ms))) probe_producer();
      } else {
        if (!block) return false;
        if (!wait_for(avail, q->ev_data, q->data_sleeper, deadline)) return false;
      }
    }
    const chunk_header c = read_header(q, hpos);
    const std::size_t size = kHeader + pad8(c.len);
    if (c.flags & kAbort) {
      // Its producer gave up (a timeout) or died half way through an item.
      hpos += kHeader;
      publish_head(q, pack(hpos, hcount));
      in_item = false;
      out.clear();
      continue;
    }
    if (c.flags & kFirst) {
      out.resize(c.len);
      if (c.len != 0) ring_read(q, hpos + kHeader, out.data(), c.len);
      hpos += size;
      if (c.flags & kLast) {
        publish_head(q, pack(hpos, hcount + 1));
        return true;
      }
      in_item = true;
      publish_head(q, pack(hpos, hcount));
      continue;
    }
    // A later chunk of a large item.
    const bool last = (c.flags & kLast) != 0;
    if (in_item) {
      const std::size_t at = out.size();
      out.resize(at + c.len);
      ring_read(q, hpos + kHeader, out.data() + at, c.len);
    }
    // Else it is the rest of an item whose consumer died reading it: skipped
    // (the item went with that consumer).
    hpos += size;
    if (last) ++hcount;
    publish_head(q, pack(hpos, hcount));
    if (in_item && last) return true;
  }
}

// == JoinableQueue ================================================================

void queue_ring::add_task() noexcept { s()->unfinished.fetch_add(1, std::memory_order_seq_cst); }

void queue_ring::undo_task() noexcept {
  queue_shared* q = s();
  if (q->unfinished.fetch_sub(1, std::memory_order_seq_cst) == 1 && q->join_waiters.load(std::memory_order_seq_cst) != 0)
    threading::detail::futex_wake_shared(&q->unfinished, INT_MAX);
}

void queue_ring::task_done() {
  queue_shared* q = s();
  std::uint32_t v = q->unfinished.load(std::memory_order_relaxed);
  do {
    if (v == 0) throw std::invalid_argument("task_done() called too many times");
  } while (!q->unfinished.compare_exchange_weak(v, v - 1, std::memory_order_seq_cst, std::memory_order_relaxed));
  if (v == 1 && q->join_waiters.load(std::memory_order_seq_cst) != 0)
    threading::detail::futex_wake_shared(&q->unfinished, INT_MAX);
}

bool queue_ring::join(clock::time_point deadline) {
  queue_shared* q = s();
  for (;;) {
    const std::uint32_t v = q->unfinished.load(std::memory_order_seq_cst);
    if (v == 0) return true;
    q->join_waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t again = q->unfinished.load(std::memory_order_seq_cst);
    bool woke = true;
    if (again != 0) woke = threading::detail::futex_wait_shared(q->unfinished, again, deadline);
    q->join_waiters.fetch_sub(1, std::memory_order_relaxed);
    if (!woke && q->unfinished.load(std::memory_order_seq_cst) != 0 && clock::now() >= deadline) return false;
  }
}

std::uint32_t queue_ring::unfinished_tasks() const noexcept {
  return s()->unfinished.load(std::memory_order_relaxed);
}

// == waiting inside a loop ========================================================

queue_ring::watch::watch(const queue_ring& r, queue_event e) noexcept {
  queue_shared* q = r.s();
  futex_word& w = e == queue_event::data ? q->ev_data : q->ev_room;
  word_ = &w;
  waiters_ = e == queue_event::data ? &q->data_waiters : &q->room_waiters;
  // An asynchronous producer wants to hear of any room (a sleeping blocking
  // one may have asked for more; see wait_for).
  if (e == queue_event::room) q->room_goal.store(0, std::memory_order_seq_cst);
  seen_ = w.load(std::memory_order_seq_cst);
  waiters_->fetch_add(1, std::memory_order_seq_cst);
}

queue_ring::watch::~watch() { waiters_->fetch_sub(1, std::memory_order_seq_cst); }

namespace {

// A thread that sleeps on a shared futex word until it moves past `seen`
// (or it is told to stop), then makes an eventfd readable for the loop.
class futex_relay {
 public:
  futex_relay(const futex_word& word, std::uint32_t seen) : word_(&word) {
    efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd_ < 0) throw_errno("eventfd for a multiprocessing queue wait");
    try {
      thread_ = std::thread([this, seen] {
        while (!stop_.load(std::memory_order_acquire) && word_->load(std::memory_order_seq_cst) == seen)
          threading::detail::futex_wait_shared(*word_, seen, threading::detail::clock::time_point::max());
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = ::write(efd_, &one, sizeof one);
      });
    } catch (...) {
      ::close(efd_);
      throw;
    }
  }
  futex_relay(const futex_relay&) = delete;
  futex_relay& operator=(const futex_relay&) = delete;
  ~futex_relay() {
    stop_.store(true, std::memory_order_release);
    // Wakes every sleeper on the word (in any process): the others find
    // their condition unchanged and sleep again.
    threading::detail::futex_wake_shared(word_, INT_MAX);
    thread_.join();
    ::close(efd_);
  }
  int fd() const noexcept { return efd_; }

 private:
  const futex_word* word_;
  std::atomic<bool> stop_{false};
  int efd_ = -1;
  std::thread thread_;
};

}  // namespace

task<void> queue_ring::wait_async(const watch& w) const {
  futex_relay relay(*w.word_, w.seen_);
  co_await corio::wait_readable(relay.fd());
}

}  // namespace corio::multiprocessing::detail

namespace corio::multiprocessing::detail {

void throw_queue_closed(const char* what) {
  // Python: ValueError("Queue ... is closed"); empty() raises OSError (3.13).
  if (std::string_view(what) == "empty") throw_os_error(EBADF, "multiprocessing::queue.empty: the queue is closed");
  throw std::invalid_argument(std::string("multiprocessing::queue.") + what + ": the queue is closed");
}

}  // namespace corio::multiprocessing::detail

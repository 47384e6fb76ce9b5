// multiprocessing's lock and rlock: futex locks that know their holder and
// take the lock over from a holder that died (see detail/sync_state.hpp).
#include <corio/multiprocessing/detail/sync_state.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/detail/repr.hpp>

#include <algorithm>
#include <new>
#include <ostream>
#include <stdexcept>
#include <string>

namespace corio::multiprocessing {

namespace detail {

namespace {

using threading::detail::clock;

// How long a waiter sleeps before it first looks whether the holder is
// still alive, and the most it sleeps between two looks.
constexpr auto kFirstLook = std::chrono::milliseconds(1);
constexpr auto kLongestNap = std::chrono::milliseconds(100);

bool holder_gone(std::uint64_t word) noexcept {
  return thread_gone(static_cast<std::uint32_t>(word & lock_tid_mask), static_cast<std::uint32_t>(word >> 32));
}

// Swaps a dead holder's word `w` for the caller's (with the waiters bit, in
// case others sleep): whether it got the lock.
bool take_over(robust_mutex& m, std::uint64_t w) noexcept {
  return m.word.compare_exchange_strong(w, current_holder() | lock_waiters, std::memory_order_acquire,
                                        std::memory_order_relaxed);
}

}  // namespace

lock_result lock_slow(robust_mutex& m, bool blocking, clock::time_point deadline) {
  const std::uint64_t me = current_holder();
  lock_result taken = lock_result::taken;
  if (!blocking) {
    // One more attempt, and a look at the holder: a holder that died does
    // not make the next acquire fail, waiting or not.
    std::uint64_t w = m.word.load(std::memory_order_relaxed);
    if (w == 0) {
      if (!m.word.compare_exchange_strong(w, me, std::memory_order_acquire, std::memory_order_relaxed))
        return lock_result::not_taken;
    } else if (holder_gone(w) && take_over(m, w)) {
      taken = lock_result::taken_from_dead_owner;
    } else {
      return lock_result::not_taken;
    }
    m.owner_pid.store(current_pid(), std::memory_order_relaxed);
    return taken;
  }
  // No spinning before the sleep, unlike corio::threading::lock: between
  // processes a waiter that spins keeps pulling the lock's cache line away
  // from the holder: two processes taking turns on a short section ran at
  // about half the rate with 64 spins as with none (W12c, docs/benchmarks.md).
  auto nap = clock::duration(kFirstLook);
  bool napped = false;  // the last sleep ran its course with the lock held
  for (;;) {
    std::uint64_t w = m.word.load(std::memory_order_relaxed);
    if (w == 0) {
      // Taken with the waiters bit: this caller waited, so others may too,
      // and its release must wake one of them.
      if (m.word.compare_exchange_weak(w, me | lock_waiters, std::memory_order_acquire, std::memory_order_relaxed))
        break;
      continue;
    }
    const clock::time_point now = clock::now();
    const bool late = now >= deadline;
    // Is the holder still there? After a sleep that nobody cut short, and
    // once more when time is up: an acquire with a zero or short timeout
    // takes a dead holder's lock as a non-blocking one does.
    if ((napped || late) && holder_gone(w)) {
      if (take_over(m, w)) {
        taken = lock_result::taken_from_dead_owner;
        break;
      }
      napped = false;
      continue;
    }
    if (late) return lock_result::not_taken;
    if (napped) nap = std::min<clock::duration>(nap * 2, kLongestNap);
    napped = false;
    if (!(w & lock_waiters)) {
      if (!m.word.compare_exchange_weak(w, w | lock_waiters, std::memory_order_relaxed, std::memory_order_relaxed))
        continue;
      w |= lock_waiters;
    }
    const clock::time_point wake = deadline - now > nap ? now + nap : deadline;
    napped = !threading::detail::futex_wait_shared(*futex_half(m), static_cast<std::uint32_t>(w), wake);
  }
  m.owner_pid.store(current_pid(), std::memory_order_relaxed);
  return taken;
}

primitive_lock sync_access::make_lock_at(shared_place p) {
  new (p.addr) lock_state{};
  return primitive_lock(std::move(p));
}

rlock sync_access::make_rlock_at(shared_place p) {
  new (p.addr) rlock_state{};
  return rlock(std::move(p));
}

namespace {

void write_owner(std::ostream& os, const robust_mutex& m) {
  const std::uint32_t tid = holder_tid(m);
  if (tid == 0) {
    os << "None";
    return;
  }
  os << "pid ";
  if (const std::uint32_t pid = m.owner_pid.load(std::memory_order_relaxed)) {
    os << pid;
  } else {
    os << '?';
  }
  os << " tid " << tid;
}

}  // namespace

}  // namespace detail

// == lock =======================================================================

primitive_lock::primitive_lock()
    : primitive_lock(detail::sync_access::make_lock_at(detail::allocate(sizeof(detail::lock_state)))) {}

acquired primitive_lock::acquire_until(threading::detail::clock::time_point deadline) {
  return detail::lock(state()->m, true, deadline);
}

void primitive_lock::refuse_release() { throw std::runtime_error("release unlocked lock"); }

shared_handle primitive_lock::corio_handle() const { return detail::make_handle("lock", p_); }

primitive_lock primitive_lock::from_handle(const shared_handle& h) {
  return primitive_lock(detail::attach(h, "lock", sizeof(detail::lock_state), alignof(detail::lock_state)));
}

std::ostream& operator<<(std::ostream& os, const primitive_lock& l) {
  // Python: <Lock(owner=...)>.
  os << "<Lock(owner=";
  detail::write_owner(os, l.state()->m);
  return os << ")>";
}

// == rlock ======================================================================

rlock::rlock() : rlock(detail::sync_access::make_rlock_at(detail::allocate(sizeof(detail::rlock_state)))) {}

acquired rlock::acquire_until(threading::detail::clock::time_point deadline) {
  detail::rlock_state* s = state();
  const bool blocking = deadline != threading::detail::clock::time_point::min();
  const acquired a = detail::lock(s->m, blocking, deadline);
  if (a) s->count.store(1, std::memory_order_relaxed);  // a dead holder's count goes with it
  return a;
}

void rlock::refuse_release() { throw std::runtime_error("cannot release un-acquired lock"); }

void rlock::overflow() { throw std::overflow_error("multiprocessing::rlock.acquire: recursion count overflow"); }

std::size_t rlock::release_save() {
  detail::rlock_state* s = state();
  if (!detail::held_by_me(s->m)) refuse_release();
  const std::size_t c = s->count.load(std::memory_order_relaxed);
  s->count.store(0, std::memory_order_relaxed);
  detail::unlock(s->m);
  return c;
}

void rlock::acquire_restore(std::size_t count) {
  detail::rlock_state* s = state();
  detail::lock_forever(s->m);
  s->count.store(static_cast<std::uint32_t>(count), std::memory_order_relaxed);
}

shared_handle rlock::corio_handle() const { return detail::make_handle("rlock", p_); }

rlock rlock::from_handle(const shared_handle& h) {
  return rlock(detail::attach(h, "rlock", sizeof(detail::rlock_state), alignof(detail::rlock_state)));
}

std::ostream& operator<<(std::ostream& os, const rlock& l) {
  // Python: <RLock(owner, count)>.
  const detail::rlock_state* s = l.state();
  os << "<RLock(";
  detail::write_owner(os, s->m);
  const bool held = detail::holder_tid(s->m) != 0;
  return os << ", " << (held ? s->count.load(std::memory_order_relaxed) : 0) << ")>";
}

}  // namespace corio::multiprocessing

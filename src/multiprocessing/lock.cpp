// multiprocessing's lock and rlock on robust process-shared pthread mutexes
// (see detail/sync_state.hpp for why pthread's).
#include <corio/multiprocessing/detail/sync_state.hpp>
#include <corio/multiprocessing/synchronize.hpp>

#include <corio/os_errors.hpp>
#include <corio/threading/detail/futex.hpp>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <new>
#include <ostream>
#include <stdexcept>
#include <string>

namespace corio::multiprocessing {

namespace detail {

namespace {

static_assert(alignof(lock_state) <= block_align && alignof(rlock_state) <= block_align);

lock_state* lock_at(const shared_place& p) noexcept { return std::launder(reinterpret_cast<lock_state*>(p.addr)); }
rlock_state* rlock_at(const shared_place& p) noexcept { return std::launder(reinterpret_cast<rlock_state*>(p.addr)); }

void check(int r, const char* call) {
  if (r != 0) throw_os_error(r, std::string(call) + " for a process-shared lock");
}

int timed_lock(pthread_mutex_t* mu, threading::detail::clock::time_point deadline) noexcept {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer intercepts neither pthread_mutex_clocklock nor, for an
  // EOWNERDEAD, pthread_mutex_timedlock (it records only a 0 there): it
  // would not see the acquisition. Under it only, a timed acquire polls
  // trylock, whose interceptor sees both, with a growing sleep.
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    const int r = ::pthread_mutex_trylock(mu);
    if (r != EBUSY) return r;
    const auto now = threading::detail::clock::now();
    if (now >= deadline) return ETIMEDOUT;
    const auto nap = std::min<threading::detail::clock::duration>(pause, deadline - now);
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(nap);
    const timespec ts{static_cast<time_t>(secs.count()),
                      static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(nap - secs).count())};
    ::nanosleep(&ts, nullptr);
    pause = std::min(pause * 2, std::chrono::microseconds(5000));
  }
#else
  // The absolute CLOCK_MONOTONIC deadline (one before the epoch is long
  // gone: a single attempt).
  const auto since = deadline.time_since_epoch();
  if (since.count() < 0) return ::pthread_mutex_trylock(mu);
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  timespec ts{static_cast<time_t>(secs.count()),
              static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count())};
  return ::pthread_mutex_clocklock(mu, CLOCK_MONOTONIC, &ts);
#endif
}

}  // namespace

void init(robust_mutex& m) {
  pthread_mutexattr_t a;
  check(::pthread_mutexattr_init(&a), "pthread_mutexattr_init");
  int r = ::pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  if (r == 0) r = ::pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  if (r == 0) r = ::pthread_mutex_init(&m.mu, &a);
  ::pthread_mutexattr_destroy(&a);
  check(r, "pthread_mutex_init");
}

lock_result lock(robust_mutex& m, bool blocking, threading::detail::clock::time_point deadline, const char* what) {
  int r;
  if (!blocking) {
    r = ::pthread_mutex_trylock(&m.mu);
  } else if (deadline == threading::detail::clock::time_point::max()) {
    r = ::pthread_mutex_lock(&m.mu);
  } else {
    r = timed_lock(&m.mu, deadline);
  }
  if (r != 0) return lock_error(m, r, what);
  set_holder(m);
  return lock_result::taken;
}

lock_result lock_contended(robust_mutex& m, const char* what) {
  // As corio::threading::lock: long enough to ride out a holder that is
  // about to release (a critical section of a few hundred cycles, in
  // another process as well), short enough that a waiter that cannot win
  // goes to sleep at once. The robust mutex itself never spins: without
  // this, two processes taking turns on a short section sleep and wake each
  // other on nearly every turn (W12c).
  for (int i = 0; i < 100; ++i) {
    if (m.owner_tid.load(std::memory_order_relaxed) == 0) {
      const int r = ::pthread_mutex_trylock(&m.mu);
      if (r == 0) {
        set_holder(m);
        return lock_result::taken;
      }
      if (r != EBUSY) return lock_error(m, r, what);
    }
    threading::detail::cpu_relax();
  }
  const int r = ::pthread_mutex_lock(&m.mu);
  if (r != 0) return lock_error(m, r, what);
  set_holder(m);
  return lock_result::taken;
}

lock_result lock_error(robust_mutex& m, int r, const char* what) {
  switch (r) {
    case EOWNERDEAD:
      // The kernel freed it when its holder ended: take it over. The
      // recovery cannot fail for a mutex we hold.
      ::pthread_mutex_consistent(&m.mu);
      set_holder(m);
      return lock_result::taken_from_dead_owner;
    case EBUSY:
    case ETIMEDOUT:
      return lock_result::not_taken;
    case ENOTRECOVERABLE:
      throw std::runtime_error(std::string(what) + ": the lock is not recoverable (its holder died and it was released "
                                                   "without being made consistent)");
    default:
      throw_os_error(r, std::string(what) + ": pthread_mutex_lock");
  }
}

primitive_lock sync_access::make_lock_at(shared_place p) {
  auto* s = new (p.addr) lock_state{};
  init(s->m);
  return primitive_lock(std::move(p));
}

rlock sync_access::make_rlock_at(shared_place p) {
  auto* s = new (p.addr) rlock_state{};
  init(s->m);
  return rlock(std::move(p));
}

namespace {

void write_owner(std::ostream& os, const robust_mutex& m) {
  const std::uint32_t tid = m.owner_tid.load(std::memory_order_relaxed);
  if (tid == 0) {
    os << "None";
  } else {
    os << "pid " << m.owner_pid.load(std::memory_order_relaxed) << " tid " << tid;
  }
}

}  // namespace

}  // namespace detail

// == lock =======================================================================

primitive_lock::primitive_lock()
    : primitive_lock(detail::sync_access::make_lock_at(detail::allocate(sizeof(detail::lock_state)))) {}

acquired primitive_lock::acquire_until(threading::detail::clock::time_point deadline) {
  return detail::lock(state()->m, true, deadline, "multiprocessing::lock.acquire");
}

acquired primitive_lock::try_acquire_once() {
  return detail::lock(state()->m, false, threading::detail::clock::time_point::max(), "multiprocessing::lock.acquire");
}

void primitive_lock::refuse_release() const {
  const detail::robust_mutex& m = state()->m;
  if (m.owner_tid.load(std::memory_order_relaxed) == 0) throw std::runtime_error("release unlocked lock");
  throw std::runtime_error(
      "multiprocessing::lock.release: the lock is held by another thread (pid " +
      std::to_string(m.owner_pid.load(std::memory_order_relaxed)) + " tid " +
      std::to_string(m.owner_tid.load(std::memory_order_relaxed)) +
      "); a process-shared lock is released by the thread that holds it");
}

shared_handle primitive_lock::corio_handle() const { return detail::make_handle("lock", p_); }

primitive_lock primitive_lock::from_handle(const shared_handle& h) {
  return primitive_lock(detail::attach(h, "lock", sizeof(detail::lock_state), alignof(detail::lock_state)));
}

std::ostream& operator<<(std::ostream& os, const primitive_lock& l) {
  os << "<Lock(owner=";
  detail::write_owner(os, detail::lock_at(l.p_)->m);
  return os << ")>";
}

// == rlock ======================================================================

rlock::rlock() : rlock(detail::sync_access::make_rlock_at(detail::allocate(sizeof(detail::rlock_state)))) {}

acquired rlock::acquire_until(threading::detail::clock::time_point deadline) {
  detail::rlock_state* s = state();
  const bool blocking = deadline != threading::detail::clock::time_point::min();
  const acquired a = detail::lock(s->m, blocking, deadline, "multiprocessing::rlock.acquire");
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
  detail::lock(s->m, true, threading::detail::clock::time_point::max(), "multiprocessing::condition.wait");
  s->count.store(static_cast<std::uint32_t>(count), std::memory_order_relaxed);
}

shared_handle rlock::corio_handle() const { return detail::make_handle("rlock", p_); }

rlock rlock::from_handle(const shared_handle& h) {
  return rlock(detail::attach(h, "rlock", sizeof(detail::rlock_state), alignof(detail::rlock_state)));
}

std::ostream& operator<<(std::ostream& os, const rlock& l) {
  // Python: <RLock(owner, count)>.
  const detail::rlock_state* s = detail::rlock_at(l.p_);
  os << "<RLock(";
  detail::write_owner(os, s->m);
  const bool held = s->m.owner_tid.load(std::memory_order_relaxed) != 0;
  return os << ", " << (held ? s->count.load(std::memory_order_relaxed) : 0) << ")>";
}

}  // namespace corio::multiprocessing

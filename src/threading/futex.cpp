#include <corio/threading/detail/futex.hpp>

#include <cerrno>
#include <climits>
#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace corio::threading::detail {

namespace {

// One futex call. The threading primitives pass FUTEX_PRIVATE_FLAG (they
// are not shared between processes); multiprocessing's leave it out.
// Leaves errno as it was: callers run inside code that may be checking it.
long futex_call(const futex_word* word, int op, std::uint32_t val, const timespec* ts, std::uint32_t val3,
                int* err = nullptr) noexcept {
  const int saved = errno;
  const long r = ::syscall(SYS_futex, reinterpret_cast<const std::uint32_t*>(word), op, val, ts, nullptr, val3);
  if (err) *err = errno;
  errno = saved;
  return r;
}

long futex(const futex_word* word, int op, std::uint32_t val, const timespec* ts, std::uint32_t val3,
           int* err = nullptr) noexcept {
  return futex_call(word, op | FUTEX_PRIVATE_FLAG, val, ts, val3, err);
}

// `deadline` as the absolute CLOCK_MONOTONIC timespec FUTEX_WAIT_BITSET
// takes; false if it is before the clock's epoch (long gone).
bool to_timespec(clock::time_point deadline, timespec& ts) noexcept {
  const auto since = deadline.time_since_epoch();
  if (since.count() < 0) return false;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count());
  return true;
}

}  // namespace

void futex_wait(const futex_word& word, std::uint32_t expected) noexcept {
  futex(&word, FUTEX_WAIT, expected, nullptr, 0);
}

bool futex_wait_until(const futex_word& word, std::uint32_t expected, clock::time_point deadline) noexcept {
  if (deadline == clock::time_point::max()) {
    futex_wait(word, expected);
    return true;
  }
  timespec ts{};
  if (!to_timespec(deadline, ts)) return false;
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (plain
  // FUTEX_WAIT takes a relative one, which a retry after EINTR would stretch).
  int err = 0;
  if (futex(&word, FUTEX_WAIT_BITSET, expected, &ts, FUTEX_BITSET_MATCH_ANY, &err) == 0) return true;
  return err != ETIMEDOUT;
}

// A null word wakes nobody. The word's owner may have returned already: the
// kernel only compares addresses and reads nothing, and every waiter
// tolerates stray wake-ups.
void futex_wake(const futex_word* word, int n) noexcept {
  if (word) futex(word, FUTEX_WAKE, static_cast<std::uint32_t>(n), nullptr, 0);
}

void futex_wake_all(const futex_word* word) noexcept { futex_wake(word, INT_MAX); }

bool futex_wait_shared(const futex_word& word, std::uint32_t expected, clock::time_point deadline,
                       std::uint32_t bitset) noexcept {
  timespec ts{};
  const timespec* tsp = nullptr;
  if (deadline != clock::time_point::max()) {
    if (!to_timespec(deadline, ts)) return false;
    tsp = &ts;
  }
  int err = 0;
  if (futex_call(&word, FUTEX_WAIT_BITSET, expected, tsp, bitset, &err) == 0) return true;
  return err != ETIMEDOUT;
}

void futex_wake_shared(const futex_word* word, int n, std::uint32_t bitset) noexcept {
  if (word) futex_call(word, FUTEX_WAKE_BITSET, static_cast<std::uint32_t>(n), nullptr, bitset);
}

}  // namespace corio::threading::detail

// Random bytes from the kernel (getrandom), for names and keys that other
// processes must not guess: shared memory names, the resource tracker's
// token, a process's authkey.
#pragma once

#include <sys/random.h>

#include <cerrno>
#include <cstddef>
#include <string>

namespace corio::multiprocessing::detail {

/// Fills n bytes at p; false (errno set) if the kernel gives none.
inline bool fill_random(void* p, std::size_t n) noexcept {
  auto* at = static_cast<unsigned char*>(p);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::getrandom(at + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

/// Two lower-case hex digits per byte.
inline std::string to_hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}

}  // namespace corio::multiprocessing::detail

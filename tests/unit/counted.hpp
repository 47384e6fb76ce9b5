// Test helpers: `counted` counts constructions and destructions (cppcoro's
// habit), so a test can tell whether a coroutine frame, a captured callable or
// a stored value was destroyed, copied or moved.
#pragma once

#include <atomic>
#include <cstddef>

namespace corio_test {

struct counted {
  // Atomic because cross-thread tests destroy captured callables on the loop
  // thread while producers construct them on theirs.
  static inline std::atomic<std::size_t> constructions{0};
  static inline std::atomic<std::size_t> destructions{0};
  static inline std::atomic<std::size_t> copies{0};
  static inline std::atomic<std::size_t> moves{0};

  static void reset() noexcept {
    constructions = 0;
    destructions = 0;
    copies = 0;
    moves = 0;
  }
  static std::size_t alive() noexcept { return constructions - destructions; }

  int id = 0;

  counted() noexcept { ++constructions; }
  explicit counted(int i) noexcept : id(i) { ++constructions; }
  counted(const counted& o) noexcept : id(o.id) {
    ++constructions;
    ++copies;
  }
  counted(counted&& o) noexcept : id(o.id) {
    o.id = -1;  // marks the moved-from object
    ++constructions;
    ++moves;
  }
  counted& operator=(const counted& o) noexcept {
    id = o.id;
    ++copies;
    return *this;
  }
  counted& operator=(counted&& o) noexcept {
    id = o.id;
    o.id = -1;
    ++moves;
    return *this;
  }
  ~counted() { ++destructions; }
};

}  // namespace corio_test

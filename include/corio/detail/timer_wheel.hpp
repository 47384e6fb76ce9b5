// The loop's timers. Not for users.
//
// A hierarchical timing wheel (ticks of 2^20 ns, about a millisecond; a first
// level of 1024 slots, about a second, then five levels of 64) holds timers
// that are far away; each tick's timers move into a small binary heap ordered
// by the exact deadline and then by arrival (docs/semantics.md EL-06, EL-07).
// The wide first level means a timer due within a second is touched once
// before it fires, not twice (a cascade from a higher level costs a cache
// miss into the sleeping task's frame). A million sleepers thus cost O(1)
// each to arm and to expire, and the heap stays as small as one tick's worth
// of timers, which is what keeps W3 near its ideal wall time. Nodes are
// intrusive (a sleeping task's node lives in its frame), so arming a timer
// allocates nothing; cancelling one unlinks it at once, so a destroyed frame
// never leaves a dangling entry behind. A timer due at kNeverNs (a
// saturated deadline, see saturate.hpp) waits in a list of its own that
// nothing expires: it can be cancelled, but it never fires and never makes
// the loop wake up or a virtual clock jump.
#pragma once

#include <cstdint>
#include <vector>

namespace corio::detail {

struct timer_node {
  timer_node* prev = nullptr;
  timer_node* next = nullptr;
  std::int64_t when = 0;     // loop time, ns
  std::uint32_t seq = 0;     // arrival order, for ties (serial-number compare)
  std::uint32_t pos = kNowhere;
  void (*fire)(timer_node*) = nullptr;

  static constexpr std::uint32_t kNowhere = 0xffffffffu;
  static constexpr std::uint32_t kInHeap = 0x80000000u;  // pos = kInHeap | index
  static constexpr std::uint32_t kInNever = 0x7fffffffu;  // in the list of timers that never fire

  bool armed() const noexcept { return pos != kNowhere; }
};

class timer_wheel {
 public:
  static constexpr int kTickShift = 20;  // 1.048576 ms
  static constexpr int kLevels = 6;
  static constexpr int kBits[kLevels] = {10, 6, 6, 6, 6, 6};      // slots per level: 1 << bits
  static constexpr int kShift[kLevels] = {0, 10, 16, 22, 28, 34};  // tick bits below the level
  static constexpr int kBase[kLevels] = {0, 1024, 1088, 1152, 1216, 1280};  // in slots_
  static constexpr int kTotalSlots = 1344;
  static constexpr int kTotalBits = 40;  // ticks the wheel spans: about 36 years

  explicit timer_wheel(std::int64_t now_ns = 0) noexcept;
  timer_wheel(const timer_wheel&) = delete;
  timer_wheel& operator=(const timer_wheel&) = delete;

  void insert(timer_node* n);  // n->when set by the caller
  void remove(timer_node* n) noexcept;  // n must be armed
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Moves every timer with when <= due_ns out, earliest first (ties in arrival
  // order), unlinked and disarmed; `out` is called once per timer.
  template <class F>
  void expire(std::int64_t due_ns, F&& out) {
    if (size_ == 0) return;
    drain_wheel(due_ns >> kTickShift);
    while (!heap_.empty() && heap_.front().when <= due_ns) out(heap_pop());
  }

  // Earliest time at which expire() might have work (exact for the heap, the
  // start of a tick for the wheel); INT64_MAX when empty or when only
  // timers that never fire are left.
  std::int64_t next_deadline() const noexcept;

  // Unlinks every timer without firing it (loop close). `each` sees them all.
  template <class F>
  void clear(F&& each) {
    for (const heap_entry& e : heap_) {
      e.node->pos = timer_node::kNowhere;
      each(e.node);
    }
    heap_.clear();
    for (int l = 0; l < kLevels; ++l) {
      for (int s = kBase[l]; s < kBase[l] + (1 << kBits[l]); ++s) {
        timer_node* n = slots_[s];
        slots_[s] = nullptr;
        while (n) {
          timer_node* nx = n->next;
          n->pos = timer_node::kNowhere;
          n->prev = n->next = nullptr;
          each(n);
          n = nx;
        }
      }
    }
    for (std::uint64_t& w : occupied_) w = 0;
    while (timer_node* n = never_) {
      never_ = n->next;
      n->pos = timer_node::kNowhere;
      n->prev = n->next = nullptr;
      each(n);
    }
    size_ = 0;
  }

 private:
  struct expiration {
    int level;
    int slot;               // index into slots_
    std::int64_t deadline;  // tick
  };

  void drain_wheel(std::int64_t now_tick);
  bool next_expiration(expiration& e) const noexcept;
  void wheel_add(timer_node* n, int level) noexcept;
  void heap_push(timer_node* n);
  timer_node* heap_pop() noexcept;
  void heap_remove(std::uint32_t i) noexcept;
  void sift_up(std::uint32_t i) noexcept;
  void sift_down(std::uint32_t i) noexcept;

  // The near heap keeps each timer's deadline beside its pointer, so that
  // sifting compares without touching the timers (which live in scattered
  // coroutine frames); only equal deadlines look at the arrival number.
  struct heap_entry {
    std::int64_t when;
    timer_node* node;
  };
  static bool before(const heap_entry& a, const heap_entry& b) noexcept {
    if (a.when != b.when) return a.when < b.when;
    return static_cast<std::int32_t>(a.node->seq - b.node->seq) < 0;
  }

  std::int64_t elapsed_;  // every wheel timer has tick > elapsed_
  std::size_t size_ = 0;
  std::uint32_t seq_ = 0;
  std::uint64_t occupied_[kTotalSlots / 64] = {};  // a bit per slot of slots_
  timer_node* slots_[kTotalSlots] = {};
  timer_node* never_ = nullptr;  // due at kNeverNs: kept, never expired
  std::vector<heap_entry> heap_;
};

}  // namespace corio::detail

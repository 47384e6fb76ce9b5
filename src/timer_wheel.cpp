#include <corio/detail/config.hpp>
#include <corio/detail/saturate.hpp>
#include <corio/detail/timer_wheel.hpp>

#include <climits>

namespace corio::detail {

namespace {

using W = timer_wheel;
constexpr std::uint64_t kMaxTicks = std::uint64_t{1} << W::kTotalBits;

// The level at which a timer due at `tick` is kept: the highest level whose
// digit differs from `elapsed` (the scheme of Tokio's and Linux's wheels).
int level_for(std::uint64_t elapsed, std::uint64_t tick) noexcept {
  std::uint64_t masked = (elapsed ^ tick) | ((std::uint64_t{1} << W::kBits[0]) - 1);
  if (masked >= kMaxTicks) masked = kMaxTicks - 1;
  const int significant = 63 - __builtin_clzll(masked);
  return significant < W::kBits[0] ? 0 : 1 + (significant - W::kBits[0]) / W::kBits[1];
}

int slot_index(std::uint64_t tick, int level) noexcept {
  return W::kBase[level] + static_cast<int>((tick >> W::kShift[level]) & ((std::uint64_t{1} << W::kBits[level]) - 1));
}

// The first set bit at or after `start` in a cyclic bitmap of `nwords`
// words; -1 if none.
int next_set(const std::uint64_t* occ, int nwords, int start) noexcept {
  const int w = start >> 6;
  const unsigned b = static_cast<unsigned>(start & 63);
  std::uint64_t word = occ[w] & (~std::uint64_t{0} << b);
  if (word) return (w << 6) + __builtin_ctzll(word);
  for (int i = 1; i <= nwords; ++i) {
    const int w2 = (w + i) % nwords;
    word = occ[w2];
    if (i == nwords) word &= b ? (std::uint64_t{1} << b) - 1 : 0;  // wrapped round to the start
    if (word) return (w2 << 6) + __builtin_ctzll(word);
  }
  return -1;
}

}  // namespace

timer_wheel::timer_wheel(std::int64_t now_ns) noexcept : elapsed_(now_ns >> kTickShift) {}

void timer_wheel::insert(timer_node* n) {
  n->seq = seq_++;
  ++size_;
  if (CORIO_UNLIKELY(n->when == kNeverNs)) {
    n->prev = nullptr;
    n->next = never_;
    if (never_) never_->prev = n;
    never_ = n;
    n->pos = timer_node::kInNever;
    return;
  }
  const std::int64_t tick = n->when >> kTickShift;
  if (tick <= elapsed_) {
    heap_push(n);
    return;
  }
  std::uint64_t t = static_cast<std::uint64_t>(tick);
  const std::uint64_t e = static_cast<std::uint64_t>(elapsed_);
  if (t - e >= kMaxTicks) t = e + kMaxTicks - 1;  // clamp: re-sorted when it cascades down
  wheel_add(n, level_for(e, t));
}

void timer_wheel::wheel_add(timer_node* n, int level) noexcept {
  std::uint64_t tick = static_cast<std::uint64_t>(n->when >> kTickShift);
  const std::uint64_t e = static_cast<std::uint64_t>(elapsed_);
  if (tick - e >= kMaxTicks) tick = e + kMaxTicks - 1;
  const int idx = slot_index(tick, level);
  timer_node*& head = slots_[idx];
  n->prev = nullptr;
  n->next = head;
  if (head) head->prev = n;
  head = n;
  n->pos = static_cast<std::uint32_t>(idx);
  occupied_[idx >> 6] |= std::uint64_t{1} << (idx & 63);
}

void timer_wheel::remove(timer_node* n) noexcept {
  --size_;
  if (n->pos & timer_node::kInHeap) {
    heap_remove(n->pos & ~timer_node::kInHeap);
  } else if (CORIO_UNLIKELY(n->pos == timer_node::kInNever)) {
    (n->prev ? n->prev->next : never_) = n->next;
    if (n->next) n->next->prev = n->prev;
    n->prev = n->next = nullptr;
  } else {
    const int idx = static_cast<int>(n->pos);
    if (n->prev)
      n->prev->next = n->next;
    else
      slots_[idx] = n->next;
    if (n->next) n->next->prev = n->prev;
    if (!slots_[idx]) occupied_[idx >> 6] &= ~(std::uint64_t{1} << (idx & 63));
    n->prev = n->next = nullptr;
  }
  n->pos = timer_node::kNowhere;
}

bool timer_wheel::next_expiration(expiration& e) const noexcept {
  const std::uint64_t now = static_cast<std::uint64_t>(elapsed_);
  for (int level = 0; level < kLevels; ++level) {
    const int nslots = 1 << kBits[level];
    const std::uint64_t span = std::uint64_t{1} << kShift[level];
    const int now_slot = static_cast<int>((now >> kShift[level]) & static_cast<std::uint64_t>(nslots - 1));
    const int found = next_set(occupied_ + (kBase[level] >> 6), nslots >> 6, now_slot);
    if (found < 0) continue;
    const std::uint64_t level_range = span << kBits[level];
    const std::uint64_t level_start = now & ~(level_range - 1);
    std::uint64_t deadline = level_start + static_cast<std::uint64_t>(found) * span;
    if (deadline <= now) deadline += level_range;
    e = {level, kBase[level] + found, static_cast<std::int64_t>(deadline)};
    return true;
  }
  return false;
}

void timer_wheel::drain_wheel(std::int64_t now_tick) {
  if (now_tick <= elapsed_) return;
  expiration e;
  while (next_expiration(e) && e.deadline <= now_tick) {
    timer_node* n = slots_[e.slot];
    slots_[e.slot] = nullptr;
    occupied_[e.slot >> 6] &= ~(std::uint64_t{1} << (e.slot & 63));
    elapsed_ = e.deadline;
    while (n) {
      timer_node* nx = n->next;
      const std::int64_t tick = n->when >> kTickShift;
      if (tick <= elapsed_) {
        heap_push(n);
      } else {
        wheel_add(n, level_for(static_cast<std::uint64_t>(elapsed_), static_cast<std::uint64_t>(tick)));
      }
      n = nx;
    }
  }
  elapsed_ = now_tick;
}

std::int64_t timer_wheel::next_deadline() const noexcept {
  std::int64_t best = INT64_MAX;
  if (!heap_.empty()) best = heap_.front().when;
  expiration e;
  if (next_expiration(e)) {
    const std::int64_t w = e.deadline << kTickShift;
    if (w < best) best = w;
  }
  return best;
}

// -- the near heap ----------------------------------------------------------

void timer_wheel::heap_push(timer_node* n) {
  n->prev = n->next = nullptr;
  const auto i = static_cast<std::uint32_t>(heap_.size());
  heap_.push_back({n->when, n});
  n->pos = timer_node::kInHeap | i;
  sift_up(i);
}

timer_node* timer_wheel::heap_pop() noexcept {
  timer_node* top = heap_.front().node;
  --size_;
  const heap_entry last = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) {
    heap_[0] = last;
    last.node->pos = timer_node::kInHeap;
    sift_down(0);
  }
  top->pos = timer_node::kNowhere;
  return top;
}

void timer_wheel::heap_remove(std::uint32_t i) noexcept {
  const heap_entry last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  heap_[i] = last;
  last.node->pos = timer_node::kInHeap | i;
  sift_up(i);
  sift_down(last.node->pos & ~timer_node::kInHeap);
}

void timer_wheel::sift_up(std::uint32_t i) noexcept {
  const heap_entry e = heap_[i];
  while (i > 0) {
    const std::uint32_t p = (i - 1) / 2;
    if (!before(e, heap_[p])) break;
    heap_[i] = heap_[p];
    heap_[i].node->pos = timer_node::kInHeap | i;
    i = p;
  }
  heap_[i] = e;
  e.node->pos = timer_node::kInHeap | i;
}

void timer_wheel::sift_down(std::uint32_t i) noexcept {
  const auto size = static_cast<std::uint32_t>(heap_.size());
  const heap_entry e = heap_[i];
  for (;;) {
    std::uint32_t c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && before(heap_[c + 1], heap_[c])) ++c;
    if (!before(heap_[c], e)) break;
    heap_[i] = heap_[c];
    heap_[i].node->pos = timer_node::kInHeap | i;
    i = c;
  }
  heap_[i] = e;
  e.node->pos = timer_node::kInHeap | i;
}

}  // namespace corio::detail

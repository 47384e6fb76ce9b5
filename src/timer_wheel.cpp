#include <corio/detail/timer_wheel.hpp>

#include <climits>

namespace corio::detail {

namespace {

constexpr std::uint64_t kMaxTicks = std::uint64_t{1} << (timer_wheel::kLevels * timer_wheel::kSlotBits);

// The level at which a timer due at `tick` is kept: the highest 6-bit digit in
// which it differs from `elapsed` (same scheme as Tokio's and Linux's wheels).
int level_for(std::uint64_t elapsed, std::uint64_t tick) noexcept {
  std::uint64_t masked = (elapsed ^ tick) | (timer_wheel::kSlots - 1);
  if (masked >= kMaxTicks) masked = kMaxTicks - 1;
  const int significant = 63 - __builtin_clzll(masked);
  return significant / timer_wheel::kSlotBits;
}

std::uint64_t slot_span(int level) noexcept {
  return std::uint64_t{1} << (level * timer_wheel::kSlotBits);
}

// a before b: earlier deadline, then earlier arrival.
bool before(const timer_node* a, const timer_node* b) noexcept {
  if (a->when != b->when) return a->when < b->when;
  return static_cast<std::int32_t>(a->seq - b->seq) < 0;
}

}  // namespace

timer_wheel::timer_wheel(std::int64_t now_ns) noexcept : elapsed_(now_ns >> kTickShift) {}

void timer_wheel::insert(timer_node* n) {
  n->seq = seq_++;
  ++size_;
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
  const int slot = static_cast<int>((tick >> (level * kSlotBits)) & (kSlots - 1));
  timer_node*& head = slots_[level][slot];
  n->prev = nullptr;
  n->next = head;
  if (head) head->prev = n;
  head = n;
  n->pos = static_cast<std::uint32_t>(level * kSlots + slot);
  occupied_[level] |= std::uint64_t{1} << slot;
}

void timer_wheel::remove(timer_node* n) noexcept {
  --size_;
  if (n->pos & timer_node::kInHeap) {
    heap_remove(n->pos & ~timer_node::kInHeap);
  } else {
    const int level = static_cast<int>(n->pos / kSlots);
    const int slot = static_cast<int>(n->pos % kSlots);
    if (n->prev)
      n->prev->next = n->next;
    else
      slots_[level][slot] = n->next;
    if (n->next) n->next->prev = n->prev;
    if (!slots_[level][slot]) occupied_[level] &= ~(std::uint64_t{1} << slot);
    n->prev = n->next = nullptr;
  }
  n->pos = timer_node::kNowhere;
}

bool timer_wheel::next_expiration(expiration& e) const noexcept {
  const std::uint64_t now = static_cast<std::uint64_t>(elapsed_);
  for (int level = 0; level < kLevels; ++level) {
    const std::uint64_t occ = occupied_[level];
    if (!occ) continue;
    const std::uint64_t span = slot_span(level);
    const std::uint64_t level_range = span * kSlots;
    const unsigned now_slot = static_cast<unsigned>((now / span) % kSlots);
    const std::uint64_t rotated = (occ >> now_slot) | (now_slot ? occ << (kSlots - now_slot) : 0);
    const unsigned slot = (static_cast<unsigned>(__builtin_ctzll(rotated)) + now_slot) % kSlots;
    const std::uint64_t level_start = now & ~(level_range - 1);
    std::uint64_t deadline = level_start + slot * span;
    if (deadline <= now) deadline += level_range;
    e = {level, static_cast<int>(slot), static_cast<std::int64_t>(deadline)};
    return true;
  }
  return false;
}

void timer_wheel::drain_wheel(std::int64_t now_tick) {
  if (now_tick <= elapsed_) return;
  expiration e;
  while (next_expiration(e) && e.deadline <= now_tick) {
    timer_node* n = slots_[e.level][e.slot];
    slots_[e.level][e.slot] = nullptr;
    occupied_[e.level] &= ~(std::uint64_t{1} << e.slot);
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
  if (!heap_.empty()) best = heap_.front()->when;
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
  heap_.push_back(n);
  n->pos = timer_node::kInHeap | i;
  sift_up(i);
}

timer_node* timer_wheel::heap_pop() noexcept {
  timer_node* top = heap_.front();
  --size_;
  timer_node* last = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) {
    heap_[0] = last;
    last->pos = timer_node::kInHeap;
    sift_down(0);
  }
  top->pos = timer_node::kNowhere;
  return top;
}

void timer_wheel::heap_remove(std::uint32_t i) noexcept {
  timer_node* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  heap_[i] = last;
  last->pos = timer_node::kInHeap | i;
  sift_up(i);
  sift_down(last->pos & ~timer_node::kInHeap);
}

void timer_wheel::sift_up(std::uint32_t i) noexcept {
  timer_node* n = heap_[i];
  while (i > 0) {
    const std::uint32_t p = (i - 1) / 2;
    if (!before(n, heap_[p])) break;
    heap_[i] = heap_[p];
    heap_[i]->pos = timer_node::kInHeap | i;
    i = p;
  }
  heap_[i] = n;
  n->pos = timer_node::kInHeap | i;
}

void timer_wheel::sift_down(std::uint32_t i) noexcept {
  const auto size = static_cast<std::uint32_t>(heap_.size());
  timer_node* n = heap_[i];
  for (;;) {
    std::uint32_t c = 2 * i + 1;
    if (c >= size) break;
    if (c + 1 < size && before(heap_[c + 1], heap_[c])) ++c;
    if (!before(heap_[c], n)) break;
    heap_[i] = heap_[c];
    heap_[i]->pos = timer_node::kInHeap | i;
    i = c;
  }
  heap_[i] = n;
  n->pos = timer_node::kInHeap | i;
}

}  // namespace corio::detail

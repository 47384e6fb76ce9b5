// The set of a loop's pending tasks (Python: asyncio.tasks._all_tasks).
// Not for users.
//
// The loop owns a reference to every pending task (docs/semantics.md TK-13: a
// dropped handle must not kill a running task), so this is both the
// all_tasks() set and the ownership record. Slots live in fixed chunks and
// freed slots form a free list through the slots themselves: adding and
// removing touch only the slot, never another task's memory, and growing
// never copies.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace corio::detail {

struct task_base;

class task_registry {
 public:
  static constexpr unsigned kChunkBits = 12;
  static constexpr std::uint32_t kChunk = 1u << kChunkBits;

  std::uint32_t add(task_base* t) {
    std::uint32_t i;
    if (free_head_ != kNone) {
      i = free_head_;
      free_head_ = static_cast<std::uint32_t>(slot(i) >> 1);
    } else {
      i = high_++;
      if ((i >> kChunkBits) >= chunks_.size()) chunks_.push_back(std::make_unique<std::uintptr_t[]>(kChunk));
    }
    slot(i) = reinterpret_cast<std::uintptr_t>(t);
    ++live_;
    return i;
  }

  void remove(std::uint32_t i) noexcept {
    slot(i) = (static_cast<std::uintptr_t>(free_head_) << 1) | 1u;
    free_head_ = i;
    --live_;
  }

  std::size_t size() const noexcept { return live_; }

  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t i = 0; i < high_; ++i) {
      const std::uintptr_t v = chunks_[i >> kChunkBits][i & (kChunk - 1)];
      if (!(v & 1u)) f(reinterpret_cast<task_base*>(v));
    }
  }

 private:
  static constexpr std::uint32_t kNone = 0xffffffffu;
  std::uintptr_t& slot(std::uint32_t i) noexcept { return chunks_[i >> kChunkBits][i & (kChunk - 1)]; }

  std::vector<std::unique_ptr<std::uintptr_t[]>> chunks_;
  std::uint32_t free_head_ = kNone;
  std::uint32_t high_ = 0;
  std::size_t live_ = 0;
};

}  // namespace corio::detail

// W12a's floor (docs/benchmarks.md): the same two processes and N items as
// w12_queue, through a bare single-producer single-consumer ring in an
// anonymous shared mapping: 1024 fixed slots of the item's size (8 bytes or
// 1 KiB), one position per side, and a side that finds the ring full or
// empty spins a little, then yields the CPU. No framing, no encoding, no
// locks, no sleeping: what moving items between two processes costs on this
// machine, C-style.
//
// Usage: w12_queue_floor [N] [--pin cpu0] [--item int|1KiB]
#include "ipc_util.hpp"

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t kSlots = 1024;

struct ring {
  alignas(64) std::atomic<std::uint64_t> written{0};
  alignas(64) std::atomic<std::uint64_t> taken{0};
  alignas(64) std::atomic<int> ready{0};
  std::atomic<int> go{0};
};

template <class Cond>
void spin_until(Cond c) {
  unsigned spins = 0;
  while (!c()) {
    if (++spins < 200) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    } else {
      ::sched_yield();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bench::queue_args args = bench::parse_queue_args(argc, argv);
  const std::string& item = args.item;
  const std::int64_t n = args.n;
  const std::size_t slot = item == "int" ? 8 : 1024;

  void* mem = ::mmap(nullptr, sizeof(ring) + kSlots * slot, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  bench::check(mem != MAP_FAILED, "mmap");
  auto* r = new (mem) ring{};
  auto* slots = reinterpret_cast<char*>(r + 1);

  const pid_t pid = ::fork();
  bench::check(pid >= 0, "fork");
  if (pid == 0) {
    std::vector<char> buf(slot, 'x');
    r->ready.store(1, std::memory_order_release);
    spin_until([&] { return r->go.load(std::memory_order_acquire) != 0; });
    std::uint64_t w = 0, seen = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      if (w - seen == kSlots) spin_until([&] { return w - (seen = r->taken.load(std::memory_order_acquire)) < kSlots; });
      std::memcpy(buf.data(), &i, sizeof i);
      std::memcpy(slots + (w % kSlots) * slot, buf.data(), slot);
      r->written.store(++w, std::memory_order_release);
    }
    ::_exit(0);
  }
  std::vector<char> buf(slot);
  spin_until([&] { return r->ready.load(std::memory_order_acquire) != 0; });
  const double t0 = bench::monotonic_s();
  r->go.store(1, std::memory_order_release);
  std::uint64_t t = 0, seen = 0;
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (t == seen) spin_until([&] { return t != (seen = r->written.load(std::memory_order_acquire)); });
    std::memcpy(buf.data(), slots + (t % kSlots) * slot, slot);
    std::int64_t v;
    std::memcpy(&v, buf.data(), sizeof v);
    sum += v;
    r->taken.store(++t, std::memory_order_release);
  }
  const double wall = bench::monotonic_s() - t0;
  int status = 0;
  bench::check(::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
               "the producer exits with 0");
  bench::check(sum == n * (n - 1) / 2, "the sum of the items is N(N-1)/2");
  bench::line("W12a ipc_queue")
      .str("impl", "c_spsc_ring")
      .num("N", n)
      .num("items_per_s", double(n) / wall)
      .str("item", item)
      .str("pin", bench::pin_tag())
      .num("ns_per_item", wall * 1e9 / double(n))
      .num("wall_s", wall)
      .print();
}

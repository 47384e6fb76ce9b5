"""W2a yield on CPython asyncio: one task gives the loop a turn with
`await asyncio.sleep(0)` N times. The workload's N is 10,000,000; a smaller
N gives the same figure per yield, in less time."""
import asyncio
import time

from bench_line import emit, parse_args, peak_rss_kb, run


async def yield_n(n):
    sleep = asyncio.sleep
    t0 = time.perf_counter()
    for _ in range(n):
        await sleep(0)
    return time.perf_counter() - t0


def main():
    args = parse_args(10_000_000, __doc__)
    n = args.N
    wall = run(lambda: yield_n(n), args)
    emit("W2a yield", args, n, [("ns_per_yield", wall * 1e9 / n), ("yields_per_s", n / wall), ("wall_s", wall),
                                ("peak_rss_kb", peak_rss_kb())])


if __name__ == "__main__":
    main()

"""W1 spawn on CPython asyncio: create N tasks of a coroutine that returns its
argument + 1, gather them all and sum the results. Prints tasks per second
and peak memory (bytes_per_task: growth over the start-up footprint / N)."""
import asyncio
import sys
import time

from bench_line import emit, parse_args, peak_rss_kb, run


async def plus_one(x):
    return x + 1


async def spawn_and_gather(n):
    create_task = asyncio.create_task
    t0 = time.perf_counter()
    tasks = [create_task(plus_one(i)) for i in range(n)]
    total = sum(await asyncio.gather(*tasks))
    wall = time.perf_counter() - t0
    if total != n * (n + 1) // 2:
        sys.exit("w1_spawn: sum %d, expected %d" % (total, n * (n + 1) // 2))
    return wall


def main():
    args = parse_args(1_000_000, __doc__)
    n = args.N
    base = peak_rss_kb()
    wall = run(lambda: spawn_and_gather(n), args)
    peak = peak_rss_kb()
    emit("W1 spawn", args, n, [("tasks_per_s", n / wall), ("ns_per_task", wall * 1e9 / n), ("wall_s", wall),
                               ("peak_rss_kb", peak), ("bytes_per_task", (peak - base) * 1024.0 / n)])


if __name__ == "__main__":
    main()

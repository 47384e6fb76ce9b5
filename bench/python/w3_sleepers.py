"""W3 sleepers on CPython asyncio: N tasks each sleep a pseudo-random time
below a second, then finish; all are gathered. The delays come from the LCG
x = (x * 1103515245 + 12345) mod 2^31, starting from x = 1 and stepped
before each task: task i sleeps x mod 1000 ms, as in corio's program. Wall
time runs from before the first create_task to the end of the gather
(ideal: about 1 s); bytes_per_task is the growth over the start-up
footprint / N."""
import asyncio
import time

from bench_line import emit, parse_args, peak_rss_kb, run


async def sleeper(delay_s):
    await asyncio.sleep(delay_s)


async def sleepers(n):
    create_task = asyncio.create_task
    x = 1
    t0 = time.perf_counter()
    tasks = []
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        tasks.append(create_task(sleeper((x % 1000) / 1000.0)))
    spawned = time.perf_counter()
    await asyncio.gather(*tasks)
    return time.perf_counter() - t0, spawned - t0


def main():
    args = parse_args(1_000_000, __doc__)
    n = args.N
    base = peak_rss_kb()
    wall, spawn = run(lambda: sleepers(n), args)
    peak = peak_rss_kb()
    emit("W3 sleepers", args, n, [("wall_s", wall), ("spawn_s", spawn), ("overshoot_s", wall - 0.999),
                                  ("peak_rss_kb", peak), ("bytes_per_task", (peak - base) * 1024.0 / n)])


if __name__ == "__main__":
    main()

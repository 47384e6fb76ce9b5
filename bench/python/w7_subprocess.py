"""W7 subprocess on CPython asyncio: start N `/bin/true` children with
asyncio.create_subprocess_exec, never more than 64 alive at a time (an
asyncio.Semaphore), and await every exit status. Prints children per
second."""
import asyncio
import sys
import time

from bench_line import emit, parse_args, peak_rss_kb, run

AT_ONCE = 64


async def true_once(gate):
    async with gate:
        proc = await asyncio.create_subprocess_exec("/bin/true")
        return await proc.wait()


async def spawn_all(n):
    gate = asyncio.Semaphore(AT_ONCE)
    t0 = time.perf_counter()
    statuses = await asyncio.gather(*(true_once(gate) for _ in range(n)))
    wall = time.perf_counter() - t0
    if any(statuses):
        sys.exit("w7_subprocess: a child exited with a non-zero status")
    return wall


def main():
    args = parse_args(2000, __doc__)
    n = args.N
    wall = run(lambda: spawn_all(n), args)
    emit("W7 subprocess", args, n, [("procs_per_s", n / wall), ("us_per_proc", wall * 1e6 / n), ("wall_s", wall),
                                    ("at_once", AT_ONCE), ("peak_rss_kb", peak_rss_kb())])


if __name__ == "__main__":
    main()

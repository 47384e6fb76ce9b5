"""W12a ipc_queue on CPython's multiprocessing (start method fork), the peer
of corio's bench/w12_queue.cpp (docs/benchmarks.md).

A forked producer puts N items on a multiprocessing.Queue() (no maxsize, the
default) and this process gets them all: with --item int (default, N =
1,000,000) the ints 0..N-1, whose sum is checked; with --item 1KiB (N =
200,000) a 1024-byte bytes object, whose total length is checked. The
producer waits on an Event until the clock starts; the clock stops when the
last item has been taken (time.perf_counter is CLOCK_MONOTONIC on Linux).
Prints one line in the format of docs/benchmarks.md.
"""
import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import time

from proc_line import emit, pin_tag


def put_all(q, n, go, one_kib):
    go.wait()
    put = q.put
    if one_kib:
        item = b"x" * 1024
        for _ in range(n):
            put(item)
    else:
        for i in range(n):
            put(i)
    # The feeder thread must have written every item before the process ends.
    q.close()
    q.join_thread()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("N", nargs="?", type=int, default=None, help="items (default: 1,000,000 ints or 200,000 1KiB)")
    ap.add_argument("--item", choices=["int", "1KiB"], default="int")
    ap.add_argument("--pin", choices=["cpu0"], default=None, help="run both processes on CPU 0")
    args = ap.parse_args()
    one_kib = args.item == "1KiB"
    n = args.N or (200_000 if one_kib else 1_000_000)
    if n < 1:
        ap.error("N must be at least 1")
    if args.pin == "cpu0":
        os.sched_setaffinity(0, {0})
    mp.set_start_method("fork")
    q = mp.Queue()
    go = mp.Event()
    p = mp.Process(target=put_all, args=(q, n, go, one_kib))
    p.start()
    get = q.get
    t0 = time.perf_counter()
    go.set()
    if one_kib:
        total = 0
        for _ in range(n):
            total += len(get())
        ok = total == 1024 * n
    else:
        s = 0
        for _ in range(n):
            s += get()
        ok = s == n * (n - 1) // 2
    wall = time.perf_counter() - t0
    p.join()
    if not ok or p.exitcode != 0:
        sys.exit("w12_queue: wrong items or producer exit code %s" % p.exitcode)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = [("impl", "mp.Queue-fork"), ("py", platform.python_version()), ("N", n), ("items_per_s", n / wall),
              ("item", args.item), ("pin", pin_tag()), ("ns_per_item", wall * 1e9 / n), ("wall_s", wall),
              ("producer_cpu_s", ru.ru_utime + ru.ru_stime),
              ("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)]
    emit("W12a ipc_queue", fields)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""W9 process pool on CPython's multiprocessing.Pool(2), start method fork,
the peer of corio's bench/w9_pool.cpp (docs/benchmarks.md).

  --mode map   W9a: pool.map(x*x) over range(N) (default 1,000,000) with
               chunksize 10,000; items/s from the map's wall time.
  --mode cpu   W9b: the sum of i*i for i < N (default 2*10^8) as two halves
               through pool.starmap, against the same sum computed serially
               in this process; speedup = serial / pool.

The pool is started, and has run one small map, before the clock starts.
Prints one line in the format of docs/benchmarks.md.
"""
import argparse
import multiprocessing as mp
import platform
import sys
import time

from proc_line import emit, peak_rss_kb


def square(x):
    return x * x


def half_sum(a, b):
    s = 0
    for i in range(a, b):
        s += i * i
    return s


def run_map(n):
    t_start = time.perf_counter()
    with mp.Pool(2) as pool:
        pool.map(square, range(2))
        t0 = time.perf_counter()
        out = pool.map(square, range(n), chunksize=10_000)
        wall = time.perf_counter() - t0
        pool.close()
        pool.join()
    if len(out) != n or out[-1] != (n - 1) ** 2:
        sys.exit("check failed: every square came back")
    emit("W9a pool_map", [("impl", "mp.Pool-" + mp.get_start_method()), ("py", platform.python_version()),
                          ("N", n), ("items_per_s", n / wall), ("ns_per_item", wall * 1e9 / n),
                          ("wall_s", wall), ("pool_start_s", t0 - t_start), ("peak_rss_kb", peak_rss_kb())])


def run_cpu(n):
    t0 = time.perf_counter()
    serial = half_sum(0, n)
    t_serial = time.perf_counter() - t0
    with mp.Pool(2) as pool:
        pool.map(abs, range(2))
        t0 = time.perf_counter()
        par = sum(pool.starmap(half_sum, [(0, n // 2), (n // 2, n)]))
        t_pool = time.perf_counter() - t0
        pool.close()
        pool.join()
    if par != serial:
        sys.exit("check failed: the pool's sum equals the serial one")
    emit("W9b pool_cpu", [("impl", "mp.Pool-" + mp.get_start_method()), ("py", platform.python_version()),
                          ("N", n), ("serial_s", t_serial), ("pool_s", t_pool), ("speedup", t_serial / t_pool),
                          ("serial_ns_per_item", t_serial * 1e9 / n), ("wall_s", t_pool),
                          ("peak_rss_kb", peak_rss_kb())])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("N", nargs="?", type=int, default=None, help="items (default: the mode's)")
    ap.add_argument("--mode", choices=["map", "cpu"], default="map")
    args = ap.parse_args()
    mp.set_start_method("fork")
    if args.mode == "map":
        run_map(args.N or 1_000_000)
    else:
        run_cpu(args.N or 200_000_000)


if __name__ == "__main__":
    main()

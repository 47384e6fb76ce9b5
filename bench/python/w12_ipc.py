"""W12 IPC between two processes on CPython's multiprocessing (start method
fork), the peer of corio's W12 programs (docs/benchmarks.md).

  --mode value   W12c: two processes each do N times (default 1,000,000)
                     with v.get_lock():
                         v.value += 1
                 on one multiprocessing.Value('i') (its default lock is an
                 RLock); the final value must be exactly 2N.

The children are forked and waiting on an Event before the clock starts; it
stops when the later one has finished (time.perf_counter is CLOCK_MONOTONIC
on Linux, the same clock in every process). `--pin cpu0` runs everything on
CPU 0, as `taskset -c 0` would. Prints one line in the format of
docs/benchmarks.md.
"""
import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import time


def fmt(v):
    """Numbers as corio's programs print them: no decimals from 100 up, else 3, or 6 below 1."""
    if isinstance(v, float):
        return "%.0f" % v if abs(v) >= 100 else "%.3f" % v if abs(v) >= 1 else "%.6f" % v
    return str(v)


def emit(head, fields):
    print(" ".join([head] + ["%s=%s" % (k, fmt(v)) for k, v in fields]))
    sys.stdout.flush()


def pin_tag():
    """"none" when this process may run on every CPU, "cpu<k>" when on one only."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) == 1:
        return "cpu%d" % next(iter(cpus))
    if len(cpus) < (os.cpu_count() or len(cpus)):
        return "cpus%d" % len(cpus)
    return "none"


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# -- W12c: a shared value under its lock ------------------------------------------------


def value_incrementer(v, n, ready, go, ends, k):
    ready.release()
    go.wait()
    lock = v.get_lock()
    for _ in range(n):
        with lock:
            v.value += 1
    ends[k] = time.perf_counter()


def run_value(n):
    """Both children increment v n times; returns (wall seconds, final value, lock type)."""
    v = mp.Value("i", 0)
    ready = mp.Semaphore(0)
    go = mp.Event()
    ends = mp.Array("d", 2)
    procs = [mp.Process(target=value_incrementer, args=(v, n, ready, go, ends, k)) for k in range(2)]
    for p in procs:
        p.start()
    ready.acquire()
    ready.acquire()
    t0 = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit("w12_ipc: a child exited with %s" % p.exitcode)
    wall = max(ends[:]) - t0
    if v.value != 2 * n:
        sys.exit("w12_ipc: final value %d, not %d" % (v.value, 2 * n))
    return wall, v.value, type(v.get_lock()).__name__


def value_main(n):
    wall, final, lock = run_value(n)
    total = 2.0 * n
    emit("W12c ipc_value", [("impl", "mp.Value-" + lock), ("py", platform.python_version()), ("N", n),
                            ("pin", pin_tag()), ("procs", 2), ("increments_per_s", total / wall),
                            ("ns_per_increment", wall * 1e9 / total), ("wall_s", wall), ("final", final),
                            ("children_cpu_s", children_cpu_s()),
                            ("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)])


MODES = {"value": (value_main, 1_000_000)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("N", nargs="?", type=int, default=None, help="operations per process (default: the mode's)")
    ap.add_argument("--mode", choices=sorted(MODES), default="value")
    ap.add_argument("--pin", choices=["cpu0"], default=None, help="run every process on CPU 0")
    args = ap.parse_args()
    run, default_n = MODES[args.mode]
    n = args.N or default_n
    if n < 1:
        ap.error("N must be at least 1")
    if args.pin == "cpu0":
        os.sched_setaffinity(0, {0})
    mp.set_start_method("fork")
    run(n)


if __name__ == "__main__":
    main()

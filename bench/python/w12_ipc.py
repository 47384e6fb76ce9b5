"""W12 IPC between two processes on CPython's multiprocessing (start method
fork), the peer of corio's W12 programs (docs/benchmarks.md).

  --mode pipe        W12b: ping-pong of a small int over a duplex
                     multiprocessing.Pipe (Connection.send/recv, pickled),
                     N round trips (default 100,000); one round trip is made
                     before the clock starts
  --mode pipe_bytes  W12b: the same with send_bytes/recv_bytes of 8 bytes
  --mode value       W12c: two processes each do N times (default 1,000,000)
                         with v.get_lock():
                             v.value += 1
                     on one multiprocessing.Value('i') (its default lock is an
                     RLock); the final value must be exactly 2N.

For W12c the children are forked and waiting on an Event before the clock
starts; it stops when the later one has finished (time.perf_counter is
CLOCK_MONOTONIC on Linux, the same clock in every process). `--pin cpu0`
runs everything on CPU 0, as `taskset -c 0` would. Prints one line in the
format of docs/benchmarks.md.
"""
import argparse
import multiprocessing as mp
import os
import platform
import resource
import sys
import time

from proc_line import children_cpu_s, emit, pin_tag, self_cpu_s


def pipe_echo(conn, use_bytes):
    """The child: sends back each int plus one (each message as it came,
    with use_bytes) until None (b"stop")."""
    if use_bytes:
        recv, send = conn.recv_bytes, conn.send_bytes
        while True:
            m = recv()
            if m == b"stop":
                return
            send(m)
    recv, send = conn.recv, conn.send
    while True:
        m = recv()
        if m is None:
            return
        send(m + 1)


def pipe_pingpong(n, use_bytes):
    """N round trips over a duplex Pipe; returns (wall s, parent CPU s)."""
    a, b = mp.Pipe(duplex=True)
    p = mp.Process(target=pipe_echo, args=(b, use_bytes))
    p.start()
    b.close()
    if use_bytes:
        send, recv = a.send_bytes, a.recv_bytes
        msg = b"12345678"
        send(msg)
        recv()  # the child is up
        c0, t0 = self_cpu_s(), time.perf_counter()
        for _ in range(n):
            send(msg)
            r = recv()
        wall, cpu = time.perf_counter() - t0, self_cpu_s() - c0
        assert r == msg
        send(b"stop")
    else:
        send, recv = a.send, a.recv
        send(0)
        recv()
        c0, t0 = self_cpu_s(), time.perf_counter()
        for i in range(n):
            send(i)
            r = recv()
        wall, cpu = time.perf_counter() - t0, self_cpu_s() - c0
        assert r == n, r
        send(None)
    p.join()
    assert p.exitcode == 0, p.exitcode
    return wall, cpu


def run_pipe(n, use_bytes):
    wall, cpu = pipe_pingpong(n, use_bytes)
    emit("W12b ipc_pipe", [("impl", "mp.Pipe-" + ("send_bytes" if use_bytes else "send")),
                           ("py", platform.python_version()), ("N", n),
                           ("us_per_roundtrip", wall * 1e6 / n), ("pin", pin_tag()),
                           ("msg", "8B" if use_bytes else "int"),
                           ("roundtrips_per_s", n / wall), ("wall_s", wall), ("cpu_s", cpu),
                           ("child_cpu_s", children_cpu_s()),
                           ("peak_rss_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)])


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


MODES = {"pipe": (lambda n: run_pipe(n, False), 100_000), "pipe_bytes": (lambda n: run_pipe(n, True), 100_000),
         "value": (value_main, 1_000_000)}


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

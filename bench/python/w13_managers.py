"""W13 managers on CPython's multiprocessing.managers (start method fork),
the peer of corio's bench/w13_managers (docs/benchmarks.md).

  --mode dict    W13a: this process does N operations (default 100,000) on a
                 Manager().dict() proxy, alternating d[k] = k and d[k]
  --mode queue   W13b: a BaseManager server on 127.0.0.1 (a free port) with an
                 authkey serves a task queue and a result queue (the classic
                 distributed-queue pattern); this process puts N small tasks
                 (default 100,000), 2 worker processes connected over TCP take
                 each, square it and put (n, n*n) back; this process collects
                 them all. End to end, from the first put to the last result.
  --mode rtt     W13b latency: the same, one task at a time, N round trips
                 (default 10,000)

Process start-up is not timed. `--pin cpu0` runs every process on CPU 0.
Prints one line in the format of docs/benchmarks.md.
"""
import argparse
import multiprocessing as mp
import os
import platform
import queue
import time
from multiprocessing.managers import BaseManager

from proc_line import emit, peak_rss_kb, pin_tag, self_cpu_s

AUTHKEY = b"corio-bench-w13"

_tasks = queue.Queue()
_results = queue.Queue()


def get_task_queue():
    return _tasks


def get_result_queue():
    return _results


class QueueManager(BaseManager):
    pass


QueueManager.register("get_task_queue", callable=get_task_queue)
QueueManager.register("get_result_queue", callable=get_result_queue)


class WorkerManager(BaseManager):
    """What a worker on another host defines: the names, no callables."""


WorkerManager.register("get_task_queue")
WorkerManager.register("get_result_queue")


def proc_cpu_s(pid):
    """CPU seconds (user + sys) of process `pid` so far, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_dict(n):
    with mp.Manager() as m:
        d = m.dict()
        server = m._process.pid
        half = n // 2
        c0, s0 = self_cpu_s(), proc_cpu_s(server)
        t0 = time.perf_counter()
        s = 0
        for k in range(half):
            d[k] = k
            s += d[k]
        wall = time.perf_counter() - t0
        cpu = [("client_cpu_s", self_cpu_s() - c0), ("server_cpu_s", proc_cpu_s(server) - s0)]
        assert s == half * (half - 1) // 2 and len(d) == half
    return wall, cpu


def worker(address):
    m = WorkerManager(address=address, authkey=AUTHKEY)
    m.connect()
    tasks, results = m.get_task_queue(), m.get_result_queue()
    while True:
        t = tasks.get()
        if t < 0:
            return
        results.put((t, t * t))


def run_queue(n, rtt):
    m = QueueManager(address=("127.0.0.1", 0), authkey=AUTHKEY)
    m.start()
    try:
        tasks, results = m.get_task_queue(), m.get_result_queue()
        ws = [mp.Process(target=worker, args=(m.address,)) for _ in range(2)]
        for w in ws:
            w.start()
        tasks.put(0)
        tasks.put(0)
        results.get()
        results.get()  # both workers connected and waiting
        server = m._process.pid
        c0, s0 = self_cpu_s(), proc_cpu_s(server)
        w0 = sum(proc_cpu_s(w.pid) for w in ws)
        t0 = time.perf_counter()
        s = 0
        if rtt:
            for i in range(n):
                tasks.put(i)
                s += results.get()[1]
        else:
            for i in range(n):
                tasks.put(i)
            for _ in range(n):
                s += results.get()[1]
        wall = time.perf_counter() - t0
        cpu = [("master_cpu_s", self_cpu_s() - c0), ("server_cpu_s", proc_cpu_s(server) - s0),
               ("workers_cpu_s", sum(proc_cpu_s(w.pid) for w in ws) - w0)]
        assert s == sum(i * i for i in range(n)), s
        for _ in ws:
            tasks.put(-1)
        for w in ws:
            w.join()
            assert w.exitcode == 0, w.exitcode
    finally:
        m.shutdown()
    return wall, cpu


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("N", nargs="?", type=int, default=None)
    ap.add_argument("--mode", choices=["dict", "queue", "rtt"], default="dict")
    ap.add_argument("--pin", choices=["cpu0"], default=None, help="run every process on CPU 0")
    args = ap.parse_args()
    if args.pin:
        os.sched_setaffinity(0, {0})
    mp.set_start_method("fork")
    py = platform.python_version()
    if args.mode == "dict":
        n = args.N or 100_000
        wall, cpu = run_dict(n)
        emit("W13a manager_dict", [("impl", "mp.Manager-dict"), ("py", py), ("N", n), ("pin", pin_tag()),
                                   ("ops_per_s", n / wall), ("us_per_op", wall * 1e6 / n), ("wall_s", wall)] +
             cpu + [("peak_rss_kb", peak_rss_kb())])
    else:
        rtt = args.mode == "rtt"
        n = args.N or (10_000 if rtt else 100_000)
        wall, cpu = run_queue(n, rtt)
        figs = [("us_per_roundtrip", wall * 1e6 / n)] if rtt else [("items_per_s", n / wall),
                                                                   ("us_per_item", wall * 1e6 / n)]
        emit("W13b remote_queue_rtt" if rtt else "W13b remote_queue",
             [("impl", "mp.BaseManager-tcp"), ("py", py), ("N", n), ("pin", pin_tag()), ("workers", 2)] + figs +
             [("wall_s", wall)] + cpu + [("peak_rss_kb", peak_rss_kb())])

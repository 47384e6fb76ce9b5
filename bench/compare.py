#!/usr/bin/env python3
"""Runs corio's benchmarks (the workloads of docs/benchmarks.md: W1, W2a, W2b,
W3, W4, W7, W8a, W8b, W9, W10, W11, W12a, W12b, W12c, W14) and, in the same run,
the peers: CPython asyncio, uvloop, concurrent.futures and multiprocessing,
and the native ones (Go, Tokio, Boost.Asio, libuv, the C++ floor; for W7,
posix_spawn + waitpid, for W12a a shared-memory SPSC ring, for W12b raw
pipe(2) ping-pong, for W12c a process-shared pthread mutex and for W14 the
Redis Streams loop on plain hiredis, built here).
Prints every one-line result, then the ratios corio
vs each peer, then the project's targets.

Where the peers come from:
  - CPython asyncio (and uvloop) for W1, W2a, W3 and W7, and multiprocessing
    for W12a, W12b and W12c, and redis-py for W14 (a Python with the redis
    module: python3, else /usr/bin/python3 with python3-redis; without one
    the row is skipped): bench/python/, in this repository, so the headline
    comparison runs on any machine with python3. W7's floor
    (bench/w7_spawn_floor.cpp), W12a's (bench/w12_queue_floor.cpp), W12b's
    (bench/w12_pipe_floor.cpp) and W12c's
    (bench/w12c_value_floor.cpp) are built with corio's.
  - Everything else (the Python scripts of the other workloads and the Go,
    Tokio, Asio, libuv and C programs) lives in a checkout of the peers'
    implementations, kept beside the repository as ../shared by default
    (--shared DIR for another place; it holds bench/anchors). It is
    optional: without it those rows are skipped and corio's run alone.

Usage (from the repository root; `make bench` and `make run` call it):
  bench/compare.py --build BUILD [--shared PEERS] [--workloads W1,W3] [--reps 3]
  bench/compare.py --build BUILD [--shared PEERS] --workloads W8,W11   # W8 = W8a,W8b
  bench/compare.py --build BUILD --headline   # W1, W2a, W3 vs CPython asyncio (bench/python)

Method: everything single-threaded is pinned to CPU 0 (taskset -c 0; Go with
GOMAXPROCS=1). The multi-threaded workloads are not: W8a (2 pool threads and
the submitter) and W8b (the loop and its executor's threads) use both CPUs
(Go with GOMAXPROCS=2); W11's programs, corio's and the native peers, pin
their own threads (loop on CPU 0, poster on CPU 1), while the Python W11 runs
pinned to CPU 0 as the peers' own runner runs it. W12b and W12c (two
processes) run twice, not pinned and all on CPU 0, each program pinning
itself (--pin cpu0), with their floors in the same run. Each row
runs --reps times, in interleaved passes so that a burst of load from other
jobs hits every row alike, and the median is kept. Each raw line carries the
1-minute load average and the CPU time other processes used while it ran
(cpu0_other on CPU 0 for pinned rows, cpus_other on all CPUs for the others,
in cores), because the machine is shared. Ratios compare like with like: for
the single-threaded workloads process CPU time where both sides report it
(corio and the native peers), wall time otherwise (the Python scripts time
only wall); W3, W8a, W8b, W11, W12b and W12c always on wall time.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# Workload ids: figure name in the one-line format, whether higher is better,
# corio's program, the Python script and its N (scaled down from the
# workload's N where a full run would take minutes; figures are per item),
# and the variants: (name, corio's extra arguments, the Python script's, or
# None where the Python script has no such variant). The scripts are looked
# up in bench/python first, then in the peers' checkout.
# Optional keys: "wall": figures on wall time only (several threads, or
# sleeping); "pin": False runs corio's program and the native peers without
# taskset (multi-threaded, or pinning their own threads); "python_pin": the
# same for the Python script (default: as "pin"); "python_impl": the name of
# a Python script that uses no event loop (no uvloop row); "floor": a program
# of this repository's bench/ (and its impl name) run beside corio's as the
# workload's physical floor; "floor_variants": True runs it once per variant,
# with corio's arguments of that variant.
WORKLOADS = {
    "W1": {"name": "spawn", "fig": "tasks_per_s", "higher": True, "corio": "w1_spawn",
           "python": ("w1_spawn.py", 1_000_000), "variants": [(None, [], [])]},
    "W2a": {"name": "yield", "fig": "ns_per_yield", "higher": False, "corio": "w2a_yield",
            "python": ("w2a_yield.py", 2_000_000), "variants": [(None, [], [])]},
    "W2b": {"name": "pingpong", "fig": "ns_per_roundtrip", "higher": False, "corio": "w2b_pingpong",
            "python": ("w2b_pingpong.py", 1_000_000),
            "variants": [("future", ["--mode", "future"], ["--mode", "future"]),
                         ("event", ["--mode", "event"], ["--mode", "event"])]},
    "W3": {"name": "sleepers", "fig": "wall_s", "higher": False, "corio": "w3_sleepers",
           "python": ("w3_sleepers.py", 200_000), "variants": [(None, [], [])]},
    "W4": {"name": "queue", "fig": "items_per_s", "higher": True, "corio": "w4_queue",
           "python": ("w4_queue.py", 10_000_000),
           "variants": [("1x1", ["10000000", "1"], ["--pairs", "1"]),
                        ("4x4", ["10000000", "4"], ["--pairs", "4"])]},
    # W7 runs processes: nothing is pinned (a pinned parent pins its children).
    "W7": {"name": "subprocess", "fig": "procs_per_s", "higher": True, "corio": "w7_subprocess",
           "python": ("w7_subprocess.py", 2000), "wall": True, "pin": False,
           "floor": ("w7_spawn_floor", "floor:posix_spawn"), "variants": [(None, [], [])]},
    "W8a": {"name": "executor", "fig": "tasks_per_s", "higher": True, "corio": "w8a_executor",
            "python": ("w8a_executor.py", 250_000), "python_impl": "threadpool",
            "wall": True, "pin": False, "variants": [(None, [], [])]},
    "W8b": {"name": "to_thread", "fig": "us_per_roundtrip", "higher": False, "corio": "w8b_to_thread",
            "python": ("w8b_to_thread.py", 10_000), "wall": True, "pin": False, "variants": [(None, [], [])]},
    # W9 runs a pool of 2 worker processes: not pinned. W9b's figure is the
    # speedup of the pool over a serial run in the same program (the Python
    # peer at N = 10^8: its serial half alone takes seconds).
    "W9a": {"name": "pool_map", "fig": "items_per_s", "higher": True, "corio": "w9_pool",
            "python": ("w9_pool.py", 1_000_000), "python_impl": "mp.Pool", "wall": True, "pin": False,
            "variants": [(None, ["--mode", "map"], ["--mode", "map"])]},
    "W9b": {"name": "pool_cpu", "fig": "speedup", "higher": True, "corio": "w9_pool",
            "python": ("w9_pool.py", 100_000_000), "python_impl": "mp.Pool", "wall": True, "pin": False,
            "variants": [(None, ["--mode", "cpu"], ["--mode", "cpu"])]},
    # W10's Python script runs without an event loop and prints no wall_s; its
    # variants are the corio ones without the "corio:" prefix. The delegate
    # rows (next() through `depth` levels of yield_from) have no Python peer.
    "W10": {"name": "generator", "fig": "ns_per_send", "higher": False, "corio": "w10_generator",
            "python": ("w10_generator.py", 10_000_000), "python_impl": "cpython",
            "variants": [("generator", ["--variant", "generator"], ["--variant", "generator"]),
                         ("object", ["--variant", "object"], ["--variant", "object"]),
                         ("closure", ["--variant", "closure"], ["--variant", "closure"]),
                         ("delegate:1", ["--variant", "delegate", "--depth", "1"], None),
                         ("delegate:100", ["--variant", "delegate", "--depth", "100"], None),
                         ("delegate:10000", ["--variant", "delegate", "--depth", "10000"], None)]},
    "W11": {"name": "cross_thread", "fig": "callbacks_per_s", "higher": True, "corio": "w11_cross_thread",
            "python": ("w11_cross_thread.py", 1_000_000), "wall": True, "pin": False, "python_pin": True,
            "variants": [(None, [], [])]},
    # W12a runs two processes, not pinned: a producer and this consumer.
    "W12a": {"name": "ipc_queue", "fig": "items_per_s", "higher": True, "corio": "w12_queue",
             "python": ("w12_queue.py", 200_000), "python_impl": "mp.Queue", "wall": True, "pin": False,
             "floor": ("w12_queue_floor", "floor:spsc_ring"), "floor_variants": True,
             "variants": [("int", ["--item", "int"], ["--item", "int"]),
                          ("1KiB", ["--item", "1KiB"], ["--item", "1KiB"])]},
    # W12c runs two processes, not pinned, and again both on CPU 0 (each
    # program pins itself with --pin cpu0, so that its children follow).
    # W12b and W12c run two processes, not pinned, and again all on CPU 0
    # (each program pins itself with --pin cpu0, so that its children follow).
    "W12b": {"name": "ipc_pipe", "fig": "us_per_roundtrip", "higher": False, "corio": "w12_ipc",
             "python": ("w12_ipc.py", 100_000), "python_impl": "mp.Pipe", "wall": True, "pin": False,
             "floor": ("w12_pipe_floor", "floor:pipe"), "floor_variants": True,
             "variants": [("none", [], ["--mode", "pipe"]),
                          ("cpu0", ["--pin", "cpu0"], ["--mode", "pipe", "--pin", "cpu0"])]},
    "W12c": {"name": "ipc_value", "fig": "increments_per_s", "higher": True, "corio": "w12c_ipc_value",
             "python": ("w12_ipc.py", 1_000_000), "python_impl": "mp.Value", "wall": True, "pin": False,
             "floor": ("w12c_value_floor", "floor:pshared_mutex"), "floor_variants": True,
             "variants": [("none", [], ["--mode", "value"]),
                          ("cpu0", ["--pin", "cpu0"], ["--mode", "value", "--pin", "cpu0"])]},
    # W13 runs a manager's server and (b) two workers beside this process,
    # not pinned and again all on CPU 0 (each program pins itself with
    # --pin cpu0, so that its children follow). The round-trip rows (W13a's
    # dict operations, W13r: W13b one task at a time) have ping-pong floors:
    # AF_UNIX for the dict, TCP for the remote queue.
    "W13a": {"name": "manager_dict", "fig": "ops_per_s", "higher": True, "corio": "w13_managers",
             "python": ("w13_managers.py", 100_000), "python_impl": "mp.Manager", "wall": True, "pin": False,
             "floor": ("w13_socket_floor", "floor:unix_pingpong"), "floor_variants": True,
             "variants": [("none", ["--mode", "dict"], ["--mode", "dict"]),
                          ("cpu0", ["--mode", "dict", "--pin", "cpu0"], ["--mode", "dict", "--pin", "cpu0"])]},
    "W13b": {"name": "remote_queue", "fig": "items_per_s", "higher": True, "corio": "w13_managers",
             "python": ("w13_managers.py", 100_000), "python_impl": "mp.BaseManager", "wall": True, "pin": False,
             # pipelined-cpu0: corio's awaitable calls kept in flight (--mode
             # pipelined) against the same BaseManager run, on CPU 0.
             "variants": [("none", ["--mode", "queue"], ["--mode", "queue"]),
                          ("cpu0", ["--mode", "queue", "--pin", "cpu0"], ["--mode", "queue", "--pin", "cpu0"]),
                          ("pipelined-cpu0", ["--mode", "pipelined", "--pin", "cpu0"],
                           ["--mode", "queue", "--pin", "cpu0"])]},
    "W13r": {"name": "remote_queue_rtt", "line": "W13b remote_queue_rtt", "fig": "us_per_roundtrip", "higher": False,
             "corio": "w13_managers",
             "python": ("w13_managers.py", 10_000), "python_impl": "mp.BaseManager", "wall": True, "pin": False,
             "floor": ("w13_socket_floor", "floor:tcp_pingpong"), "floor_variants": True,
             "variants": [("none", ["--mode", "rtt"], ["--mode", "rtt"]),
                          ("cpu0", ["--mode", "rtt", "--pin", "cpu0"], ["--mode", "rtt", "--pin", "cpu0"])]},
    # W14 runs a master, 2 worker processes and its own redis-server each:
    # not pinned, on wall time; each program starts its server. The Python
    # peer needs redis-py ("python_module").
    "W14": {"name": "broker_queue", "fig": "tasks_per_s", "higher": True, "corio": "w14_broker",
            "python": ("w14_streams.py", 100_000), "python_impl": "redis-py:streams", "python_module": "redis",
            "wall": True, "pin": False, "floor": ("w14_floor", "floor:c_hiredis"), "floor_variants": True,
            "variants": [("none", [], []), ("aof_everysec", ["--aof"], ["--aof"])]},
}
ORDER = ["W1", "W2a", "W2b", "W3", "W4", "W7", "W8a", "W8b", "W9a", "W9b", "W10", "W11", "W12a", "W12b", "W12c",
         "W13a", "W13b", "W13r", "W14"]

# Native peers, from the peers' checkout (bench/anchors/native, built by its
# run_all.sh), as (impl, workload, binary relative to that folder, argument,
# is a physical floor, variant). Each prints "RESULT <wall s> <N> <cpu s>".
NATIVE = [
    ("go", "W1", "build/go_anchor", "w1", False, None),
    ("tokio", "W1", "tokio/target/release/tokio_anchor", "w1", False, None),
    ("asio", "W1", "build/asio_anchor", "w1", False, None),
    ("go", "W2a", "build/go_anchor", "w2a", False, None),
    ("tokio", "W2a", "tokio/target/release/tokio_anchor", "w2a", False, None),
    ("tokio:no_driver", "W2a", "tokio/target/release/tokio_anchor", "w2a_nodriver", False, None),
    ("asio:use_awaitable", "W2a", "build/asio_anchor", "w2a", False, None),
    ("asio:deferred", "W2a", "build/asio_anchor", "w2a_deferred", False, None),
    ("baseline:indirect_call", "W2a", "build/baseline", "call", True, None),
    ("baseline:coroutine_resume", "W2a", "build/baseline", "resume", True, None),
    ("go:unbuffered_chan", "W2b", "build/go_anchor", "w2b", False, None),
    ("tokio:Notify", "W2b", "tokio/target/release/tokio_anchor", "w2b", False, None),
    ("tokio:oneshot+mpsc", "W2b", "tokio/target/release/tokio_anchor", "w2b_oneshot", False, None),
    ("asio:channel_cap_0", "W2b", "build/asio_anchor", "w2b", False, None),
    ("asio:timer_event", "W2b", "build/asio_anchor", "w2b_timer", False, None),
    ("baseline:2_resumes", "W2b", "build/baseline", "pingpong", True, None),
    ("go", "W3", "build/go_anchor", "w3", False, None),
    ("tokio", "W3", "tokio/target/release/tokio_anchor", "w3", False, None),
    ("asio", "W3", "build/asio_anchor", "w3", False, None),
    ("libuv:timers_no_tasks", "W3", "build/uv_w3", None, True, None),
    ("go", "W4", "build/go_anchor", "w4a", False, "1x1"),
    ("tokio", "W4", "tokio/target/release/tokio_anchor", "w4a", False, "1x1"),
    ("asio", "W4", "build/asio_anchor", "w4a", False, "1x1"),
    ("asio:try_fast_path", "W4", "build/asio_anchor", "w4a_try", False, "1x1"),
    ("go", "W4", "build/go_anchor", "w4b", False, "4x4"),
    ("tokio:Mutex_Receiver", "W4", "tokio/target/release/tokio_anchor", "w4b", False, "4x4"),
    ("asio", "W4", "build/asio_anchor", "w4b", False, "4x4"),
    ("asio:try_fast_path", "W4", "build/asio_anchor", "w4b_try", False, "4x4"),
    # multi-threaded rows (not pinned; Go with GOMAXPROCS=2); W11's pin their own threads
    ("go:goroutine_per_call", "W8a", "build/go_anchor", "w8a", False, None),
    ("go:2_worker_goroutines", "W8a", "build/go_anchor", "w8a_workers", False, None),
    ("tokio:spawn_blocking", "W8a", "tokio/target/release/tokio_anchor", "w8a", False, None),
    ("tokio:multi_thread_spawn", "W8a", "tokio/target/release/tokio_anchor", "w8a_mt", False, None),
    ("asio:thread_pool_post", "W8a", "build/asio_anchor", "w8a", False, None),
    ("go:chan_func", "W11", "build/go_anchor", "w11", False, None),
    ("tokio:Handle_spawn", "W11", "tokio/target/release/tokio_anchor", "w11", False, None),
    ("tokio:unbounded_mpsc", "W11", "tokio/target/release/tokio_anchor", "w11_chan", False, None),
    ("asio:post", "W11", "build/asio_anchor", "w11", False, None),
]
NATIVE_BINARIES = sorted({row[2] for row in NATIVE})

out_lines = []  # everything that goes to the results file
GNU_TIME = None  # /usr/bin/time, set in main()


def say(s=""):
    print(s, flush=True)
    out_lines.append(s)


def note(s):
    say("# " + s)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def cpu_busy_s(which="cpu0"):
    """Seconds CPU 0 ("cpu0"), or all CPUs together ("cpu"), have been busy
    (not idle, not iowait), from /proc/stat."""
    try:
        hz = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(which + " "):
                    v = [int(x) for x in line.split()[1:]]
                    return (sum(v[:8]) - v[3] - v[4]) / hz
    except (OSError, ValueError):
        pass
    return None


# ------------------------------------------------------------------ running


class Job:
    def __init__(self, impl, wid, argv, kind, env=None, floor=False, cwd=None, variant=None, pinned=True):
        self.impl, self.wid, self.argv, self.kind, self.variant = impl, wid, argv, kind, variant
        self.env, self.floor, self.cwd = env or {}, floor, cwd
        self.pinned = pinned  # runs on CPU 0 only (else: its threads use every CPU)
        self.results = []
        self.failed = None


def run_process(argv, env, timeout, cwd=None):
    """Runs argv; returns (rc, stdout, stderr, rusage, wall s, peak RSS KiB).

    Peak RSS comes from GNU time when installed: Linux carries a process's
    peak RSS across exec, so a program started straight from this (larger)
    Python process would inherit its footprint as a floor. time forks the
    program from a small process instead, as the native peers' runner does.
    """
    e = dict(os.environ)
    e.update(env)
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as fr:
        cmd = ([GNU_TIME, "-f", "%M", "-o", fr.name] if GNU_TIME else []) + argv
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=e, cwd=cwd)
        # wait4 gives the CPU time of the child and its descendants (Popen.wait does not).
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                p.send_signal(signal.SIGKILL)
                pid, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here already
        wall = time.monotonic() - t0
        rss = ru.ru_maxrss
        if GNU_TIME:
            nums = [l.strip() for l in fr.read().splitlines() if l.strip().isdigit()]
            if nums:
                rss = int(nums[-1])
        fo.seek(0)
        fe.seek(0)
        return p.returncode, fo.read(), fe.read(), ru, wall, rss


def parse_fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[2:] if "=" in kv)


def fmt_num(v):
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 1:
        return "%.3f" % v
    return "%.6f" % v


def native_line(job, m, rss):
    """A native peer's RESULT line turned into the one-line format."""
    wall, n, cpu = float(m.group(1)), int(m.group(2)), float(m.group(3))
    w = WORKLOADS[job.wid]
    # pinned, never-blocking rows are quoted on process CPU time, W3 and the
    # multi-threaded rows (W8a, W11) on wall time (lines.py)
    secs = wall if job.wid == "W3" or w.get("wall") else cpu
    figs = {
        "W1": [("tasks_per_s", n / secs), ("ns_per_task", secs / n * 1e9)],
        "W2a": [("ns_per_yield", secs / n * 1e9)],
        "W2b": [("ns_per_roundtrip", secs / n * 1e9)],
        "W3": [],
        "W4": [("items_per_s", n / secs), ("ns_per_item", secs / n * 1e9)],
        "W8a": [("tasks_per_s", n / secs), ("ns_per_task", secs / n * 1e9)],
        "W11": [("callbacks_per_s", n / secs), ("ns_per_callback", secs / n * 1e9)],
    }[job.wid]
    fields = [("impl", job.impl), ("N", n)] + figs + [("wall_s", wall), ("cpu_s", cpu), ("peak_rss_kb", rss)]
    if job.wid in ("W1", "W3"):
        fields.append(("bytes_per_task", rss * 1024.0 / n))
    name = w["name"] + ("_" + job.variant if job.variant else "")
    parts = ["%s %s" % (job.wid, name)]
    for k, v in fields:
        parts.append("%s=%s" % (k, fmt_num(v) if isinstance(v, float) else v))
    return " ".join(parts)


def wait_quiet(max_s, which="cpu0"):
    """Waits up to max_s seconds for CPU 0 (or, with "cpu", the whole
    machine) to be nearly idle (other jobs share it)."""
    deadline = time.monotonic() + max_s
    limit = 0.1 if which == "cpu0" else 0.2
    while time.monotonic() < deadline:
        b0 = cpu_busy_s(which)
        time.sleep(0.25)
        b1 = cpu_busy_s(which)
        if b0 is None or b1 is None or (b1 - b0) / 0.25 < limit:
            return


def run_job(job, timeout, quiet_s=0.0):
    which = "cpu0" if job.pinned else "cpu"
    if quiet_s > 0:
        wait_quiet(quiet_s, which)
    b0 = cpu_busy_s(which)
    la = loadavg()
    try:
        rc, out, err, ru, wall, rss = run_process(job.argv, job.env, timeout, job.cwd)
    except OSError as ex:
        return None, "cannot start: %s" % ex
    b1 = cpu_busy_s(which)
    if rc != 0:
        tail = (out + err).strip().splitlines()[-3:]
        return None, "exit status %s%s" % (rc, (": " + " | ".join(tail)) if tail else "")
    if job.kind == "native":
        m = re.search(r"RESULT ([\d.]+) (\d+) ([\d.]+)", out)
        if not m:
            return None, "no RESULT line in its output"
        line = native_line(job, m, rss)
    else:
        # A line starts with its workload id, or with the "line" head the
        # workload names (W13r's lines are "W13b remote_queue_rtt ...").
        head = WORKLOADS[job.wid].get("line", job.wid) + " "
        cand = [l for l in out.splitlines() if l.startswith(head)]
        if not cand:
            return None, "no %s line in its output" % head.strip()
        line = cand[-1]
    other = ""
    if b0 is not None and b1 is not None and wall > 0:
        own = ru.ru_utime + ru.ru_stime
        other = " %s_other=%.2f" % ("cpu0" if job.pinned else "cpus", max(0.0, (b1 - b0 - own) / wall))
    return line + " loadavg=" + la + other, None


# ----------------------------------------------------------------- figures


def figures(line):
    """The numbers the comparison uses, from one result line."""
    f = parse_fields(line)
    n = int(float(f["N"]))
    # W10's Python script reports only ns_per_send (wall time per send)
    wall = float(f["wall_s"]) if "wall_s" in f else float(f["ns_per_send"]) * n / 1e9
    cpu = float(f["cpu_s"]) if "cpu_s" in f else None
    return {"n": n, "wall": wall, "cpu": cpu, "rss": float(f.get("peak_rss_kb", "nan")),
            "bpt": float(f["bytes_per_task"]) if "bytes_per_task" in f else None,
            "bpt_net": float(f["bytes_per_task_net"]) if "bytes_per_task_net" in f else None,
            "speedup": float(f["speedup"]) if "speedup" in f else None}


def primary(wid, fg, basis):
    """The workload's figure on a time basis ('cpu' or 'wall')."""
    secs = fg["cpu"] if basis == "cpu" and fg["cpu"] is not None else fg["wall"]
    n = fg["n"]
    if wid in ("W1", "W4", "W7", "W8a", "W9a", "W11", "W12a", "W13a", "W13b", "W14"):
        return n / secs
    if wid == "W9b":
        return fg["speedup"]  # serial / pool, within one program
    if wid == "W12c":
        return 2 * n / secs  # two processes, N increments each
    if wid in ("W2a", "W2b", "W10"):
        return secs / n * 1e9
    if wid in ("W8b", "W12b", "W13r"):
        return secs / n * 1e6  # us per round trip
    return secs  # W3: wall seconds


def wall_only(wid):
    """Workloads quoted on wall time whatever the sides report."""
    return wid == "W3" or WORKLOADS[wid].get("wall", False)


def default_basis(wid, fg):
    return "cpu" if not wall_only(wid) and fg["cpu"] is not None else "wall"


def pair_basis(wid, peer):
    """The time basis of a corio-vs-peer ratio."""
    return "cpu" if not wall_only(wid) and peer["cpu"] is not None else "wall"


def median_line(job):
    """The run whose own figure is the median of the runs (for display)."""
    if not job.results:
        return None
    ranked = sorted(job.results, key=lambda l: primary(job.wid, figures(l), default_basis(job.wid, figures(l))))
    return ranked[(len(ranked) - 1) // 2]


def med(job):
    """Per-field medians over the runs of a job (what the ratios use), or None."""
    if not job.results:
        return None
    runs = [figures(l) for l in job.results]
    out = {}
    for k in runs[0]:
        vals = [r[k] for r in runs if r[k] is not None]
        out[k] = statistics.median(vals) if vals else None
    out["n"] = runs[0]["n"]
    return out


def human(v, unit=""):
    a = abs(v)
    if a >= 1e9:
        s = "%.2fG" % (v / 1e9)
    elif a >= 1e6:
        s = "%.2fM" % (v / 1e6)
    elif a >= 1e4:
        s = "%.0fk" % (v / 1e3)
    elif a >= 100:
        s = "%.0f" % v
    elif a >= 10:
        s = "%.1f" % v
    else:
        s = "%.2f" % v
    return s + unit


def advantage(corio, peer, higher):
    """How many times better corio is (>1: corio ahead)."""
    if corio <= 0 or peer <= 0:
        return float("nan")
    return corio / peer if higher else peer / corio


def fmt_adv(x):
    if x != x:
        return "n/a"
    if x >= 100:
        return "%.0fx" % x
    if x >= 10:
        return "%.1fx" % x
    return "%.2fx" % x


def ratio_table(jobs, wids):
    say("")
    say("== ratios: corio vs each peer, medians of this run; (Nx) = how many times better corio is,")
    say("   below 1x the peer is ahead. Time basis: CPU where both sides report it, else wall;")
    say("   W3, W8a, W8b, W11, W12b and W12c (several threads or processes, or sleeping) always wall.")
    summary = {}
    for cjob in [j for j in jobs if j.kind == "corio" and j.wid in wids and j.results]:
        wid = cjob.wid
        w = WORKLOADS[wid]
        c = med(cjob)
        # Peers of the same variant; a peer without variants is in every line.
        peers = [j for j in jobs if j.wid == wid and j.kind != "corio" and j.results
                 and (j.variant is None or j.variant == cjob.variant)]
        label = wid + (" (%s)" % cjob.variant if cjob.variant else "")
        if wid == "W3":
            # Python runs W3 at a smaller N: compare wall time per sleeper.
            unit = " s"
            cells = ["corio %s (N=%s)" % (human(c["wall"], unit), human(c["n"]))]
            for j in peers:
                p = med(j)
                adv = advantage(c["wall"] / c["n"], p["wall"] / p["n"], False)
                extra = "" if p["n"] == c["n"] else " N=%s, per sleeper" % human(p["n"])
                cells.append("%s%s %s (%s%s)" % (j.impl, " [floor]" if j.floor else "", human(p["wall"], unit),
                                                  fmt_adv(adv), extra))
                summary[(wid, j.impl)] = adv
            say("%s wall_s (lower is better): %s" % (label, " | ".join(cells)))
        else:
            own = default_basis(wid, c)
            cells = ["%s %s%s" % (cjob.impl, human(primary(wid, c, own)), "" if own == "cpu" else " (wall)")]
            for j in peers:
                p = med(j)
                basis = pair_basis(wid, p)
                cv, pv = primary(wid, c, basis), primary(wid, p, basis)
                adv = advantage(cv, pv, w["higher"])
                tag = "" if basis == own else ", wall vs corio %s" % human(cv)
                cells.append("%s%s %s (%s%s)" % (j.impl, " [floor]" if j.floor else "", human(pv), fmt_adv(adv), tag))
                summary[(wid, j.impl)] = adv
            fig = "ns_per_next" if (cjob.variant or "").startswith("delegate") else w["fig"]
            say("%s %s (%s is better): %s" % (label, fig, "higher" if w["higher"] else "lower", " | ".join(cells)))
        if wid in ("W1", "W3") and c["bpt"] is not None:
            cells = ["corio %s (net %s)" % (human(c["bpt"]), human(c["bpt_net"] or 0))]
            for j in peers:
                p = med(j)
                if p["bpt"] is None:
                    continue
                # The Python scripts report growth over their start-up footprint:
                # compare it with corio's figure of the same definition.
                net = j.kind == "python"
                cv = c["bpt_net"] if net else c["bpt"]
                cells.append("%s%s %s%s (%s)" % (j.impl, " [floor]" if j.floor else "", human(p["bpt"]),
                                                 " net" if net else "", fmt_adv(advantage(cv, p["bpt"], False))))
            say("%s bytes_per_task (peak RSS / N, lower is better): %s" % (label, " | ".join(cells)))
    return summary


def targets(jobs, wids):
    """The targets of the performance issue, checked on this run's medians."""
    def get(wid, impl, variant=None):
        for j in jobs:
            if j.wid == wid and j.impl == impl and j.results and variant in (None, j.variant):
                return med(j)
        return None

    def peers(wid, kind=None):
        return [(j.impl, med(j)) for j in jobs
                if j.wid == wid and j.kind != "corio" and not j.floor and median_line(j)
                and (kind is None or j.kind == kind)]

    rows = []

    def times_ahead(wid, peer, factor, what):
        """A row: corio at least `factor` times ahead (wall) of `peer`, if it ran."""
        c, p = get(wid, "corio"), get(wid, peer)
        if c and p:
            a = advantage(primary(wid, c, "wall"), primary(wid, p, "wall"), True)
            rows.append((what, a >= factor, fmt_adv(a)))

    if "W1" in wids and get("W1", "corio"):
        c = get("W1", "corio")
        times_ahead("W1", "asyncio", 50, "W1 >= 50x CPython asyncio (wall)")
        nat = peers("W1", "native")
        if nat:
            best_impl, best = max(nat, key=lambda x: primary("W1", x[1], "cpu"))
            a = advantage(primary("W1", c, "cpu"), primary("W1", best, "cpu"), True)
            rows.append(("W1 >= 1.5x the best native peer (%s, CPU)" % best_impl, a >= 1.5, fmt_adv(a)))
        rows.append(("W1 <= 128 bytes/task", c["bpt"] <= 128, "%.0f B" % c["bpt"]))
    if "W2a" in wids and get("W2a", "corio"):
        c = get("W2a", "corio")
        b = get("W2a", "baseline:coroutine_resume")
        if b:
            x = primary("W2a", c, "cpu") / primary("W2a", b, "cpu")
            rows.append(("W2a within 5x of a bare coroutine_handle resume", x <= 5, "%.1fx the resume" % x))
        ps = peers("W2a")
        if ps:
            worst = min(advantage(primary("W2a", c, default_basis("W2a", p)), primary("W2a", p, default_basis("W2a", p)),
                                  False) for _, p in ps)
            rows.append(("W2a ahead of every peer in this run (%d)" % len(ps), worst > 1,
                         "closest: corio %s ahead" % fmt_adv(worst)))
    if "W2b" in wids and get("W2b", "corio:future"):
        c = get("W2b", "corio:future")
        v = primary("W2b", c, "cpu")
        rows.append(("W2b <= 30 ns per round trip (fresh futures)", v <= 30, "%.1f ns" % v))
    if "W2b" in wids and get("W2b", "corio:event"):
        v = primary("W2b", get("W2b", "corio:event"), "cpu")
        rows.append(("W2b <= 30 ns per round trip (events)", v <= 30, "%.1f ns" % v))
    if "W3" in wids and get("W3", "corio"):
        c = get("W3", "corio")
        full = c["n"] >= 1_000_000
        rows.append(("W3 1M sleepers within 1.2 s wall", full and c["wall"] <= 1.2,
                     "%.3f s%s" % (c["wall"], "" if full else " (N=%d, not the target size)" % c["n"])))
        rows.append(("W3 <= 256 bytes/task", c["bpt"] <= 256, "%.0f B" % c["bpt"]))

    def ahead_of(wid, names, what):
        """A row: corio ahead (wall) of every peer in `names` that ran."""
        c = get(wid, "corio")
        ps = [(n, get(wid, n)) for n in names if get(wid, n)]
        if not c or not ps:
            return
        advs = [(advantage(primary(wid, c, "wall"), primary(wid, p, "wall"), WORKLOADS[wid]["higher"]), n)
                for n, p in ps]
        worst, who = min(advs)
        missing = [n for n in names if not get(wid, n)]
        rows.append((what + ("" if not missing else " (without %s)" % ", ".join(missing)), worst > 1,
                     "closest: %s (corio %s)" % (who, fmt_adv(worst))))

    if "W7" in wids and get("W7", "corio"):
        c, f = get("W7", "corio"), get("W7", "floor:posix_spawn")
        if f:
            x = primary("W7", c, "wall") / primary("W7", f, "wall")
            rows.append(("W7 >= 0.9x the posix_spawn + waitpid floor (wall)", x >= 0.9, "%.2fx the floor" % x))
        times_ahead("W7", "asyncio", 1.5, "W7 >= 1.5x CPython asyncio (wall)")
    if "W8a" in wids and get("W8a", "corio"):
        times_ahead("W8a", "threadpool", 20, "W8a >= 20x CPython ThreadPoolExecutor (wall)")
        ahead_of("W8a", ["asio:thread_pool_post", "tokio:spawn_blocking", "tokio:multi_thread_spawn"],
                 "W8a ahead of Asio thread_pool and Tokio (spawn_blocking, multi_thread spawn)")
    if "W8b" in wids and get("W8b", "corio"):
        v = primary("W8b", get("W8b", "corio"), "wall")
        rows.append(("W8b <= 10 us per to_thread round trip (wall)", v <= 10, "%.2f us" % v))
    if "W10" in wids:
        gen, clo = get("W10", "corio:generator"), get("W10", "corio:closure")
        if gen and clo:
            x = primary("W10", gen, "cpu") / primary("W10", clo, "cpu")
            rows.append(("W10 generator within 2x of the closure variant (CPU)", x <= 2, "%.2fx the closure" % x))
        py = get("W10", "cpython", "generator")
        if gen and py:
            a = advantage(primary("W10", gen, "wall"), primary("W10", py, "wall"), False)
            rows.append(("W10 generator >= 10x CPython's generator (wall)", a >= 10, fmt_adv(a)))
        d1, dn = get("W10", "corio:delegate:1"), get("W10", "corio:delegate:10000")
        if d1 and dn:
            x = primary("W10", dn, "cpu") / primary("W10", d1, "cpu")
            rows.append(("W10 yield_from depth 10000 within 1.5x of depth 1 per element (CPU)", x <= 1.5,
                         "%.2fx" % x))
    if "W11" in wids and get("W11", "corio"):
        ahead_of("W11", ["asio:post", "tokio:Handle_spawn", "tokio:unbounded_mpsc"],
                 "W11 ahead of Asio post and Tokio (Handle::spawn, unbounded mpsc)")
    if "W9a" in wids:
        times_ahead("W9a", "mp.Pool", 20, "W9a >= 20x CPython's Pool.map (wall)")
    if "W9b" in wids and get("W9b", "corio"):
        x = primary("W9b", get("W9b", "corio"), "wall")
        rows.append(("W9b speedup >= 1.9 over serial on 2 cores", x >= 1.9, "%.2f" % x))
    if "W12a" in wids:
        for item, times in (("int", 30), ("1KiB", 15)):
            c = get("W12a", "corio:" + item)
            f, py = get("W12a", "floor:spsc_ring", item), get("W12a", "mp.Queue", item)
            if c and py:
                a = advantage(primary("W12a", c, "wall"), primary("W12a", py, "wall"), True)
                rows.append(("W12a >= %dx multiprocessing.Queue (item=%s)" % (times, item), a >= times, fmt_adv(a)))
            if c and f and item == "int":
                x = primary("W12a", c, "wall") / primary("W12a", f, "wall")
                rows.append(("W12a >= 0.3x the SPSC ring floor (item=int)", x >= 0.3, "%.2fx the floor" % x))
    for variant in ("none", "cpu0"):
        if "W12b" not in wids:
            break
        c, f = get("W12b", "corio:" + variant), get("W12b", "floor:pipe", variant)
        if c and f:
            x = primary("W12b", c, "wall") / primary("W12b", f, "wall")
            rows.append(("W12b pipe ping-pong <= 1.5x the raw pipe(2) floor (pin=%s)" % variant, x <= 1.5,
                         "%.2fx the floor (%.2f us)" % (x, primary("W12b", c, "wall"))))
    if "W12c" in wids:
        for pin in ("none", "cpu0"):
            c = get("W12c", "corio:" + pin)
            f, py = get("W12c", "floor:pshared_mutex", pin), get("W12c", "mp.Value", pin)
            if c and f:
                x = primary("W12c", c, "wall") / primary("W12c", f, "wall")
                rows.append(("W12c >= 0.5x the process-shared mutex floor (pin=%s)" % pin, x >= 0.5,
                             "%.2fx the floor" % x))
            if c and py:
                a = advantage(primary("W12c", c, "wall"), primary("W12c", py, "wall"), True)
                rows.append(("W12c >= 6.5x multiprocessing.Value (pin=%s)" % pin, a >= 6.5, fmt_adv(a)))
    for pin in ("cpu0",):
        if "W13a" in wids:
            c = get("W13a", "corio:" + pin)
            f, py = get("W13a", "floor:unix_pingpong", pin), get("W13a", "mp.Manager", pin)
            if c and f:
                x = primary("W13a", f, "wall") / primary("W13a", c, "wall")  # time per operation, corio over the floor
                rows.append(("W13a dict operation <= 1.5x the AF_UNIX ping-pong floor (pin=%s)" % pin, x <= 1.5,
                             "%.2fx the floor (%.2f us)" % (x, 1e6 / primary("W13a", c, "wall"))))
            if c and py:
                a = advantage(primary("W13a", c, "wall"), primary("W13a", py, "wall"), True)
                rows.append(("W13a >= 2.5x Manager().dict() (pin=%s)" % pin, a >= 2.5, fmt_adv(a)))
        for v, how in ((pin, "blocking calls"), ("pipelined-" + pin, "awaitable calls in flight")):
            if "W13b" not in wids:
                break
            c, py = get("W13b", "corio:" + v), get("W13b", "mp.BaseManager", v)
            if c and py:
                a = advantage(primary("W13b", c, "wall"), primary("W13b", py, "wall"), True)
                rows.append(("W13b remote queues >= 10x BaseManager, %s (pin=%s)" % (how, pin), a >= 10, fmt_adv(a)))
        if "W13r" in wids:
            c, f = get("W13r", "corio:" + pin), get("W13r", "floor:tcp_pingpong", pin)
            if c and f:
                x = primary("W13r", c, "wall") / primary("W13r", f, "wall")
                rows.append(("W13b one-task round trip <= 4x the TCP ping-pong floor (pin=%s)" % pin, x <= 4,
                             "%.2fx the floor (%.2f us)" % (x, primary("W13r", c, "wall"))))
    for variant in ("none", "aof_everysec"):
        if "W14" not in wids:
            break
        c = get("W14", "corio:" + variant)
        f, py = get("W14", "floor:c_hiredis", variant), get("W14", "redis-py:streams", variant)
        if c and f and variant == "none":
            x = primary("W14", c, "wall") / primary("W14", f, "wall")
            rows.append(("W14 >= 0.75x the C/hiredis floor", x >= 0.75, "%.2fx the floor" % x))
        if c and py and variant == "none":
            a = advantage(primary("W14", c, "wall"), primary("W14", py, "wall"), True)
            rows.append(("W14 >= 1.7x the redis-py loop", a >= 1.7, fmt_adv(a)))
        if c and variant == "aof_everysec":
            x = primary("W14", c, "wall")
            rows.append(("W14 durable (aof everysec) >= 100k tasks/s", x >= 100_000, "%.0f tasks/s" % x))
    if rows:
        say("")
        say("== targets (this run)")
        width = max(55, max(len(r[0]) for r in rows))
        for what, ok, val in rows:
            say("%-*s %-6s %s" % (width, what, "met" if ok else "MISSED", val))


# ------------------------------------------------------------------- peers


def newest_mtime(root, skip=("build", "target", "results")):
    t = 0.0
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in skip]
        for f in files:
            t = max(t, os.path.getmtime(os.path.join(d, f)))
    return t


def prepare_native(shared_native, scratch, rebuild):
    """Copies the native peers from the peers' checkout to a scratch folder
    (their runner builds in place) and builds them there. Returns the
    folder, or None with a note."""
    if not os.path.isdir(shared_native):
        note("native peers skipped: %s not found" % shared_native)
        return None
    dst = os.path.join(scratch, "native")
    # Copy sources only; earlier build outputs in the scratch copy stay, so a
    # second run does not rebuild Tokio from nothing.
    shutil.copytree(shared_native, dst, dirs_exist_ok=True, copy_function=shutil.copyfile,
                    ignore=shutil.ignore_patterns("build", "target", "results"))
    have = all(os.path.exists(os.path.join(dst, b)) for b in NATIVE_BINARIES)
    if have and not rebuild:
        built = min(os.path.getmtime(os.path.join(dst, b)) for b in NATIVE_BINARIES)
        if built >= newest_mtime(shared_native):
            note("native peers: already built in %s" % dst)
            return dst
    log = os.path.join(scratch, "native-build.log")
    note("native peers: building in %s (apt-get installs what is missing; log %s)" % (dst, log))
    with open(log, "w") as f:
        rc = subprocess.call(["bash", os.path.join(dst, "run_all.sh"), "--build-only"], stdout=f,
                             stderr=subprocess.STDOUT, cwd=dst)
    if rc != 0:
        with open(log) as f:
            tail = f.read().strip().splitlines()[-5:]
        note("native peers: build failed (exit %d); the ones that built still run. Last lines:" % rc)
        for t in tail:
            note("  " + t)
    return dst


def python_script(name, anchors):
    """The Python peer script `name`: this repository's (bench/python) if it
    has one, else the peers' checkout's (anchors/python), else None."""
    for folder in [os.path.join(HERE, "python")] + ([os.path.join(anchors, "python")] if anchors else []):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    return None


def python_with(module, py):
    """`py`, else /usr/bin/python3 (Debian's packages), if it imports `module`; None otherwise."""
    for cand in (py, "/usr/bin/python3"):
        if cand and os.access(cand, os.X_OK) and subprocess.call(
                [cand, "-c", "import " + module], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
            return cand
    return None


def uvloop_python():
    """/usr/bin/python3 if it can import uvloop (installing python3-uvloop once)."""
    py = "/usr/bin/python3"
    if not os.access(py, os.X_OK):
        note("uvloop skipped: %s not found" % py)
        return None

    def ok():
        return subprocess.call([py, "-c", "import uvloop"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL) == 0

    if ok():
        return py
    note("uvloop not importable: installing python3-uvloop")
    inst = os.path.join(REPO, "tools", "apt-install.sh")
    cmd = [inst, "python3-uvloop"] if os.access(inst, os.X_OK) else ["apt-get", "install", "-y", "python3-uvloop"]
    subprocess.call(cmd)
    if ok():
        return py
    note("uvloop skipped: python3-uvloop could not be installed")
    return None


# -------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="corio build folder (holds bench/w1_spawn ...)")
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"),
                    help="a checkout of the peers' implementations, holding bench/anchors (optional; "
                         "default: ../shared beside the repository); not used with --headline")
    ap.add_argument("--workloads", default=None,
                    help="comma-separated: W1,W2 (= W2a,W2b),W2a,W2b,W3,W4,W7,W8 (= W8a,W8b),W8a,W8b,W9 (= W9a,W9b),"
                         "W9a,W9b,W10,W11,W12 (= W12a,W12b,W12c),W12a,W12b,W12c,W13 (= W13a,W13b,W13r),W13a,W13b,W14 "
                         "(default: all of them)")
    ap.add_argument("--reps", type=int, default=None, help="runs per row, median kept (default 3)")
    ap.add_argument("--peer-reps", type=int, default=None, help="runs per peer row (default: --reps; 1 with --headline)")
    ap.add_argument("--headline", action="store_true",
                    help="W1, W2a, W3 for corio and CPython asyncio only (what `make run` shows)")
    ap.add_argument("--no-native", action="store_true", help="skip Go, Tokio, Asio, libuv, baseline")
    ap.add_argument("--no-python", action="store_true", help="skip the Python peers (asyncio, uvloop, threadpool)")
    ap.add_argument("--no-uvloop", action="store_true", help="skip uvloop")
    ap.add_argument("--rebuild-peers", action="store_true", help="rebuild the native peers even if built")
    ap.add_argument("--timeout", type=float, default=300, help="seconds before a run is killed")
    ap.add_argument("--quiet-wait", type=float, default=None,
                    help="before each run, wait up to this many seconds for CPU 0 to be idle "
                         "(default 2; 1 with --headline)")
    ap.add_argument("--output", default=None, help="results file (default BUILD/bench-results.txt)")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    if args.workloads:
        wids = []
        for w in args.workloads.replace(" ", "").split(","):
            w = re.sub(r"^(W\d+)([A-Z]?)$", lambda m: m.group(1) + m.group(2).lower(), w.upper())
            sel = {"W2": ["W2a", "W2b"], "W8": ["W8a", "W8b"], "W9": ["W9a", "W9b"],
                   "W12": ["W12a", "W12b", "W12c"], "W13": ["W13a", "W13b", "W13r"],
                   "W13b": ["W13b", "W13r"]}.get(w, [w])
            for s in sel:
                if s not in WORKLOADS:
                    ap.error("unknown workload %r (known: W1, W2, W2a, W2b, W3, W4, W7, W8, W8a, W8b, W9, W9a, W9b, W10, W11, "
                             "W12, W12a, W12b, W12c, W13, W13a, W13b (with W13r, its round trips), W14)"
                             % w)
                if s not in wids:
                    wids.append(s)
        wids.sort(key=ORDER.index)
    else:
        wids = ["W1", "W2a", "W3"] if args.headline else list(ORDER)
    reps = args.reps or 3
    quiet = args.quiet_wait if args.quiet_wait is not None else (1.0 if args.headline else 2.0)
    peer_reps = args.peer_reps or (1 if args.headline else reps)
    output = args.output or os.path.join(build, "bench-headline-results.txt" if args.headline else "bench-results.txt")

    global GNU_TIME
    GNU_TIME = find_gnu_time()
    taskset = shutil.which("taskset")
    pin = [taskset, "-c", "0"] if taskset else []

    say("# corio benchmarks vs peers, %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    note("machine: %s x %d CPUs, %s; load average now %s" % (cpu_model(), os.cpu_count() or 0, os_name(), loadavg()))
    note("workloads %s; corio runs %d, peer runs %d per row (median); pinned to CPU 0: %s"
         % (",".join(wids), reps, peer_reps, "yes" if pin else "NO (taskset missing: apt-get install util-linux)"))
    free = [w for w in wids if not WORKLOADS[w].get("pin", True)]
    if free:
        note("not pinned by this runner: %s (multi-threaded; W11's programs pin their own threads, loop on CPU 0"
             " and poster on CPU 1; the Python W11 runs on CPU 0 as its runner does)" % ",".join(free))
    note("the machine may be shared: loadavg and cpu0_other (cores other processes used on CPU 0; cpus_other: on"
         " all CPUs, for the rows not pinned) sit beside each line; each run first waits up to %.1f s for CPU 0"
         " (all CPUs for the rows not pinned) to be idle" % quiet)

    jobs = []
    for wid in wids:
        exe = os.path.join(build, "bench", WORKLOADS[wid]["corio"])
        if not os.access(exe, os.X_OK):
            sys.exit("compare.py: %s not found: build first (cmake --build %s; CORIO_BUILD_BENCH=ON)" % (exe, args.build))
        pinned = WORKLOADS[wid].get("pin", True)
        for variant, cargs, _ in WORKLOADS[wid]["variants"]:
            impl = "corio:" + variant if variant else "corio"
            jobs.append(Job(impl, wid, (pin if pinned else []) + [exe] + cargs, "corio", variant=variant,
                            pinned=pinned and bool(pin)))
        if "floor" in WORKLOADS[wid]:
            prog, impl = WORKLOADS[wid]["floor"]
            fexe = os.path.join(build, "bench", prog)
            if os.access(fexe, os.X_OK):
                per = WORKLOADS[wid]["variants"] if WORKLOADS[wid].get("floor_variants") else [(None, [], [])]
                for variant, cargs, _ in per:
                    jobs.append(Job(impl, wid, (pin if pinned else []) + [fexe] + cargs, "local", floor=True,
                                    variant=variant, pinned=pinned and bool(pin)))
            else:
                note("%s %s skipped: %s not built" % (impl, wid, fexe))

    # The peers' checkout is optional; the headline needs only bench/python.
    anchors = None
    if not args.headline:
        anchors = os.path.join(os.path.abspath(args.shared), "bench", "anchors")
        if not os.path.isdir(anchors):
            note("peers from a checkout of the peers' implementations skipped: %s not found (pass --shared DIR)."
                 " Only bench/python's CPython asyncio and uvloop rows (W1, W2a, W3) run beside corio" % anchors)
            anchors = None
    if not args.no_python:
        py = shutil.which("python3")
        if not py:
            note("asyncio skipped: no python3 on PATH")
        uv = None if (args.headline or args.no_uvloop) else uvloop_python()
        for wid in wids:
            w = WORKLOADS[wid]
            script, n = w["python"]
            path = python_script(script, anchors)
            plain = w.get("python_impl")  # no event loop: one row, no uvloop
            if not path:
                if anchors:
                    note("%s %s skipped: %s is neither in bench/python nor in %s/python"
                         % (plain or "asyncio", wid, script, anchors))
                continue
            pinned = w.get("python_pin", w.get("pin", True))
            ppin = pin if pinned else []
            wpy = py
            if py and w.get("python_module"):
                wpy = python_with(w["python_module"], py)
                if not wpy:
                    note("%s %s skipped: no python3 here imports %s (make deps installs it)"
                         % (plain or "asyncio", wid, w["python_module"]))
                    continue
            for variant, _, extra in w["variants"]:
                if extra is None:
                    continue  # no Python counterpart
                if py:
                    jobs.append(Job(plain or "asyncio", wid, ppin + [wpy, path, str(n)] + extra, "python",
                                    variant=variant, pinned=pinned and bool(pin)))
                if uv and not plain:
                    jobs.append(Job("uvloop", wid, ppin + [uv, path, str(n)] + extra + ["--uvloop"], "python",
                                    variant=variant, pinned=pinned and bool(pin)))
    if anchors and not args.no_native and any(row[1] in wids for row in NATIVE):
        scratch = os.path.join(build, "bench-peers")
        os.makedirs(scratch, exist_ok=True)
        ndir = prepare_native(os.path.join(anchors, "native"), scratch, args.rebuild_peers)
        if ndir:
            for impl, wid, binary, arg, floor, variant in NATIVE:
                if wid not in wids:
                    continue
                exe = os.path.join(ndir, binary)
                if not os.access(exe, os.X_OK):
                    note("%s %s skipped: %s was not built" % (impl, wid, binary))
                    continue
                pinned = WORKLOADS[wid].get("pin", True)
                env = {"GOMAXPROCS": "1" if pinned else "2"} if impl.startswith("go") else {}
                jobs.append(Job(impl, wid, (pin if pinned else []) + [exe] + ([arg] if arg else []), "native",
                                env, floor, variant=variant, pinned=pinned and bool(pin)))

    say("")
    say("== one line per run")
    for rep in range(max(reps, peer_reps)):
        for j in jobs:
            if j.failed or rep >= (reps if j.kind == "corio" else peer_reps):
                continue
            line, err = run_job(j, args.timeout, quiet)
            if err:
                j.failed = err
                note("%s %s could not run: %s (continuing without it)" % (j.impl, j.wid, err))
                continue
            j.results.append(line)
            say(line)

    say("")
    say("== medians (the run with the median figure; the ratios below use per-field medians)")
    for wid in wids:
        for j in jobs:
            if j.wid == wid and median_line(j):
                say(median_line(j) + " runs=%d" % len(j.results))
    ratio_table(jobs, wids)
    targets(jobs, wids)
    with open(output, "w") as f:
        f.write("\n".join(out_lines) + "\n")
    say("")
    say("# results written to %s" % output)


def find_gnu_time():
    """GNU time (Debian package `time`), installed if missing; None if unavailable."""
    t = "/usr/bin/time"
    if not os.access(t, os.X_OK):
        inst = os.path.join(REPO, "tools", "apt-install.sh")
        if os.access(inst, os.X_OK):
            subprocess.call([inst, "time"])
    if os.access(t, os.X_OK):
        return t
    note("GNU time not available: peak RSS of small runs includes this runner's footprint")
    return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return sys.platform


if __name__ == "__main__":
    main()

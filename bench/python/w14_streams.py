#!/usr/bin/env python3
"""W14 broker_queue, the redis-py peer (docs/benchmarks.md): a hand-written
Redis Streams task loop. N tasks {n: i} go from this process to 2 worker
processes through a private redis-server (a free port of 127.0.0.1, no
persistence; --aof: appendonly yes, appendfsync everysec) and their results
n*n come back. The master XADDs the tasks pipelined 100 at a time; each worker
XREADGROUPs 100 at a time in one consumer group and answers each batch with
one pipeline: an XADD of {n, r} to the results stream per task and one XACK;
the master XREADs the results (COUNT 1000) until it has N, and checks that
each n came back once with n*n. Timed from the first XADD to the last result.

  w14_streams.py [N=100000] [--aof]      (needs redis-py: python3-redis)
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from proc_line import emit, peak_rss_kb, pin_tag, self_cpu_s

TASKS, RESULTS, GROUP, STOP, READY = "w14:tasks", "w14:results", "g", "w14:stop", "w14:ready"
BATCH, WORKERS = 100, 2


def proc_cpu_s(pid):
    """User + system CPU seconds of a live process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(aof, scratch):
    """A redis-server child answering PING; the port may be taken meanwhile, so a few are tried."""
    import redis
    for _ in range(5):
        port = free_port()
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", scratch,
                "--logfile", os.path.join(scratch, "redis.log"), "--daemonize", "no", "--databases", "1",
                "--appendonly", "yes" if aof else "no"] + (["--appendfsync", "everysec"] if aof else [])
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if redis.Redis(port=port).ping():
                    return proc, port
            except redis.exceptions.ConnectionError:
                time.sleep(0.005)
        stop_process(proc)
    raise SystemExit("w14_streams: redis-server did not start (log in %s)" % scratch)


def stop_process(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker(port, name):
    import redis
    r = redis.Redis(port=port)
    r.incr(READY)
    while True:
        resp = r.xreadgroup(GROUP, name, {TASKS: ">"}, count=BATCH, block=100)
        if not resp:
            if r.exists(STOP):
                return
            continue
        entries = resp[0][1]
        p = r.pipeline(transaction=False)
        for _, f in entries:
            x = int(f[b"n"])
            p.xadd(RESULTS, {"n": x, "r": x * x})
        p.xack(TASKS, GROUP, *[eid for eid, _ in entries])
        p.execute()


def master(port, n, redis_pid, workers):
    import redis
    r = redis.Redis(port=port)
    r.xgroup_create(TASKS, GROUP, id="0", mkstream=True)
    deadline = time.monotonic() + 100
    while int(r.get(READY) or 0) < WORKERS:
        if time.monotonic() > deadline:
            raise SystemExit("w14_streams: the workers did not connect within 100 s")
        time.sleep(0.01)
    cpu0 = [proc_cpu_s(redis_pid)] + [proc_cpu_s(w.pid) for w in workers]
    m0 = self_cpu_s()
    t0 = time.perf_counter()
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.xadd(TASKS, {"n": i})
        if (i + 1) % BATCH == 0:
            p.execute()
    p.execute()
    seen = bytearray(n)
    got, right, last = 0, True, "0"
    while got < n:
        resp = r.xread({RESULTS: last}, count=1000, block=1000)
        if not resp:
            continue
        for eid, f in resp[0][1]:
            x, sq = int(f[b"n"]), int(f[b"r"])
            right = right and 0 <= x < n and not seen[x] and sq == x * x
            if 0 <= x < n:
                seen[x] = 1
            got += 1
            last = eid
    wall = time.perf_counter() - t0
    master_cpu = self_cpu_s() - m0
    cpu1 = [proc_cpu_s(redis_pid)] + [proc_cpu_s(w.pid) for w in workers]
    rss = max([peak_rss_kb()] + [proc_peak_rss_kb(w.pid) for w in workers])
    r.set(STOP, 1)
    if not (right and got == n):
        raise SystemExit("w14_streams: a result is missing, repeated or wrong")
    return wall, master_cpu, cpu1[0] - cpu0[0], sum(cpu1[1:]) - sum(cpu0[1:]), rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("N", nargs="?", type=int, default=100_000)
    ap.add_argument("--aof", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # PORT:NAME, a worker process
    args = ap.parse_args()
    if args.worker:
        port, name = args.worker.split(":")
        worker(int(port), name)
        return
    try:
        import redis  # noqa: F401
    except ImportError:
        raise SystemExit("w14_streams: redis-py is not installed (python3-redis)")
    scratch = tempfile.mkdtemp(prefix="corio-w14-")
    server, workers = None, []
    try:
        server, port = start_redis(args.aof, scratch)
        for k in range(WORKERS):
            workers.append(subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                             "%d:w%d" % (port, k)], stdin=subprocess.DEVNULL))
        wall, master_cpu, redis_cpu, workers_cpu, rss = master(port, args.N, server.pid, workers)
        for w in workers:
            w.wait(20)
    finally:
        for w in workers:
            stop_process(w)
        if server:
            stop_process(server)
        shutil.rmtree(scratch, ignore_errors=True)
    emit("W14 broker_queue", [("impl", "redis-py:streams"), ("N", args.N), ("pin", pin_tag()),
                              ("workers", WORKERS), ("durability", "aof_everysec" if args.aof else "none"),
                              ("tasks_per_s", args.N / wall), ("wall_s", wall), ("master_cpu_s", master_cpu),
                              ("workers_cpu_s", workers_cpu), ("redis_cpu_s", redis_cpu), ("peak_rss_kb", rss)])


if __name__ == "__main__":
    main()

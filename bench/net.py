#!/usr/bin/env python3
"""Network workloads (docs/benchmarks.md: W5 echo, W6 HTTP hello) and the
memory an idle connection costs, for corio beside the peers in one run.

The peers and their runners come from a checkout of the peers'
implementations, kept beside the repository as ../shared by default
(--shared DIR for another place): its bench/anchors/net holds the peers'
servers (raw C, Go, Tokio, Asio, Beast, libuv, asyncio, uvloop, aiohttp) and
run_echo.sh / run_http.sh, and its bench/tools the load generator echo_load.
It is optional: without it W5 and W6 are skipped (they need that runner and
load generator) and only the idle-connection memory is measured. The runners
do the measuring: each server pinned to CPU 0, the load (echo_load, wrk) pinned
to CPU 1, a wait for a quiet machine before each run and a retry when other
processes disturbed it. corio's servers join their run through EXTRA, so
every figure comes from the same runner in the same session. The runners
build into their own folder, so they run from a copy in BUILD/bench-peers.

The load generator saturates CPU 1 before the fast servers saturate CPU 0,
so servers are ranked by server CPU time per message or request (the
server's process time plus CPU 0's softirq time, which is where loopback TCP
work lands), as the I/O issue's targets are.

Usage (from the repository root; `make bench W=W5,W6` calls it):
  bench/net.py --build BUILD [--shared PEERS] [--workloads W5,W6] [--secs 10] [--rounds 1] [--no-idle]

W5 includes the memory an idle connection costs (bench/idle_connections,
10,000 connections on each backend) unless --no-idle.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# What the peers' servers need (Debian packages); cargo only when none is on PATH.
PEER_PKGS = ["gcc", "make", "golang-go", "librust-tokio-dev", "libboost1.81-dev", "libuv1-dev", "wrk",
             "python3-uvloop", "python3-aiohttp", "iproute2", "util-linux"]

out_lines = []


def say(s=""):
    print(s, flush=True)
    out_lines.append(s)


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def prepare(shared, scratch):
    """Copies the network peers and the load generator from the peers'
    checkout into scratch (sources only: earlier builds there are kept).
    Returns the runners' folder."""
    src = os.path.join(shared, "bench")
    for sub in ("anchors/net", "tools"):
        shutil.copytree(os.path.join(src, sub), os.path.join(scratch, sub), dirs_exist_ok=True,
                        copy_function=shutil.copyfile, ignore=shutil.ignore_patterns("build", "target", "results"))
    for script in glob.glob(os.path.join(scratch, "anchors/net/*.sh")):
        os.chmod(script, 0o755)
    return os.path.join(scratch, "anchors/net")


def build_peers(netdir):
    """Builds the peers' servers; one that does not build is replaced by a
    stub that fails, so the runner reports it as missing and goes on (its
    own make would stop the whole run)."""
    r = subprocess.run(["make", "-k", "-j2"], cwd=netdir, capture_output=True, text=True)
    bins = [b for b in ("echo_epoll", "echo_uv", "echo_asio", "echo_go", "echo_tokio",
                        "http_epoll", "http_beast", "http_go", "http_tokio")]
    missing = [b for b in bins if not os.access(os.path.join(netdir, "build", b), os.X_OK)]
    for b in missing:
        with open(os.path.join(netdir, "build", b), "w") as f:
            f.write("#!/bin/sh\necho '%s did not build (see bench-peers/net/build.log)' >&2\nexit 1\n" % b)
        os.chmod(os.path.join(netdir, "build", b), 0o755)
    with open(os.path.join(netdir, "build.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    if missing:
        say("# note: these peers did not build and are skipped: %s" % ", ".join(missing))


def install_peer_packages():
    pkgs = PEER_PKGS + ([] if shutil.which("cargo") else ["cargo"])
    rc = subprocess.call([os.path.join(REPO, "tools", "apt-install.sh")] + pkgs)
    if rc != 0:
        say("# note: some peer packages could not be installed; the runner skips servers that do not build")


def run_runner(netdir, script, extra, env_over):
    """Runs run_echo.sh or run_http.sh with corio's servers in EXTRA; returns
    the one-line results it wrote."""
    env = dict(os.environ, EXTRA=";".join("%s|%s" % e for e in extra), **env_over)
    before = set(glob.glob(os.path.join(netdir, "results", "*.lines")))
    proc = subprocess.Popen(["bash", script, "1"], cwd=netdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line.startswith(("W5 ", "W6 ")):
            continue  # collected from the lines file below
        say("  " + line if line else "")
    proc.wait()
    new = sorted(set(glob.glob(os.path.join(netdir, "results", "*.lines"))) - before)
    if proc.returncode != 0 or not new:
        say("# %s failed (exit %d)" % (script, proc.returncode))
        return []
    with open(new[-1]) as f:
        return [l.strip() for l in f if l.strip()]


def ratio_rows(lines, fig, per="conns"):
    """For each connection count: corio's best variant against the best peer
    on `fig` (lower is better), and the load-independent checks."""
    rows = []
    groups = {}
    for l in lines:
        f = fields(l)
        groups.setdefault(f.get(per), []).append(f)
    for c, fs in sorted(groups.items(), key=lambda kv: int(kv[0] or 0)):
        corio = [f for f in fs if f["impl"].startswith("corio") and num(f.get(fig)) is not None]
        peers = [f for f in fs if not f["impl"].startswith("corio") and num(f.get(fig)) is not None]
        if not corio or not peers:
            continue
        best_c = min(corio, key=lambda f: num(f[fig]))
        best_p = min(peers, key=lambda f: num(f[fig]))
        rows.append((c, best_c, best_p, num(best_c[fig]) / num(best_p[fig]), corio, peers))
    return rows


def report_w5(lines):
    say("== W5 echo: server CPU per message, corio / best peer (target <= 0.90)")
    for c, bc, bp, r, corio, peers in ratio_rows(lines, "server_us_per_msg"):
        say("conns=%s  %s %s us  vs  %s %s us  ->  %.2fx" % (c, bc["impl"], bc["server_us_per_msg"], bp["impl"],
                                                         bp["server_us_per_msg"], r))
        c_epoll = next((f for f in peers if f["impl"] == "c_epoll"), None)
        ep = next((f for f in corio if f["impl"].endswith("epoll")), None)
        if c_epoll and ep:
            say("conns=%s  corio:epoll / c_epoll = %.2fx (target <= 1.20)"
                % (c, num(ep["server_us_per_msg"]) / num(c_epoll["server_us_per_msg"])))
        mps_peer = max(num(f.get("messages_per_s")) or 0 for f in peers)
        p99_peer = min(num(f.get("p99_us")) or 1e18 for f in peers)
        for f in corio:
            say("conns=%s  %s: %s msg/s (best peer %.0f), p99 %s us (best peer %.0f), errors %s"
                % (c, f["impl"], f.get("messages_per_s"), mps_peer, f.get("p99_us"), p99_peer, f.get("errors")))


def report_w6(lines):
    say("== W6 HTTP hello: server CPU per request, corio / best peer (target <= 0.90)")
    for c, bc, bp, r, corio, peers in ratio_rows(lines, "server_us_per_req"):
        say("conns=%s  %s %s us  vs  %s %s us  ->  %.2fx" % (c, bc["impl"], bc["server_us_per_req"], bp["impl"],
                                                         bp["server_us_per_req"], r))
        rps_peer = max(num(f.get("requests_per_s")) or 0 for f in peers)
        for f in corio:
            say("conns=%s  %s: %s req/s (best peer %.0f), p99 %s us, errors %s"
                % (c, f["impl"], f.get("requests_per_s"), rps_peer, f.get("p99_us"), f.get("errors")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"),
                    help="a checkout of the peers' implementations, holding bench/anchors/net and "
                         "bench/tools (optional; default: ../shared beside the repository)")
    ap.add_argument("--workloads", default="W5,W6", help="W5 (echo, and memory per idle connection), W6")
    ap.add_argument("--no-idle", action="store_true", help="W5 without the idle-connection memory figure")
    ap.add_argument("--secs", type=int, default=10, help="measured seconds per server (the runners' SECS)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default=None, help="peers to run (the runners' ONLY), corio's rows are added")
    ap.add_argument("--output", default=None, help="results file (default BUILD/bench-net-results.txt)")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    want = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    echo_srv = os.path.join(build, "bench", "w5_echo_server")
    http_srv = os.path.join(build, "examples", "http_hello_server")
    idle = os.path.join(build, "bench", "idle_connections")
    for exe in (echo_srv, http_srv, idle):
        if not os.access(exe, os.X_OK):
            sys.exit("net.py: %s not found: build first (make bench builds it)" % exe)

    say("# corio network benchmarks vs peers, %s" % time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    netdir = None
    if "W5" in want or "W6" in want:
        anchors = os.path.join(os.path.abspath(args.shared), "bench", "anchors", "net")
        if not os.path.isdir(anchors):
            say("# W5 and W6 skipped: %s not found. They run through the peers' runners and load generator,"
                " from a checkout of the peers' implementations (pass --shared DIR)" % anchors)
            want = [w for w in want if w not in ("W5", "W6")] + (["IDLE"] if "W5" in want else [])
    if "W5" in want or "W6" in want:
        install_peer_packages()
        netdir = prepare(os.path.abspath(args.shared), os.path.join(build, "bench-peers", "net"))
        build_peers(netdir)
    env = {"SECS": str(args.secs)}
    w5 = w6 = []
    if "W5" in want:
        extra = [("corio:io_uring", "env CORIO_BACKEND=io_uring " + echo_srv),
                 ("corio:epoll", "env CORIO_BACKEND=epoll " + echo_srv)]
        e = dict(env)
        if args.only:
            e["ONLY"] = args.only + " " + " ".join(n for n, _ in extra)
        say("== W5 echo (run_echo.sh, %d s measured per server and connection count)" % args.secs)
        w5 = [l for r in range(args.rounds) for l in run_runner(netdir, "run_echo.sh", extra, e)]
    if "W6" in want:
        extra = [("corio:io_uring", "env CORIO_BACKEND=io_uring %s serve" % http_srv),
                 ("corio:epoll", "env CORIO_BACKEND=epoll %s serve" % http_srv)]
        e = dict(env)
        if args.only:
            e["ONLY"] = args.only + " " + " ".join(n for n, _ in extra)
        say("== W6 HTTP hello (run_http.sh, %d s measured per server)" % args.secs)
        w6 = [l for r in range(args.rounds) for l in run_runner(netdir, "run_http.sh", extra, e)]
    idle_lines = []
    if ("W5" in want or "IDLE" in want) and not args.no_idle:
        say("== memory per idle connection (10,000 connections, target <= 4096 bytes)")
        for backend in ("io_uring", "epoll"):
            r = subprocess.run([idle, "10000"], env=dict(os.environ, CORIO_BACKEND=backend), capture_output=True,
                               text=True, timeout=300)
            if r.returncode != 0:
                say("# idle_connections (%s) failed: %s" % (backend, r.stderr.strip()))
            idle_lines += [l for l in r.stdout.splitlines() if l.startswith("W5 idle_memory")]

    say("")
    say("== one line per result")
    for l in w5 + w6 + idle_lines:
        say(l)
    say("")
    if w5:
        report_w5(w5)
    if w6:
        report_w6(w6)
    for l in idle_lines:
        f = fields(l)
        say("%s: %s bytes per idle connection (target <= 4096)" % (f["impl"], f["bytes_per_conn"]))
    output = args.output or os.path.join(build, "bench-net-results.txt")
    with open(output, "w") as f:
        f.write("\n".join(out_lines) + "\n")
    say("")
    say("# results written to %s" % output)


if __name__ == "__main__":
    main()

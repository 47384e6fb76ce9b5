"""What the CPython asyncio benchmark scripts share: their command line, the
loop they run on, peak memory, and the one result line they print (the
format of docs/benchmarks.md, the same as corio's programs)."""
import argparse
import asyncio
import platform
import resource
import sys


def parse_args(default_n, description):
    """N (optional, first argument) and --uvloop."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("N", nargs="?", type=int, default=default_n, help="problem size (default %(default)s)")
    p.add_argument("--uvloop", action="store_true",
                   help="run on uvloop instead of asyncio's own loop (Debian: python3-uvloop)")
    args = p.parse_args()
    if args.N < 1:
        p.error("N must be at least 1")
    return args


def run(make_coro, args):
    """Runs make_coro() to completion on a new loop, asyncio's or uvloop's
    (the coroutine is made once the loop is there, so a missing uvloop
    leaves no coroutine unawaited)."""
    if not args.uvloop:
        return asyncio.run(make_coro())
    import uvloop
    if hasattr(asyncio, "Runner"):  # 3.11+
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(make_coro())
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(make_coro())


def peak_rss_kb():
    """The process's peak resident set size so far, in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def emit(head, args, n, fields):
    """Prints `<head> impl=<asyncio|uvloop> py=<version> N=<n> key=value ...`;
    numbers as corio's programs print them: no decimals from 100 up, else 3,
    or 6 below 1."""
    parts = [head, "impl=" + ("uvloop" if args.uvloop else "asyncio"), "py=" + platform.python_version(),
             "N=%d" % n]
    for key, v in fields:
        if isinstance(v, float):
            v = "%.0f" % v if abs(v) >= 100 else "%.3f" % v if abs(v) >= 1 else "%.6f" % v
        parts.append("%s=%s" % (key, v))
    print(" ".join(parts))
    sys.stdout.flush()

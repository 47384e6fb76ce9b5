"""What the CPython multiprocessing benchmark scripts share: the one result
line they print (the format of docs/benchmarks.md, the same as corio's
programs), the pin= field, and CPU times."""
import os
import resource
import sys


def fmt(v):
    """Numbers as corio's programs print them: no decimals from 100 up, else 3, or 6 below 1."""
    if isinstance(v, float):
        return "%.0f" % v if abs(v) >= 100 else "%.3f" % v if abs(v) >= 1 else "%.6f" % v
    return str(v)


def emit(head, fields):
    """Prints `<head> key=value ...`."""
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


def self_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def peak_rss_kb():
    """The process's peak resident set size so far, in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

"""What every PyTorch twin in bench/torch/ shares: the thread count afinar uses, the timing loop,
and the output format tools/bench/compare.py reads (`name<TAB>seconds_per_iter`)."""
import os
import re
import statistics
import sys
import time

import torch


def setup_threads():
    """torch.set_num_threads(AFINAR_BENCH_THREADS, default: the number of CPUs), as afinar uses."""
    torch.set_num_threads(int(os.environ.get("AFINAR_BENCH_THREADS", os.cpu_count())))


def seconds_per_iter(step, warmup=3, min_iters=10, min_seconds=0.5):
    """The median wall time of step() over at least min_iters calls and min_seconds, after warm-up."""
    for _ in range(warmup):
        step()
    times = []
    while len(times) < min_iters or sum(times) < min_seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(cases):
    """Times each (name, step) whose name matches the regex in argv[1] (default: all) and prints it."""
    setup_threads()
    pattern = re.compile(sys.argv[1] if len(sys.argv) > 1 else "")
    for name, make_step in cases:
        if pattern.search(name):
            print("%s\t%.6g" % (name, seconds_per_iter(make_step())), flush=True)

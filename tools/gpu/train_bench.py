#!/usr/bin/env python3
"""Whole-model training steps, afinar against PyTorch in one table (issue 8; shared/PERF.md).

Runs afinar_bench's TrainStep cases (bench/train_step_bench.cpp) and their PyTorch twin
(bench/torch/train_step.py) on the same machine, one after the other, and prints per row: ms per
step, img/s and peak GiB of each, and afinar's time over PyTorch's (below 1: afinar is faster).
Rows only one side has show "-" for the other.

    tools/gpu/train_bench.py                     # the GPU rows (the GPU machine; build-gpu)
    tools/gpu/train_bench.py --device cpu --build build
    PYTHON=/usr/bin/python3 tools/gpu/train_bench.py --filter resnet18

PYTHON (environment) names the interpreter with torch and torchvision (default: python3).
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
from compare import bench_env  # noqa: E402  (threads and OpenBLAS settings, as the CPU tool's)

GIB = float(1 << 30)


def run_afinar(binary, name_filter, env):
    """{name: (ms per step, img/s, peak GiB)} from the benchmark's counters."""
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_filter=" + name_filter],
                         env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    rows = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("error_occurred"):
            print("afinar: %s: %s" % (b["name"], b.get("error_message")), file=sys.stderr)
            continue
        name = re.sub(r"(/iterations:\d+)?/manual_time$", "", b["name"])
        rows[name] = (b["ms_step"], b["img_s"], b["peak_GiB"])
    return rows


def run_torch(python, name_filter, env):
    """{name: (ms per step, img/s, peak GiB or None)} from the PyTorch twin."""
    script = os.path.join(ROOT, "bench", "torch", "train_step.py")
    out = subprocess.run([python, script, name_filter, "--peak"], env=env, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    rows = {}
    for line in out.splitlines():
        name, seconds, peak = line.split("\t")
        batch = int(re.search(r"_b(\d+)", name).group(1))
        rows[name] = (float(seconds) * 1e3, batch / float(seconds),
                      None if peak == "-" else int(peak) / GIB)
    return rows


def cell(value, fmt, width):
    return ("%" + str(width) + "s") % (fmt % value if value is not None else "-")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--filter", default="", help="regex on the names, within the device's rows")
    p.add_argument("--build", default=None, help="the build directory (build-gpu; cpu: build)")
    args = p.parse_args()
    build = args.build or os.path.join(ROOT, "build-gpu" if args.device == "cuda" else "build")
    binary = os.path.join(build, "bench", "afinar_bench")
    if not os.path.exists(binary):
        sys.exit("no %s: build first (tools/gpu/run.sh, or cmake --build %s)" % (binary, build))
    # Google Benchmark's names go on with "/iterations:N/manual_time"; the script's end there.
    name_filter = "^TrainStep/.*%s.*_%s" % (args.filter, args.device)
    env = bench_env(os.cpu_count())
    afinar = run_afinar(binary, name_filter + "/", env)
    torch = run_torch(os.environ.get("PYTHON", "python3"), name_filter + "$", env)

    names = list(afinar) + [n for n in torch if n not in afinar]
    width = max([len(n) for n in names] + [4])
    print("%-*s %9s %9s %10s %10s %10s %9s %13s" % (width, "name", "afinar ms", "torch ms",
                                                  "afinar i/s", "torch i/s", "afinar GiB",
                                                  "torch GiB", "afinar/torch"))
    for n in names:
        a = afinar.get(n, (None, None, None))
        t = torch.get(n, (None, None, None))
        ratio = a[0] / t[0] if a[0] and t[0] else None
        print("%-*s %s %s %s %s %s %s %s" % (
            width, n, cell(a[0], "%.2f", 9), cell(t[0], "%.2f", 9), cell(a[1], "%.0f", 10),
            cell(t[1], "%.0f", 10), cell(a[2], "%.2f", 10), cell(t[2], "%.2f", 9),
            cell(ratio, "%.3f", 13)), flush=True)


if __name__ == "__main__":
    main()

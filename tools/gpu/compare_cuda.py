#!/usr/bin/env python3
"""afinar against PyTorch on the GPU, benchmark by benchmark (conv2d; bench/torch/conv2d_cuda.py).

Runs afinar_bench (Google Benchmark, JSON output) with a name filter and the PyTorch script with
the same filter, matches the names, and prints one row per name: afinar's and PyTorch's time per
iteration, their ratio (afinar / torch; below 1 means afinar is faster) and the TFLOP/s afinar
reports (PyTorch's is the same work over its time). Both sides use cuDNN's measured algorithm
choice and allow TF32 for convolutions (PyTorch's defaults; see the two benchmark sources).

    tools/gpu/compare_cuda.py                                 # Conv2dCudaFwdBwd, every shape
    tools/gpu/compare_cuda.py --filter 'Conv2dCuda(Fwd|Bwd)'  # a regex on the names
    PYTHON=/usr/bin/python3 tools/gpu/compare_cuda.py --build build-gpu --fail-above 1.05

PYTHON (environment) names the interpreter with torch (default: python3).
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TORCH_SCRIPT = os.path.join(ROOT, "bench", "torch", "conv2d_cuda.py")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_afinar(binary, name_filter):
    """{name: (seconds per iteration, TFLOP/s or None)} from afinar_bench's JSON."""
    cmd = [binary, "--benchmark_format=json", "--benchmark_filter=" + name_filter]
    report = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout)
    results = {}
    for b in report["benchmarks"]:
        if b.get("error_occurred"):
            print("afinar: %s: %s" % (b["name"], b.get("error_message", "error")), file=sys.stderr)
            continue
        # Iterations(1) and UseManualTime() append "/iterations:1/manual_time"; the torch script
        # prints the plain name.
        name = re.sub(r"(/iterations:\d+)?(/(real|process|manual)_time)?$", "", b["name"])
        results[name] = (b["real_time"] * UNIT_SECONDS[b["time_unit"]], b.get("TFLOP/s"))
    return results


def run_torch(python, name_filter):
    """{name: seconds per iteration} from the PyTorch script."""
    out = subprocess.run([python, TORCH_SCRIPT, name_filter], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    results = {}
    for line in out.splitlines():
        name, _, seconds = line.partition("\t")
        if seconds:
            results[name] = float(seconds)
    return results


def print_table(afinar, torch):
    names = list(afinar) + [n for n in torch if n not in afinar]
    width = max([len(n) for n in names] + [4])
    print("%-*s %10s %10s %13s %15s %14s" % (width, "name", "afinar ms", "torch ms",
                                             "afinar/torch", "afinar TFLOP/s", "torch TFLOP/s"))
    worst = 0.0
    for n in names:
        a_s, tflops = afinar.get(n, (None, None))
        t_s = torch.get(n)
        cells = ["%10.3f" % (a_s * 1e3) if a_s else "%10s" % "-",
                 "%10.3f" % (t_s * 1e3) if t_s else "%10s" % "-"]
        if a_s and t_s:
            worst = max(worst, a_s / t_s)
            cells.append("%13.3f" % (a_s / t_s))
        else:
            cells.append("%13s" % "-")
        cells.append("%15.1f" % tflops if tflops else "%15s" % "-")
        cells.append("%14.1f" % (tflops * a_s / t_s) if tflops and a_s and t_s else "%14s" % "-")
        print("%-*s %s" % (width, n, " ".join(cells)), flush=True)
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--filter", default="Conv2dCudaFwdBwd", help="regex on the benchmark names")
    p.add_argument("--build", default=os.path.join(ROOT, "build-gpu"), help="the build directory")
    p.add_argument("--fail-above", type=float, default=None,
                   help="exit with status 1 when some afinar/torch ratio is above this")
    args = p.parse_args()

    binary = os.path.join(args.build, "bench", "afinar_bench")
    if not os.path.exists(binary):
        sys.exit("no %s: build first (tools/gpu/run.sh, or cmake --build %s)" % (binary, args.build))
    python = os.environ.get("PYTHON", "python3")
    afinar = run_afinar(binary, args.filter)
    torch = run_torch(python, args.filter)
    worst = print_table(afinar, torch)
    if args.fail_above is not None and worst > args.fail_above:
        sys.exit("afinar/torch ratio %.3f is above %.3f" % (worst, args.fail_above))


if __name__ == "__main__":
    main()

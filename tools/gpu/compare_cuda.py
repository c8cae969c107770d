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
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TORCH_SCRIPT = os.path.join(ROOT, "bench", "torch", "conv2d_cuda.py")
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
from compare import parse_torch_output, print_table, run_afinar  # noqa: E402  (the CPU tool's)


def run_torch(python, name_filter):
    """{name: seconds per iteration} from the PyTorch script."""
    out = subprocess.run([python, TORCH_SCRIPT, name_filter], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return parse_torch_output(out, name_filter)


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
    afinar = run_afinar(binary, args.filter, rate="TFLOP/s")
    torch = run_torch(python, args.filter)
    worst = print_table(afinar, torch, rate="TFLOP/s", digits=3)
    if args.fail_above is not None and worst > args.fail_above:
        sys.exit("afinar/torch ratio %.3f is above %.3f" % (worst, args.fail_above))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""afinar against PyTorch on the CPU, benchmark by benchmark (see tools/bench/README.md).

Runs build/bench/afinar_bench (Google Benchmark, JSON output) and the PyTorch scripts
bench/torch/<op>.py, matches the benchmark names, and prints one row per name: afinar's and
PyTorch's time per iteration, their ratio (afinar / torch; below 1 means afinar is faster) and
the GFLOP/s afinar reports (PyTorch's is the same work over its time).

    tools/bench/compare.py                          # every benchmark that has a torch twin
    tools/bench/compare.py --filter Conv2dFwdBwd    # a regex on the benchmark names

Both sides get the same thread count (--threads, default: the number of CPUs) through
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and AFINAR_BENCH_THREADS (the torch scripts pass it to
torch.set_num_threads). Where the CPU has AVX-512, OPENBLAS_CORETYPE=SkylakeX: Debian's OpenBLAS
0.3.21 does not know newer AVX-512 CPUs and would run its AVX2 kernels.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TORCH_PYTHON = "/usr/bin/python3"  # Debian's python3-torch
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def bench_env(threads):
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               AFINAR_BENCH_THREADS=str(threads))
    with open("/proc/cpuinfo") as f:
        if re.search(r"\bavx512f\b", f.read()):
            env.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    return env


def run_afinar(binary, name_filter, repetitions=1, env=None, rate="GFLOP/s"):
    """{name: (seconds per iteration, the `rate` counter or None)} from afinar_bench's JSON.
    Shared with tools/gpu/compare_cuda.py (rate "TFLOP/s")."""
    cmd = [binary, "--benchmark_format=json", "--benchmark_filter=" + (name_filter or ".")]
    if repetitions > 1:
        cmd += ["--benchmark_repetitions=%d" % repetitions, "--benchmark_report_aggregates_only"]
    report = json.loads(subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE,
                                       text=True).stdout)
    results = {}
    for b in report["benchmarks"]:
        if b.get("error_occurred"):  # e.g. a GPU benchmark on a machine without one
            print("afinar: %s: %s" % (b["name"], b.get("error_message", "error")), file=sys.stderr)
            continue
        if repetitions > 1:
            if b.get("aggregate_name") != "median":
                continue
            name = b["run_name"]
        else:
            name = b["name"]
        # Iterations(n), UseRealTime() and UseManualTime() append "/iterations:n" and
        # "/real_time" or "/manual_time"; the torch scripts print the plain name.
        name = re.sub(r"(/iterations:\d+)?(/(real|process|manual)_time)?$", "", name)
        results[name] = (b["real_time"] * UNIT_SECONDS[b["time_unit"]], b.get(rate))
    return results


def parse_torch_output(text, name_filter=""):
    """{name: seconds per iteration} from the `name<TAB>seconds` lines a torch script prints."""
    results = {}
    for line in text.splitlines():
        name, _, seconds = line.partition("\t")
        if seconds and re.search(name_filter or "", name):
            results[name] = float(seconds)
    return results


def op_of(script):
    """bench/torch/adaptive_pool2d.py -> 'adaptivepool2d', the lower-case start of its names."""
    return os.path.splitext(os.path.basename(script))[0].replace("_", "").lower()


def run_torch(afinar_names, name_filter, env):
    """{name: seconds per iteration} from each bench/torch/<op>.py with a name afinar ran."""
    results = {}
    for script in sorted(glob.glob(os.path.join(ROOT, "bench", "torch", "*.py"))):
        if not any(n.lower().startswith(op_of(script)) for n in afinar_names):
            continue
        proc = subprocess.run([TORCH_PYTHON, script] + ([name_filter] if name_filter else []),
                              env=env, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print("warning: %s failed (status %d); its rows stay empty"
                  % (os.path.relpath(script, ROOT), proc.returncode), file=sys.stderr)
        results.update(parse_torch_output(proc.stdout, name_filter))
    return results


def print_table(afinar, torch, rate="GFLOP/s", digits=2):
    """One row per benchmark: both times, their ratio, afinar's `rate` counter and the same work
    over PyTorch's time. Returns the worst (largest) ratio."""
    names = list(afinar) + [n for n in torch if n not in afinar]
    width = max([len(n) for n in names] + [4])
    print("%-*s %11s %10s %14s %15s %14s" % (width, "name", "afinar ms", "torch ms",
                                             "afinar/torch", "afinar " + rate, "torch " + rate))
    worst = 0.0
    for n in names:
        a_s, a_rate = afinar.get(n, (None, None))
        t_s = torch.get(n)
        cells = ["%11.*f" % (digits, a_s * 1e3) if a_s else "%11s" % "-",
                 "%10.*f" % (digits, t_s * 1e3) if t_s else "%10s" % "-"]
        if a_s and t_s:
            worst = max(worst, a_s / t_s)
            cells.append("%14.*f" % (digits, a_s / t_s))
        else:
            cells.append("%14s" % "-")
        cells.append("%15.1f" % a_rate if a_rate else "%15s" % "-")
        cells.append("%14.1f" % (a_rate * a_s / t_s) if a_rate and a_s and t_s else "%14s" % "-")
        print("%-*s %s" % (width, n, " ".join(cells)), flush=True)
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--filter", default="", help="regex on the benchmark names (default: all)")
    p.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build directory")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both sides")
    p.add_argument("--repetitions", type=int, default=1,
                   help="afinar runs each benchmark this often and reports the median")
    p.add_argument("--fail-above", type=float, default=None,
                   help="exit with status 1 when some afinar/torch ratio is above this")
    args = p.parse_args()

    binary = os.path.join(args.build, "bench", "afinar_bench")
    if not os.path.exists(binary):
        sys.exit("no %s: build first (cmake --build %s)" % (binary, args.build))
    env = bench_env(args.threads)
    print("threads %d, OPENBLAS_CORETYPE=%s" % (args.threads, env.get("OPENBLAS_CORETYPE", "")),
          flush=True)
    afinar = run_afinar(binary, args.filter, args.repetitions, env)
    torch = run_torch(afinar.keys(), args.filter, env)
    worst = print_table(afinar, torch)
    if args.fail_above is not None and worst > args.fail_above:
        sys.exit("afinar/torch ratio %.2f is above %.2f" % (worst, args.fail_above))


if __name__ == "__main__":
    main()

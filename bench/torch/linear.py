"""PyTorch reference for bench/linear_bench.cpp: linear forward + backward, f32, CPU.

Prints `name<TAB>seconds_per_iter` (the median over timed iterations after a warm-up) for the
same benchmark names as afinar_bench, so tools/bench/compare.py can put them side by side:

    OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/torch/linear.py

Threads: torch.set_num_threads(2), as afinar uses on this machine. One iteration is F.linear
plus backward to x, weight and bias (gradients reset to None each time, so no accumulation).
"""
import statistics
import time

import torch
import torch.nn.functional as F

BATCH = 16
SHAPES = [
    ("LinearFwdBwd/512x1000", 512, 1000),      # ResNet18 fc
    ("LinearFwdBwd/25088x4096", 25088, 4096),  # VGG16 classifier.0
    ("LinearFwdBwd/4096x4096", 4096, 4096),    # VGG16 classifier.3
]


def seconds_per_iter(in_features, out_features, warmup=3, min_iters=10, min_seconds=1.0):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, in_features, generator=gen).requires_grad_()
    w = torch.randn(out_features, in_features, generator=gen).requires_grad_()
    b = torch.randn(out_features, generator=gen).requires_grad_()
    g = torch.randn(BATCH, out_features, generator=gen)

    def step():
        x.grad = w.grad = b.grad = None
        F.linear(x, w, b).backward(g)

    for _ in range(warmup):
        step()
    times = []
    while len(times) < min_iters or sum(times) < min_seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    torch.set_num_threads(2)
    for name, in_features, out_features in SHAPES:
        print("%s\t%.6g" % (name, seconds_per_iter(in_features, out_features)), flush=True)


if __name__ == "__main__":
    main()

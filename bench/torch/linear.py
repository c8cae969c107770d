"""PyTorch reference for bench/linear_bench.cpp: linear forward + backward, f32, CPU.

Prints `name<TAB>seconds_per_iter` (the median over timed iterations after a warm-up) for the
same benchmark names as afinar_bench, so tools/bench/compare.py can put them side by side:

    /usr/bin/python3 bench/torch/linear.py [name_regex]

Threads as afinar uses (bench/torch/timing.py). One iteration is F.linear
plus backward to x, weight and bias (gradients reset to None each time, so no accumulation).
"""
import torch
import torch.nn.functional as F

from timing import run

BATCH = 16
SHAPES = [
    ("LinearFwdBwd/512x1000", 512, 1000),      # ResNet18 fc
    ("LinearFwdBwd/25088x4096", 25088, 4096),  # VGG16 classifier.0
    ("LinearFwdBwd/4096x4096", 4096, 4096),    # VGG16 classifier.3
]


def make_step(in_features, out_features):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, in_features, generator=gen).requires_grad_()
    w = torch.randn(out_features, in_features, generator=gen).requires_grad_()
    b = torch.randn(out_features, generator=gen).requires_grad_()
    g = torch.randn(BATCH, out_features, generator=gen)

    def step():
        x.grad = w.grad = b.grad = None
        F.linear(x, w, b).backward(g)

    return step


def main():
    run([(name, lambda i=i, o=o: make_step(i, o)) for name, i, o in SHAPES])


if __name__ == "__main__":
    main()

"""PyTorch reference for the CPU rows of bench/batch_norm2d_bench.cpp: the end of a ResNet block,
relu(batch_norm(x) + r), training mode, on a [16, 64, 56, 56] float32 batch. PyTorch runs it as
three ops, so both afinar rows (fused and unfused) are compared with the same PyTorch time.

    /usr/bin/python3 bench/torch/batch_norm2d.py [name_regex]

Threads as afinar uses (bench/torch/timing.py).
"""
import torch
import torch.nn.functional as F

from timing import run

SHAPE = (16, 64, 56, 56)


def make_step():
    gen = torch.Generator().manual_seed(1)
    x, r = torch.randn(*SHAPE, generator=gen), torch.randn(*SHAPE, generator=gen)
    c = SHAPE[1]
    w, b = torch.ones(c), torch.zeros(c)
    rm, rv = torch.zeros(c), torch.ones(c)
    return lambda: F.relu(F.batch_norm(x, rm, rv, w, b, training=True) + r)


def main():
    run([("BatchNorm2dCpu/%s/16x64x56x56" % name, make_step)
         for name in ("add_relu_fwd", "unfused_add_relu_fwd")])


if __name__ == "__main__":
    main()

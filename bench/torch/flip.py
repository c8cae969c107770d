"""PyTorch reference for bench/flip_bench.cpp: torch.flip of a [64, 3, 224, 224] float32 batch on
the CPU, along W (test-time augmentation's horizontal flip), H and W, and C.

    /usr/bin/python3 bench/torch/flip.py [name_regex]

Threads as afinar uses (bench/torch/timing.py). One iteration is one torch.flip (a new output).
"""
import torch

from timing import run

CASES = [("Flip/w_64x3x224x224", [3]), ("Flip/hw_64x3x224x224", [2, 3]),
         ("Flip/c_64x3x224x224", [1])]


def make_step(dims):
    x = torch.randn(64, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    return lambda: torch.flip(x, dims)


def main():
    run([(name, lambda d=dims: make_step(d)) for name, dims in CASES])


if __name__ == "__main__":
    main()

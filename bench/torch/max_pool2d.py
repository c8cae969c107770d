"""PyTorch reference for the CPU max-pool rows of bench/pool2d_bench.cpp: ResNet's stem pool
(3x3, stride 2, padding 1) on a [16, 64, 112, 112] float32 batch, forward with indices and
backward, NCHW and channels-last (_cl).

    /usr/bin/python3 bench/torch/max_pool2d.py [name_regex]

Threads as afinar uses (bench/torch/timing.py).
"""
import torch

from timing import run

ARGS = dict(kernel_size=3, stride=2, padding=1)


def stem_input(channels_last):
    x = torch.randn(16, 64, 112, 112, generator=torch.Generator().manual_seed(1))
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def forward(channels_last):
    x = stem_input(channels_last)
    return lambda: torch.nn.functional.max_pool2d_with_indices(x, **ARGS)


def backward(channels_last):
    x = stem_input(channels_last)
    y, idx = torch.nn.functional.max_pool2d_with_indices(x, **ARGS)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
    if channels_last:
        g = g.contiguous(memory_format=torch.channels_last)
    return lambda: torch.ops.aten.max_pool2d_with_indices_backward(g, x, [3, 3], [2, 2], [1, 1],
                                                                   [1, 1], False, idx)


def main():
    run([("MaxPool2dFwd/resnet_stem", lambda: forward(False)),
         ("MaxPool2dFwd/resnet_stem_cl", lambda: forward(True)),
         ("MaxPool2dBwd/resnet_stem", lambda: backward(False)),
         ("MaxPool2dBwd/resnet_stem_cl", lambda: backward(True))])


if __name__ == "__main__":
    main()

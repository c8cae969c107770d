"""PyTorch reference for bench/conv2d_bench.cpp: conv2d on the CPU, f32, ResNet18's 3x3 layers.

Prints `name<TAB>seconds_per_iter` (the median over timed iterations after a warm-up) for the
same benchmark names as afinar_bench, so tools/bench/compare.py can put them side by side:

    /usr/bin/python3 bench/torch/conv2d.py [name_regex]

Threads as afinar uses (bench/torch/timing.py). Conv2dFwdBwd is F.conv2d plus backward to x and the weight (gradients reset to None each
time); Conv2dFwd, Conv2dBwdInput and Conv2dBwdWeight time one op each, the backward ones through
aten's convolution_backward with only that gradient asked for (PyTorch's own backward does so
when only one input requires grad); Conv2dFwdAddRelu is relu(conv2d + r) as PyTorch's three ops.
PyTorch runs these on oneDNN (mkldnn) on the CPU.
"""
import torch
import torch.nn.functional as F

from timing import run

BATCH = 16
LAYERS = [("c64_56", 64, 56), ("c128_28", 128, 28), ("c256_14", 256, 14), ("c512_7", 512, 7)]


def steps(channels, size):
    """The timed function of each pass for one layer shape."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, channels, size, size, generator=gen)
    w = torch.randn(channels, channels, 3, 3, generator=gen)
    gy = torch.randn(BATCH, channels, size, size, generator=gen)
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()

    def fwd_bwd():
        xg.grad = wg.grad = None
        F.conv2d(xg, wg, padding=1).backward(gy)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, padding=1)

    r = torch.randn(BATCH, channels, size, size, generator=gen)

    def fwd_add_relu():  # afinar's conv2d_add_relu; PyTorch's float32 CPU path runs three ops
        with torch.no_grad():
            torch.relu_(F.conv2d(x, w, padding=1) + r)

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

    return [("Conv2dFwdBwd", fwd_bwd), ("Conv2dFwd", fwd),
            ("Conv2dBwdInput", backward([True, False, False])),
            ("Conv2dBwdWeight", backward([False, True, False])), ("Conv2dFwdAddRelu", fwd_add_relu)]


def main():
    # Each case builds its tensors only when selected: (name, () -> step).
    run([("%s/%s" % (prefix, layer), lambda c=channels, z=size, p=prefix: dict(steps(c, z))[p])
         for layer, channels, size in LAYERS
         for prefix in ("Conv2dFwdBwd", "Conv2dFwd", "Conv2dBwdInput", "Conv2dBwdWeight",
                        "Conv2dFwdAddRelu")])


if __name__ == "__main__":
    main()

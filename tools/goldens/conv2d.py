"""Goldens for conv2d: torch.nn.functional.conv2d forward and its three gradients (float64).

Each case stores the inputs x, weight, (bias), a random upstream gradient gy, the output y and
the gradients gx, gw, (gb) of L = sum(gy * y), with the arguments as attributes: stride, padding,
dilation ([h, w] each) and groups. Read by Conv2d.MatchesTorchGolden (tests/ops/conv2d_test.cpp).
"""
import torch
import torch.nn.functional as F

from common import randn, seeded, write_cases

# name, x shape, weight shape, bias?, stride, padding, dilation, groups
CASES = [
    ("plain_bias", (2, 3, 7, 6), (4, 3, 3, 3), True, (1, 1), (1, 1), (1, 1), 1),
    ("dilation2", (2, 3, 9, 8), (4, 3, 3, 2), True, (1, 1), (2, 1), (2, 2), 1),
    ("groups2", (2, 4, 7, 7), (6, 2, 3, 3), False, (1, 1), (1, 1), (1, 1), 2),
    ("depthwise", (2, 4, 8, 7), (4, 1, 3, 3), True, (1, 1), (1, 1), (1, 1), 4),
    ("depthwise_multiplier2", (1, 3, 6, 6), (6, 1, 3, 3), False, (2, 2), (1, 1), (1, 1), 3),
    ("stride2_padding", (2, 3, 9, 10), (5, 3, 3, 3), True, (2, 2), (1, 1), (1, 1), 1),
    ("asymmetric", (2, 3, 10, 9), (4, 3, 3, 2), True, (2, 1), (0, 1), (1, 2), 1),
    ("stem_7x7_stride2", (1, 3, 16, 15), (4, 3, 7, 7), False, (2, 2), (3, 3), (1, 1), 1),
    ("pointwise_1x1", (3, 5, 4, 3), (7, 5, 1, 1), True, (1, 1), (0, 0), (1, 1), 1),
]


def make_case(gen, name, xs, ws, has_bias, stride, padding, dilation, groups):
    x = randn(xs, gen).requires_grad_()
    w = randn(ws, gen).requires_grad_()
    b = randn((ws[0],), gen).requires_grad_() if has_bias else None
    y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    gy = randn(y.shape, gen)
    y.backward(gy)
    tensors = {"x": x, "weight": w, "gy": gy, "y": y, "gx": x.grad, "gw": w.grad}
    if has_bias:
        tensors.update({"bias": b, "gb": b.grad})
    attrs = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation),
             "groups": groups}
    return name, tensors, attrs


def main():
    gen = seeded(20240602)
    write_cases("conv2d", [make_case(gen, *c) for c in CASES])


if __name__ == "__main__":
    main()

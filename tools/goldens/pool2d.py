"""Goldens for max_pool2d and avg_pool2d (tests/data/goldens/pool2d.h5).

Cases named max_* / avg_*: x, y, (indices), upstream gradient g and gx = dL/dx of L = sum(g * y).
They cover the subtle parts of PyTorch's semantics: ceil_mode where the last window is kept and
where it is dropped (it would start in the right padding), dilation, padding, stride != kernel,
and avg_pool2d's divisor in every combination of ceil_mode x count_include_pad x padding, plus
divisor_override. Attributes hold the arguments (stride always explicit). Case output_sizes holds
PyTorch's output size for every small admissible geometry (pooling_output_shape).
"""
import math

import torch
import torch.nn.functional as F

from common import randn, seeded, write_cases


def raw_ceil_size(n, k, s, p, d):
    """Output size by the ceil formula before PyTorch's 'last window starts inside' rule."""
    return math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1


def run(fn, x, gen):
    x = x.clone().requires_grad_(True)
    out = fn(x)
    y = out[0] if isinstance(out, tuple) else out
    g = randn(y.shape, gen, y.dtype)
    (gx,) = torch.autograd.grad(y, x, g)
    return x, out, g, gx


def max_case(name, shape, gen, k, s, p=(0, 0), d=(1, 1), ceil=False, dtype=torch.float64):
    x = randn(shape, gen, dtype)
    fn = lambda t: F.max_pool2d(t, k, s, p, d, ceil_mode=ceil, return_indices=True)
    x, (y, idx), g, gx = run(fn, x, gen)
    attrs = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
    return ("max_" + name, dict(x=x, y=y, indices=idx, g=g, gx=gx), attrs)


def avg_case(name, shape, gen, k, s, p=(0, 0), ceil=False, include_pad=True, divisor=0,
             dtype=torch.float64):
    x = randn(shape, gen, dtype)
    fn = lambda t: F.avg_pool2d(t, k, s, p, ceil_mode=ceil, count_include_pad=include_pad,
                                divisor_override=divisor or None)
    x, y, g, gx = run(fn, x, gen)
    attrs = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=include_pad,
                 divisor_override=divisor)
    return ("avg_" + name, dict(x=x, y=y, g=g, gx=gx), attrs)


def output_size_table():
    """Rows (H, k, s, p, d, ceil_mode, P) with P from running max_pool2d, 0 where PyTorch rejects
    the input as too small: every admissible geometry of small sizes."""
    rows = []
    for h in range(1, 10):
        for k in range(1, 5):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    for d in range(1, 4):
                        for ceil in (0, 1):
                            x = torch.zeros(1, 1, h, 1)
                            try:
                                out = F.max_pool2d(x, (k, 1), (s, 1), (p, 0), (d, 1), bool(ceil))
                                size = out.shape[2]
                            except RuntimeError as e:
                                assert "too small" in str(e), e
                                size = 0
                            rows.append([h, k, s, p, d, ceil, size])
    return ("output_sizes", dict(table=torch.tensor(rows, dtype=torch.int32)), {})


def main():
    gen = seeded(2024)
    cases = [
        max_case("plain", (2, 3, 6, 6), gen, (2, 2), (2, 2)),
        # ResNet's stem pool: overlapping windows (stride < kernel) with padding.
        max_case("k3_s2_p1", (2, 2, 7, 9), gen, (3, 3), (2, 2), (1, 1)),
        # H = 5, k = 2, s = 2: ceil_mode adds a last window holding row 4 only (kept).
        max_case("ceil_kept", (1, 2, 5, 7), gen, (2, 2), (2, 2), ceil=True),
        # H = 5, k = 3, s = 3, p = 1: ceil would add a window starting at 5 = H + p (dropped).
        max_case("ceil_dropped", (1, 2, 5, 5), gen, (3, 3), (3, 3), (1, 1), ceil=True),
        max_case("dilation2_p1", (2, 2, 8, 7), gen, (3, 3), (1, 1), (1, 1), (2, 2)),
        max_case("dilation2_ceil", (1, 3, 9, 8), gen, (2, 3), (2, 2), (1, 1), (2, 2), ceil=True),
        max_case("nonsquare", (2, 2, 6, 9), gen, (2, 3), (1, 2), (1, 1), ceil=True),
        max_case("f32", (2, 3, 7, 7), gen, (3, 3), (2, 2), (1, 1), dtype=torch.float32),
    ]
    # The ceil_mode cases must exercise the rule they are named for.
    assert raw_ceil_size(5, 2, 2, 0, 1) == 3 == cases[2][1]["y"].shape[2]
    assert raw_ceil_size(5, 3, 3, 1, 1) == 3 and cases[3][1]["y"].shape[2] == 2

    # k = 3, s = 2 on H = 6, W = 7: with ceil_mode the last windows are cut by H + p or by H.
    for ceil in (False, True):
        for include_pad in (True, False):
            for p in (0, 1):
                name = "ceil%d_pad%d_include%d" % (ceil, p, include_pad)
                cases.append(avg_case(name, (2, 2, 6, 7), gen, (3, 3), (2, 2), (p, p), ceil,
                                      include_pad))
    cases += [
        avg_case("divisor_override", (1, 2, 6, 7), gen, (3, 3), (2, 2), (1, 1), True, True, 5),
        avg_case("nonsquare", (2, 2, 5, 9), gen, (2, 4), (1, 3), (1, 2), True, False),
        avg_case("f32", (2, 3, 8, 8), gen, (3, 3), (2, 2), (1, 1), dtype=torch.float32),
    ]
    cases.append(output_size_table())
    write_cases("pool2d", cases)


if __name__ == "__main__":
    main()

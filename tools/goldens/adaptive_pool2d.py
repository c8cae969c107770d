"""Goldens for adaptive_avg_pool2d and adaptive_max_pool2d (tests/data/goldens/adaptive_pool2d.h5).

Each case pools one input x to output_size with both ops: avg_y, avg_gx, max_y, max_indices,
max_gx, with g the upstream gradient (gx = dL/dx of L = sum(g * y)). Sizes that do not divide
(7->3, 10->4), upsampling (5->7), a 1xN input, non-square outputs, global pooling and identity.
"""
import torch
import torch.nn.functional as F

from common import randn, seeded, write_cases


def case(name, shape, output_size, gen, dtype=torch.float64):
    x = randn(shape, gen, dtype).requires_grad_(True)
    avg = F.adaptive_avg_pool2d(x, output_size)
    mx, idx = F.adaptive_max_pool2d(x, output_size, return_indices=True)
    g = randn(avg.shape, gen, dtype)
    (avg_gx,) = torch.autograd.grad(avg, x, g)
    (max_gx,) = torch.autograd.grad(mx, x, g)
    tensors = dict(x=x, g=g, avg_y=avg, avg_gx=avg_gx, max_y=mx, max_indices=idx, max_gx=max_gx)
    return (name, tensors, dict(output_size=output_size))


def main():
    gen = seeded(7)
    cases = [
        case("7to3", (2, 3, 7, 7), (3, 3), gen),
        case("10to4", (2, 2, 10, 10), (4, 4), gen),
        case("5to7_upsample", (1, 2, 5, 5), (7, 7), gen),
        case("1xN", (2, 2, 1, 11), (1, 4), gen),
        case("nonsquare_2x5", (2, 2, 6, 8), (2, 5), gen),
        case("mixed_7x10_to_3x4", (1, 3, 7, 10), (3, 4), gen),
        case("global", (2, 4, 5, 6), (1, 1), gen),
        case("identity", (1, 2, 4, 5), (4, 5), gen),
        case("f32_10to4", (2, 3, 10, 9), (4, 4), gen, torch.float32),
    ]
    write_cases("adaptive_pool2d", cases)


if __name__ == "__main__":
    main()

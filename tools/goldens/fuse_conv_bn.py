"""Goldens for nn::fuse_conv_bn_weights: torch.nn.utils.fusion.fuse_conv_bn_weights on float32
tensors (the folding is elementwise, so afinar must give the same bits).

Datasets: conv_w [K, C, R, S], conv_b [K] (cases with a conv bias), running_mean, running_var,
bn_w, bn_b [K] (cases with affine batch norm); fused_w, fused_b (the results). Attributes: eps.
The running variances span tiny to large values, so rsqrt(var + eps) is exercised where eps
matters and where it does not.
"""
import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights

from common import seeded, write_cases


def make_case(name, k, c, gen, conv_bias, affine, eps):
    f32 = torch.float32
    t = {"conv_w": torch.randn(k, c, 3, 3, generator=gen, dtype=f32)}
    if conv_bias:
        t["conv_b"] = torch.randn(k, generator=gen, dtype=f32)
    t["running_mean"] = torch.randn(k, generator=gen, dtype=f32)
    exponents = torch.linspace(-8, 3, k, dtype=f32)
    t["running_var"] = torch.rand(k, generator=gen, dtype=f32) * torch.pow(10.0, exponents)
    if affine:
        t["bn_w"] = torch.randn(k, generator=gen, dtype=f32)
        t["bn_b"] = torch.randn(k, generator=gen, dtype=f32)
    w, b = fuse_conv_bn_weights(t["conv_w"], t.get("conv_b"), t["running_mean"],
                                t["running_var"], eps, t.get("bn_w"), t.get("bn_b"))
    t["fused_w"] = w.detach()
    t["fused_b"] = b.detach()
    return name, t, {"eps": eps}


def main():
    gen = seeded(77)
    cases = [
        make_case("bias_affine", 12, 5, gen, True, True, 1e-5),
        make_case("no_bias_affine", 9, 4, gen, False, True, 1e-5),
        make_case("bias_no_affine", 7, 3, gen, True, False, 1e-3),
        make_case("no_bias_no_affine_eps_0_1", 17, 2, gen, False, False, 0.1),
    ]
    write_cases("fuse_conv_bn", cases)


if __name__ == "__main__":
    main()

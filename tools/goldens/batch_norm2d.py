"""Goldens for batch_norm2d: torch.nn.BatchNorm2d run for several steps on float64 inputs.

Each case is a sequence of `steps` forward + backward passes through one module, so the running
statistics accumulate as in training. Datasets (k = step index):
  weight, bias                          the affine parameters (affine cases only)
  running_mean_init, running_var_init   the running statistics before step 0 (tracking cases)
  x_k, g_k                              input and upstream gradient of step k
  y_k, gx_k, gw_k, gb_k                 output and gradients of step k (gw/gb: affine cases)
  running_mean_k, running_var_k         running statistics after step k (tracking cases)
Attributes: training, momentum (-1 stands for momentum=None, the cumulative moving average:
the module uses the factor 1/num_batches_tracked = 1/(k+1) at step k), eps, steps, affine, track.
"""
import torch

from common import randn, seeded, write_cases


def make_case(name, shape, gen, training=True, momentum=0.1, eps=1e-5, steps=3, affine=True,
              track=True):
    c = shape[1]
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum, affine=affine,
                              track_running_stats=track).double()
    tensors = {}
    with torch.no_grad():
        if affine:
            bn.weight.copy_(1 + 0.5 * randn([c], gen))
            bn.bias.copy_(randn([c], gen))
            tensors["weight"] = bn.weight.clone()
            tensors["bias"] = bn.bias.clone()
        if track:
            bn.running_mean.copy_(randn([c], gen))
            bn.running_var.copy_(0.5 + torch.rand(c, generator=gen, dtype=torch.float64))
            tensors["running_mean_init"] = bn.running_mean.clone()
            tensors["running_var_init"] = bn.running_var.clone()
    bn.train(training)
    for k in range(steps):
        # Per-channel offsets and scales, so the statistics are far from 0 and 1.
        offset = 3 * randn([1, c, 1, 1], gen)
        scale = 0.5 + torch.rand(1, c, 1, 1, generator=gen, dtype=torch.float64) * 2
        x = (randn(shape, gen) * scale + offset).requires_grad_(True)
        g = randn(shape, gen)
        bn.zero_grad(set_to_none=True)
        y = bn(x)
        y.backward(g)
        tensors.update({"x_%d" % k: x, "g_%d" % k: g, "y_%d" % k: y, "gx_%d" % k: x.grad})
        if affine:
            tensors["gw_%d" % k] = bn.weight.grad
            tensors["gb_%d" % k] = bn.bias.grad
        if track:
            tensors["running_mean_%d" % k] = bn.running_mean.clone()
            tensors["running_var_%d" % k] = bn.running_var.clone()
    attrs = {"training": training, "momentum": -1.0 if momentum is None else momentum,
             "eps": eps, "steps": steps, "affine": affine, "track": track}
    return name, tensors, attrs


def main():
    gen = seeded(2024)
    cases = [
        make_case("train_momentum_default", [4, 3, 5, 5], gen),
        make_case("train_momentum_0.3_eps_1e-3", [2, 4, 3, 5], gen, momentum=0.3, eps=1e-3),
        make_case("train_momentum_none", [3, 2, 4, 4], gen, momentum=None),
        # N = 1: the statistics run over H·W = 4 values, so the unbiased factor 4/3 is large.
        make_case("train_single_sample", [1, 3, 2, 2], gen),
        make_case("train_no_affine_no_stats", [3, 4, 2, 3], gen, affine=False, track=False,
                  steps=2),
        make_case("eval", [2, 3, 4, 5], gen, training=False, steps=1),
        make_case("eval_no_affine", [2, 3, 3, 3], gen, training=False, steps=1, affine=False),
    ]
    write_cases("batch_norm2d", cases)


if __name__ == "__main__":
    main()

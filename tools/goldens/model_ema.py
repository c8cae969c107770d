"""Goldens for train::ModelEma: timm's ModelEmaV3 update over a model whose state moves each step.

The model is nn.Sequential(nn.Linear(4, 3), nn.BatchNorm2d(3)) in float32: weights, biases,
running statistics and the int64 num_batches_tracked. Its state starts random (m0, which the
average copies) and takes a random step before each update s = 1..STEPS (m<s>), the counter
growing by one; the average after update s is ema<s>. The update is timm's ModelEmaV3.update(model,
step=s) with update_after_step 0, written out here (timm is not a dependency): torch.lerp_ of each
floating tensor with weight 1 - decay_s, a copy of the integer ones.
"""
import torch

from common import seeded, write_cases

STEPS = 6


def decay_at(step, decay, warmup):
    """timm ModelEmaV3.get_decay(step): warmup_gamma 1, warmup_power 2/3, min_decay 0."""
    t = max(0, step - 1)
    if t <= 0:
        return 0.0
    if warmup:
        return max(min(1 - (1 + t) ** (-2 / 3), decay), 0.0)
    return decay


def run(name, decay, warmup):
    gen = seeded(sum(map(ord, name)))
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm2d(3))
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    ema = {k: v.clone() for k, v in model.state_dict().items()}
    tensors = {}
    for k, v in model.state_dict().items():
        tensors["m0." + k] = v.clone()
    for s in range(1, STEPS + 1):
        with torch.no_grad():
            for t in model.state_dict().values():
                if t.is_floating_point():
                    t.add_(0.1 * torch.randn(t.shape, generator=gen))
                else:
                    t.add_(1)
        weight = 1.0 - decay_at(s, decay, warmup)
        for k, m in model.state_dict().items():
            if ema[k].is_floating_point():
                ema[k].lerp_(m, weight)
            else:
                ema[k].copy_(m)
            tensors["m%d.%s" % (s, k)] = m.clone()
            tensors["ema%d.%s" % (s, k)] = ema[k].clone()
    return (name, tensors, {"decay": decay, "warmup": warmup, "steps": STEPS})


cases = [
    run("decay_0.9", 0.9, False),
    run("decay_0.3", 0.3, False),  # weight 0.7: torch.lerp's second form
    run("warmup_0.999", 0.999, True),  # weights 0.63, 0.48, ...: both forms
]

if __name__ == "__main__":
    write_cases("model_ema", cases)

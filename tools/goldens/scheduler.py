"""Goldens for the learning-rate schedulers: the lr of each of two parameter groups (base lrs 0.1
and 0.01) after construction and after each of 40 steps, from torch.optim.lr_scheduler (and the
momentum / beta1 that OneCycleLR cycles). The scheduler settings are written out again in
tests/optim/scheduler_test.cpp, keyed by the case name.
"""
import math

import torch
from torch.optim import lr_scheduler as S

from common import write_cases

STEPS = 40


def opt_for(kind):
    p = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    groups = [dict(params=[p[0]], lr=0.1), dict(params=[p[1]], lr=0.01)]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    return torch.optim.Adam(groups, lr=0.1)


def run(name, make, kind="sgd", metrics=None):
    opt = opt_for(kind)
    sched = make(opt)
    lrs, moms = [], []
    for s in range(STEPS + 1):
        if s > 0:
            opt.step()
            if metrics is None:
                sched.step()
            else:
                sched.step(metrics[s - 1])
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append([g["momentum"] if kind == "sgd" else g["betas"][0] for g in opt.param_groups])
    tensors = {"lr": torch.tensor(lrs, dtype=torch.float64),
               "momentum": torch.tensor(moms, dtype=torch.float64)}
    if metrics is not None:
        tensors["metrics"] = torch.tensor(metrics, dtype=torch.float64)
    return (name, tensors, {"steps": STEPS})


# A validation loss that improves, stalls, improves a little (below threshold), then stalls.
plateau = [1.0 / (1 + s) if s < 8 else 0.111 - 1e-6 * (s - 8) if s < 20 else 0.05
           for s in range(STEPS)]

# A validation accuracy that rises, creeps up by less than the absolute threshold, then drops.
accuracy = [0.1 + 0.05 * s if s < 8 else 0.45 + 0.002 * (s - 8) if s < 20 else 0.3
            for s in range(STEPS)]

cases = [
    run("step", lambda o: S.StepLR(o, step_size=7, gamma=0.1)),
    run("multistep", lambda o: S.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.5)),
    run("exponential", lambda o: S.ExponentialLR(o, gamma=0.9)),
    run("cosine", lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=1e-4)),
    run("cosine_restarts", lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2,
                                                                   eta_min=1e-3)),
    run("linear_warmup", lambda o: S.LinearLR(o, start_factor=0.1, end_factor=1.0,
                                              total_iters=6)),
    run("constant_warmup", lambda o: S.ConstantLR(o, factor=0.5, total_iters=6)),
    run("constant_warmup_then_step", lambda o: S.SequentialLR(
        o, [S.ConstantLR(o, factor=0.1, total_iters=3),
            S.StepLR(o, step_size=7, gamma=0.5)], milestones=[3])),
    run("warmup_then_cosine", lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.01, total_iters=5),
            S.CosineAnnealingLR(o, T_max=35)], milestones=[5])),
    run("polynomial", lambda o: S.PolynomialLR(o)),
    run("polynomial_squared", lambda o: S.PolynomialLR(o, total_iters=30, power=2.0)),
    run("warmup_then_polynomial", lambda o: S.SequentialLR(
        o, [S.LinearLR(o, start_factor=0.1, total_iters=4),
            S.PolynomialLR(o, total_iters=20, power=0.9)], milestones=[4])),
    run("onecycle", lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.1], total_steps=STEPS + 1)),
    run("onecycle_adam_linear", lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=STEPS + 1,
                                                       pct_start=0.25, anneal_strategy="linear",
                                                       div_factor=10, final_div_factor=100),
        kind="adam"),
    run("onecycle_three_phase", lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.1],
                                                       total_steps=STEPS + 1, pct_start=0.2,
                                                       three_phase=True)),
    run("plateau", lambda o: S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=3,
                                                 threshold=1e-3, cooldown=2, min_lr=[1e-3, 1e-4]),
        metrics=plateau),
    run("plateau_max_abs", lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=2,
                                                         threshold=0.01, threshold_mode="abs",
                                                         cooldown=1, min_lr=1e-4),
        metrics=accuracy),
]

write_cases("scheduler", cases)

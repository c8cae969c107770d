"""Goldens for the optimizers: 10-step trajectories of torch.optim.SGD / Adam / AdamW / RMSprop.

Each case has parameters p0..p3 (float64), the gradient each one receives at each step
(g{i}_{s}; absent when the parameter gets no gradient that step, as a frozen or unused one) and
the parameter after each step (p{i}_after_{s}). The optimizer settings of each case are written
out again in tests/optim/optimizer_test.cpp (kCases), keyed by the case name.
"""
import torch

from common import randn, seeded, write_cases

STEPS = 10
SHAPES = [(3, 4), (5,), (2, 2), (7,)]


def run(name, make, has_grad=lambda i, s: True, frozen=()):
    gen = seeded(sum(map(ord, name)))
    params = [randn(s, gen).requires_grad_(i not in frozen) for i, s in enumerate(SHAPES)]
    tensors = {"p%d_init" % i: p.detach().clone() for i, p in enumerate(params)}
    opt = make(params)
    for s in range(STEPS):
        opt.zero_grad(set_to_none=True)
        for i, p in enumerate(params):
            g = randn(p.shape, gen)
            if i in frozen or not has_grad(i, s):
                continue
            p.grad = g
            tensors["g%d_%d" % (i, s)] = g
        opt.step()
        for i, p in enumerate(params):
            tensors["p%d_after_%d" % (i, s)] = p.detach().clone()
    return (name, tensors, {"steps": STEPS, "params": len(params)})


def groups(params, *opts):
    """Parameters 0 and 1 in the first group, 2 and 3 in the second."""
    return [dict(params=params[:2], **opts[0]), dict(params=params[2:], **opts[1])]


late = lambda i, s: i != 3 or s >= 4  # p3 gets its first gradient at step 4
skip = lambda i, s: i != 1 or s % 3 != 1  # p1 gets none at steps 1, 4, 7

cases = [
    run("sgd", lambda p: torch.optim.SGD(p, lr=0.1)),
    run("sgd_momentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1,
                                                   weight_decay=1e-2), has_grad=skip),
    run("sgd_nesterov", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True,
                                                   weight_decay=1e-3), has_grad=late),
    run("sgd_maximize", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.5, maximize=True)),
    run("sgd_groups", lambda p: torch.optim.SGD(
        groups(p, dict(lr=0.1), dict(lr=0.01, weight_decay=0.1)), lr=0.5, momentum=0.9),
        frozen=(2,)),
    run("adam", lambda p: torch.optim.Adam(p, lr=1e-2), has_grad=late),
    run("adam_wd_amsgrad", lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.8, 0.99), eps=1e-6,
                                                      weight_decay=1e-2, amsgrad=True),
        has_grad=skip),
    run("adamw", lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1)),
    run("adamw_amsgrad_groups", lambda p: torch.optim.AdamW(
        groups(p, dict(lr=3e-3), dict(weight_decay=0.0, betas=(0.5, 0.9))), lr=1e-2,
        amsgrad=True), frozen=(1,), has_grad=late),
    run("rmsprop", lambda p: torch.optim.RMSprop(p), has_grad=late),
    run("rmsprop_centered_momentum", lambda p: torch.optim.RMSprop(
        p, lr=1e-3, alpha=0.9, eps=1e-3, weight_decay=1e-2, momentum=0.9, centered=True),
        has_grad=skip),
    run("rmsprop_groups", lambda p: torch.optim.RMSprop(
        groups(p, dict(momentum=0.5, maximize=True), dict(lr=3e-3, alpha=0.5, centered=True)),
        lr=1e-2, eps=0.0316), frozen=(2,), has_grad=late),
]

write_cases("optim", cases)

"""PyTorch reference for bench/optimizer_update_bench.cpp: one torch.optim step over ResNet18's
parameter shapes (62 tensors, 11.7M floats), f32, CPU, every parameter with a gradient.

    /usr/bin/python3 bench/torch/optimizer_update.py [name_regex]
"""
import torch
import torchvision

from timing import run


def make_step(make_optimizer):
    params = [torch.randn(p.shape).requires_grad_() for p in torchvision.models.resnet18().parameters()]
    for p in params:
        p.grad = torch.randn(p.shape)
    opt = make_optimizer(params)
    opt.step()  # creates the state, as the afinar benchmark does before timing
    return opt.step


def main():
    run([
        ("OptimizerUpdate/sgd_momentum",
         lambda: make_step(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9))),
        ("OptimizerUpdate/adam", lambda: make_step(lambda p: torch.optim.Adam(p))),
        ("OptimizerUpdate/rmsprop", lambda: make_step(lambda p: torch.optim.RMSprop(p))),
    ])


if __name__ == "__main__":
    main()

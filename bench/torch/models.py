"""PyTorch reference for bench/models_bench.cpp: eval-mode forward of torchvision's resnet18, vgg16
and resnext50_32x4d on the CPU, batch 8 of 224x224, f32, under torch.no_grad() (torchvision 0.14 from Debian).

Prints `name<TAB>seconds_per_iter` with the same names as afinar_bench, so tools/bench/compare.py
can put them side by side:

    /usr/bin/python3 bench/torch/models.py [name_regex]

Threads as afinar uses (bench/torch/timing.py). The models keep torchvision's random
initialisation (the time does not depend on the values) and run in eval mode, as afinar's.
"""
import torch
import torch.fx.experimental.optimization
import torchvision

from timing import run

BATCH = 8
SIZE = 224


def forward_step(arch, fold=False):
    model = getattr(torchvision.models, arch)().eval()
    if fold:  # conv + batch norm folded, as afinar's nn::fuse_conv_bn
        model = torch.fx.experimental.optimization.fuse(model)
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))

    def step():
        with torch.no_grad():
            model(x)

    return step


def train_step():
    """resnet18 in train mode, batch 16 of 64x64: forward, cross-entropy, backward, SGD momentum."""
    model = torchvision.models.resnet18(num_classes=10).train()
    x = torch.randn(16, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    y = torch.arange(16) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return step


def main():
    run([("ModelsEvalForward/" + arch, lambda a=arch: forward_step(a))
         for arch in ("resnet18", "vgg16", "resnext50_32x4d")] +
        [("ModelsEvalForward/resnet18_folded", lambda: forward_step("resnet18", fold=True))] +
        [("ModelsTrainStep/resnet18_64px_b16", train_step)])


if __name__ == "__main__":
    main()

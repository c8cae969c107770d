"""PyTorch reference for bench/models_bench.cpp: eval-mode forward of torchvision's resnet18 and
vgg16 on the CPU, batch 8 of 224x224, f32, under torch.no_grad() (torchvision 0.14 from Debian).

Prints `name<TAB>seconds_per_iter` with the same names as afinar_bench, so tools/bench/compare.py
can put them side by side:

    /usr/bin/python3 bench/torch/models.py [name_regex]

Threads as afinar uses (bench/torch/timing.py). The models keep torchvision's random
initialisation (the time does not depend on the values) and run in eval mode, as afinar's.
"""
import torch
import torchvision

from timing import run

BATCH = 8
SIZE = 224


def forward_step(arch):
    model = getattr(torchvision.models, arch)().eval()
    x = torch.randn(BATCH, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))

    def step():
        with torch.no_grad():
            model(x)

    return step


def main():
    run([("ModelsEvalForward/" + arch, lambda a=arch: forward_step(a))
         for arch in ("resnet18", "vgg16")])


if __name__ == "__main__":
    main()

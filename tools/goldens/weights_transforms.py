"""Goldens for io::torchvision_preprocessing (tests/io/weights_test.cpp): torchvision 0.14's
evaluation transform for every published ImageNet weight of the architectures afinar builds (VGG,
ResNet, ResNeXt, Wide ResNet), read from the weights enums' transforms().

One case per weights file, named by the file name as torchvision publishes it
(e.g. "resnet101-cd907fc2.pth"):
  resize  int64 [1]    ImageClassification.resize_size
  crop    int64 [1]    ImageClassification.crop_size
  mean    float64 [3]  std  float64 [3]
Every one uses bilinear interpolation (asserted here), the only mode afinar's eval transform has.

Run from the repository root: /usr/bin/python3 tools/goldens/weights_transforms.py
"""
import torch
import torchvision.models as M
from torchvision.transforms import InterpolationMode

from common import write_cases

ENUMS = [M.VGG11_Weights, M.VGG11_BN_Weights, M.VGG13_Weights, M.VGG13_BN_Weights,
         M.VGG16_Weights, M.VGG16_BN_Weights, M.VGG19_Weights, M.VGG19_BN_Weights,
         M.ResNet18_Weights, M.ResNet34_Weights, M.ResNet50_Weights, M.ResNet101_Weights,
         M.ResNet152_Weights, M.ResNeXt50_32X4D_Weights, M.ResNeXt101_32X8D_Weights,
         M.ResNeXt101_64X4D_Weights, M.Wide_ResNet50_2_Weights, M.Wide_ResNet101_2_Weights]


def main():
    cases = []
    for enum in ENUMS:
        for weights in enum:
            t = weights.transforms()
            assert t.interpolation == InterpolationMode.BILINEAR, weights
            assert len(t.resize_size) == 1 and len(t.crop_size) == 1, weights
            name = weights.url.rsplit("/", 1)[1]
            cases.append((name, {
                "resize": torch.tensor(t.resize_size, dtype=torch.int64),
                "crop": torch.tensor(t.crop_size, dtype=torch.int64),
                "mean": torch.tensor(t.mean, dtype=torch.float64),
                "std": torch.tensor(t.std, dtype=torch.float64),
            }, {}))
    write_cases("weights_transforms", cases)


if __name__ == "__main__":
    main()

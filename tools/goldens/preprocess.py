"""Golden for `afinar preprocess`: torchvision's eval pipelines on committed fixture images.

Two pipelines on PIL's decode, at smaller sizes than a model's (the arithmetic is the same; the
file stays small):
  center  Resize(RESIZE) -> CenterCrop(CROP) -> ToTensor -> Normalize(ImageNet): the
          preprocessing of torchvision's ImageNet weights;
  squash  Resize((CROP, CROP)) -> ToTensor: seeds 001/002's Resize((224, 224)) and `img / 255.`
          (afinar's --crop-mode squash with resize = crop, mean 0 and std 1).
Writes tests/data/goldens/preprocess.h5 with one case per image and pipeline: the fixture's path
(relative to tests/data), the settings, and the [3,CROP,CROP] float32 input.
"""
import os

import torch
from PIL import Image
from torchvision import transforms

from common import ROOT, write_cases

IMAGES = ["fixtures/decode/jpeg_420.jpg", "fixtures/decode/png_rgb.png"]
RESIZE, CROP = 128, 112


IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def pipelines():
    """(name suffix, torchvision pipeline, the matching afinar settings)."""
    center = transforms.Compose([
        transforms.Resize(RESIZE), transforms.CenterCrop(CROP), transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    squash = transforms.Compose([transforms.Resize((CROP, CROP)), transforms.ToTensor()])
    return [
        ("", center, {"resize": RESIZE, "crop": CROP, "crop_mode": "center",
                      "mean": IMAGENET_MEAN, "std": IMAGENET_STD}),
        ("_squash", squash, {"resize": CROP, "crop": CROP, "crop_mode": "squash",
                             "mean": [0, 0, 0], "std": [1, 1, 1]}),
    ]


def main():
    cases = []
    for rel in IMAGES:
        img = Image.open(os.path.join(ROOT, "tests", "data", rel)).convert("RGB")
        name = os.path.splitext(os.path.basename(rel))[0]
        for suffix, pipeline, settings in pipelines():
            cases.append((name + suffix, {"input": pipeline(img).to(torch.float32)},
                          dict(path=rel, **settings)))
    write_cases("preprocess", cases)


if __name__ == "__main__":
    main()

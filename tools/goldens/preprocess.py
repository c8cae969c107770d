"""Golden for `afinar preprocess`: torchvision's eval pipelines on committed fixture images.

Three pipelines on PIL's decode, at smaller sizes than a model's (the arithmetic is the same; the
file stays small):
  center  Resize(RESIZE) -> CenterCrop(CROP) -> ToTensor -> Normalize(ImageNet): the
          preprocessing of torchvision's ImageNet weights;
  squash  Resize((CROP, CROP)) -> ToTensor: seeds 001/002's Resize((224, 224)) and `img / 255.`
          (afinar's --crop-mode squash with resize = crop, mean 0 and std 1);
  bicubic center's with Resize(RESIZE, interpolation=BICUBIC) (--interpolation bicubic), on the
          first image only.
Writes tests/data/goldens/preprocess.h5 with one case per image and pipeline: the fixture's path
(relative to tests/data), the settings, and the [3,CROP,CROP] float32 input.
"""
import os

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

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
    bicubic = transforms.Compose([
        transforms.Resize(RESIZE, interpolation=InterpolationMode.BICUBIC),
        transforms.CenterCrop(CROP), transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    imagenet = {"resize": RESIZE, "crop": CROP, "crop_mode": "center", "mean": IMAGENET_MEAN,
                "std": IMAGENET_STD}
    return [
        ("", center, dict(imagenet, interpolation="bilinear")),
        ("_squash", squash, {"resize": CROP, "crop": CROP, "crop_mode": "squash",
                             "interpolation": "bilinear", "mean": [0, 0, 0], "std": [1, 1, 1]}),
        ("_bicubic", bicubic, dict(imagenet, interpolation="bicubic")),
    ]


def main():
    cases = []
    for rel in IMAGES:
        img = Image.open(os.path.join(ROOT, "tests", "data", rel)).convert("RGB")
        name = os.path.splitext(os.path.basename(rel))[0]
        for suffix, pipeline, settings in pipelines():
            if suffix == "_bicubic" and rel != IMAGES[0]:
                continue
            cases.append((name + suffix, {"input": pipeline(img).to(torch.float32)},
                          dict(path=rel, **settings)))
    write_cases("preprocess", cases)


if __name__ == "__main__":
    main()

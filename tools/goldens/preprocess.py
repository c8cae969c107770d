"""Golden for `afinar preprocess`: torchvision's eval pipeline on committed fixture images.

Resize(RESIZE) -> CenterCrop(CROP) -> ToTensor -> Normalize(ImageNet) on PIL's decode: the
preprocessing of torchvision's ImageNet weights at a smaller size (the arithmetic is the same;
the file stays small). Writes tests/data/goldens/preprocess.h5 with one case per image: the
fixture's path (relative to tests/data), the sizes, and the [3,CROP,CROP] float32 input.
"""
import os

import torch
from PIL import Image
from torchvision import transforms

from common import ROOT, write_cases

IMAGES = ["fixtures/decode/jpeg_420.jpg", "fixtures/decode/png_rgb.png"]
RESIZE, CROP = 128, 112


def main():
    pipeline = transforms.Compose([
        transforms.Resize(RESIZE), transforms.CenterCrop(CROP), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    cases = []
    for rel in IMAGES:
        img = Image.open(os.path.join(ROOT, "tests", "data", rel)).convert("RGB")
        name = os.path.splitext(os.path.basename(rel))[0]
        cases.append((name, {"input": pipeline(img).to(torch.float32)}, {"path": rel, "resize": RESIZE, "crop": CROP}))
    write_cases("preprocess", cases)


if __name__ == "__main__":
    main()

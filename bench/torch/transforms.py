"""torchvision's twins of bench/transforms_bench.cpp's training pipelines: the same 500x375 image
(the same formula), single-threaded, one image per iteration, PIL path (torchvision 0.14, Pillow
9.4). The policies resample bilinearly, as torchvision's reference scripts ask them to and as
afinar's train_transform does. Heavy augmentation and the eval pipeline have no twin here.

    /usr/bin/python3 bench/torch/transforms.py [regex]
    tools/bench/compare.py --threads 1 --filter Transforms   (one core each, as loaders use them)
"""
import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from timing import run

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
BILINEAR = InterpolationMode.BILINEAR


def test_image(height=375, width=500):
    """bench/transforms_bench.cpp's test_image: gradients plus a hash as texture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.uint32)
    h = (x * np.uint32(73856093)) ^ (y * np.uint32(19349663))
    rgb = np.stack([x // 2 + (h & 15), y // 2 + (h >> 4 & 15), (x + y) // 4 + (h >> 8 & 15)], -1)
    return Image.fromarray((rgb & 255).astype(np.uint8), "RGB")


def pipeline(*policy):
    t = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), *policy, T.ToTensor(),
                   T.Normalize(MEAN, STD)])
    img = test_image()
    return lambda: t(img)


if __name__ == "__main__":
    torch.manual_seed(0)
    run([
        ("Transforms/TrainTransform", lambda: pipeline()),
        ("Transforms/TrainTransformTrivialAugmentWide",
         lambda: pipeline(T.TrivialAugmentWide(interpolation=BILINEAR))),
        ("Transforms/TrainTransformRandAugment",
         lambda: pipeline(T.RandAugment(interpolation=BILINEAR))),
        ("Transforms/TrainTransformAutoAugment",
         lambda: pipeline(T.AutoAugment(interpolation=BILINEAR))),
        ("Transforms/TrainTransformAugMix", lambda: pipeline(T.AugMix(interpolation=BILINEAR))),
    ])

"""Goldens for the image transforms (include/afinar/data/transforms.h).

torchvision 0.14's functional ops on PIL images (Pillow 9.4), run with fixed parameters on small
synthetic images (gradients + noise + flat white and black blocks, so clipping and sharp edges are
exercised). Random transforms are covered through their deterministic cores (resized_crop, rotate,
affine, the four colour adjustments in a given order, erase), since torch's random numbers are not
reproduced. Layout of tests/data/goldens/transforms.h5 (datasets gzip-compressed):

    /inputs/<name>            uint8 [H, W, C] input images (C = 1 for the grey one)
    /<family>/<case>/expected the torchvision output: uint8 [H, W, C] image or float32 [C, H, W]
    /<family>/<case> attrs    input (name), the op's arguments (interpolation: 0 nearest,
                              1 bilinear, 2 bicubic, afinar's Interpolation order)

Run from the repository root: /usr/bin/python3 tools/goldens/transforms.py (or make_all.sh).
"""
import os

import h5py
import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

from common import GOLDEN_DIR, ROOT

MODES = [InterpolationMode.NEAREST, InterpolationMode.BILINEAR, InterpolationMode.BICUBIC]
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def synthetic(h, w, seed):
    """RGB gradients + a wave + uniform noise, with a white and a black block."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * x / (w - 1), 255 * y / (h - 1),
                    127.5 + 127.5 * np.sin(x / 7.0 + y / 11.0)], -1)
    img += rng.randint(-3, 4, size=(h, w, 3))
    img[h // 4:h // 4 + h // 8, w // 5:w // 5 + w // 6] = 255
    img[h // 2:h // 2 + h // 8, w // 2:w // 2 + w // 7] = 0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def hue_chart(n):
    """n×n colours covering the hue circle at many saturations and values, greys included."""
    y, x = np.mgrid[0:n, 0:n]
    r = (x * 255) // (n - 1)
    g = (y * 255) // (n - 1)
    b = (x * 7 + y * 13) % 256
    img = np.stack([r, g, b], -1).astype(np.uint8)
    img[::9, :] = img[::9, :, :1]  # grey rows (s == 0)
    return img


INPUTS = {
    "tiny": synthetic(41, 57, 4),
    "small": synthetic(97, 131, 1),
    "large": synthetic(120, 160, 2),
    "gray": synthetic(45, 61, 3)[:, :, 1:2],
    "hue": hue_chart(40),
}


def pil_of(a):
    """The PIL image of a uint8 [H, W, C] array: mode L for one channel, RGB for three."""
    return Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(a, "RGB")


def pil(name):
    return pil_of(INPUTS[name])


def as_hwc(img):
    a = np.asarray(img, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


CASES = []  # (family, case, expected ndarray, attrs)


def add(family, case, expected, **attrs):
    CASES.append((family, case, expected, attrs))


def resize_cases():
    for name, size, mode, max_size in [
        ("small", 64, 1, None),       # downscale ~1.5x
        ("large", 40, 1, None),       # downscale 3x: the antialias support grows
        ("large", 40, 2, None),
        ("large", 40, 0, None),
        ("tiny", 52, 1, None),        # upscale
        ("tiny", 52, 2, None),        # bicubic overshoot, clipped
        ("tiny", 59, 0, None),
        ("gray", 30, 1, None),
        ("gray", 90, 2, None),
        ("small", 48, 1, 60),         # max_size caps the longer side
    ]:
        out = F.resize(pil(name), size, MODES[mode], max_size=max_size)
        attrs = dict(input=name, size=size, interpolation=mode)
        if max_size is not None:
            attrs["max_size"] = max_size
        add("resize", "%s_%d_%d_%s" % (name, size, mode, max_size), as_hwc(out), **attrs)
    for name, (h, w), mode in [
        ("large", (40, 90), 1),       # different factors per axis
        ("tiny", (41, 30), 1),        # height unchanged: horizontal pass only
        ("tiny", (20, 57), 2),        # width unchanged: vertical pass only
        ("tiny", (37, 90), 0),
        ("tiny", (41, 57), 1),        # same size: a copy
    ]:
        out = F.resize(pil(name), [h, w], MODES[mode])
        add("resize", "%s_%dx%d_%d" % (name, h, w, mode), as_hwc(out), input=name,
            size_hw=[h, w], interpolation=mode)


def crop_cases():
    for name, (h, w) in [("tiny", (24, 26)), ("tiny", (50, 30)), ("tiny", (60, 60)),
                         ("gray", (45, 20)), ("tiny", (40, 57))]:
        add("center_crop", "%s_%dx%d" % (name, h, w), as_hwc(F.center_crop(pil(name), [h, w])),
            input=name, size_hw=[h, w])
    for name, box in [("small", (10, -5, 50, 60)), ("small", (80, 100, 40, 40)),
                      ("gray", (0, 0, 45, 61))]:
        add("crop", "%s_%d_%d_%d_%d" % ((name,) + box), as_hwc(F.crop(pil(name), *box)),
            input=name, box=list(box))
    for name, box, (h, w), mode in [
        ("large", (10, 35, 100, 111), (72, 72), 1),
        ("large", (10, 35, 100, 111), (40, 40), 1),
        ("large", (0, 0, 120, 160), (40, 40), 2),
        ("small", (5, 17, 60, 90), (32, 48), 0),
        ("small", (-4, 100, 50, 50), (40, 40), 1),  # box partly outside: zero padding
    ]:
        out = F.resized_crop(pil(name), *box, [h, w], MODES[mode])
        add("resized_crop", "%s_%d_%d_%d_%d_%dx%d_%d" % ((name,) + box + (h, w, mode)),
            as_hwc(out), input=name, box=list(box), size_hw=[h, w], interpolation=mode)


def flip_cases():
    for name in ["tiny", "gray"]:
        add("flip", name + "_h", as_hwc(F.hflip(pil(name))), input=name, vertical=0)
        add("flip", name + "_v", as_hwc(F.vflip(pil(name))), input=name, vertical=1)


def rotate_cases():
    for i, (name, angle, mode, expand, center, fill) in enumerate([
        ("small", 17.3, 0, False, None, None),
        ("tiny", -33.0, 0, False, None, None),
        ("tiny", 90.0, 0, False, None, None),      # non-square: the affine path
        ("tiny", 90.0, 0, True, None, None),       # exact transpose
        ("tiny", 180.0, 0, False, None, None),
        ("tiny", -90.0, 0, True, None, None),      # 270
        ("tiny", 375.0, 0, False, None, None),     # 15 mod 360
        ("tiny", 45.0, 0, True, None, None),
        ("tiny", 10.0, 0, False, [10, 20], [255, 128, 0]),
        ("tiny", 180.0, 0, False, [30, 25], None),  # centre given: no fast path
        ("tiny", 23.5, 1, False, None, None),
        ("tiny", 23.5, 2, False, None, [7, 77, 177]),
        ("tiny", -12.0, 0, False, None, None),
        ("gray", 30.0, 0, False, None, None),
        ("gray", 30.0, 1, True, None, [200]),
    ]):
        out = F.rotate(pil(name), angle, MODES[mode], expand, center, fill)
        attrs = dict(input=name, angle=angle, interpolation=mode, expand=int(expand))
        if center is not None:
            attrs["center"] = center
        if fill is not None:
            attrs["fill"] = fill
        add("rotate", "%02d_%s" % (i, name), as_hwc(out), **attrs)


def affine_cases():
    for i, (name, angle, translate, scale, shear, mode, center, fill) in enumerate([
        ("tiny", 0.0, [5, -7], 1.0, [0.0, 0.0], 0, None, None),  # pure translation: scale path
        ("tiny", 0.0, [12, 8], 1.0, [10.0, 0.0], 0, None, None),  # seed 003's shear
        ("tiny", 0.0, [-13, 9], 1.0, [-7.5, 0.0], 0, None, None),
        ("tiny", 25.0, [-3, 4], 0.8, [5.0, -7.0], 0, None, None),
        ("tiny", 25.0, [-3, 4], 0.8, [5.0, -7.0], 1, None, None),
        ("tiny", 25.0, [-3, 4], 0.8, [5.0, -7.0], 2, None, [9, 99, 199]),
        ("tiny", -40.0, [0, 0], 1.3, [0.0, 0.0], 0, [20, 30], None),
        ("tiny", 0.0, [0, 0], 1.7, [0.0, 0.0], 0, None, None),   # scale only: scale path
        ("tiny", 8.0, [20, -10], 1.1, [3.0, 2.0], 0, None, None),
        ("gray", 12.0, [3, 3], 0.9, [4.0, 0.0], 0, None, None),
    ]):
        out = F.affine(pil(name), angle, translate, scale, shear, MODES[mode], fill, center)
        attrs = dict(input=name, angle=angle, translate=translate, scale=scale, shear=shear,
                     interpolation=mode)
        if center is not None:
            attrs["center"] = center
        if fill is not None:
            attrs["fill"] = fill
        add("affine", "%02d_%s" % (i, name), as_hwc(out), **attrs)


COLOR_FNS = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]


def color_cases():
    factors = [
        [0.0, 0.55, 1.0, 1.3, 2.5],               # brightness
        [0.0, 0.7, 1.0, 1.3, 3.0],                # contrast
        [0.0, 0.7, 1.3, 3.0],                     # saturation
        [-0.5, -0.27, -0.1, 0.0, 0.1, 0.33, 0.5],  # hue
    ]
    for op, fs in enumerate(factors):
        # Every factor on the colour chart; the extremes on the noisy and the grey image.
        for name, subset in [("hue", fs), ("tiny", [fs[0], fs[-1]]), ("gray", [fs[1], fs[-1]])]:
            for f in subset:
                out = COLOR_FNS[op](pil(name), f)
                add("color", "%d_%s_%g" % (op, name, f), as_hwc(out), input=name, op=op,
                    factor=f)
    add("color", "gray_L", as_hwc(pil("tiny").convert("L")), input="tiny", op=4, factor=0.0)
    # ColorJitter's deterministic core: the four adjustments in a given order.
    for i, (order, factors) in enumerate([
        ([2, 0, 3, 1], [0.8, 1.25, 0.6, -0.07]),
        ([3, 1, 0, 2], [1.3, 0.7, 1.2, 0.1]),
    ]):
        img = pil("tiny")
        for fn_id in order:
            img = COLOR_FNS[fn_id](img, factors[fn_id])
        add("color_jitter", "%d" % i, as_hwc(img), input="tiny", order=order, factors=factors)


def tensor_cases():
    x = F.to_tensor(pil("tiny"))
    add("to_tensor", "tiny", x.numpy(), input="tiny")
    add("to_tensor", "gray", F.to_tensor(pil("gray")).numpy(), input="gray")
    add("normalize", "tiny", F.normalize(x, MEAN, STD).numpy(), input="tiny", mean=MEAN, std=STD)
    add("normalize", "tiny_scalar", F.normalize(x, [0.5], [0.25]).numpy(), input="tiny",
        mean=[0.5], std=[0.25])
    v = torch.tensor([0.5, -1.0, 2.0])[:, None, None]
    add("erase", "tiny", F.erase(x, 7, 11, 30, 45, v).numpy(), input="tiny", box=[7, 11, 30, 45],
        value=[0.5, -1.0, 2.0])


def pipeline_cases():
    # Resize(256) + CenterCrop(224) as a PIL image, and the whole eval pipeline (+ ToTensor +
    # Normalize) at smaller sizes: downscales of ~2 and ~1.7 and an odd crop offset.
    img = F.center_crop(F.resize(pil("large"), 256), 224)
    add("eval_u8", "large", as_hwc(img), input="large", resize=256, crop=224)
    for name, resize, crop in [("large", 72, 60), ("small", 56, 45)]:
        img = F.center_crop(F.resize(pil(name), resize), crop)
        out = F.normalize(F.to_tensor(img), MEAN, STD)
        add("eval", name, out.numpy(), input=name, resize=resize, crop=crop, mean=MEAN, std=STD,
            squash=0)
    # crop_mode "squash": Resize((s, s)) ignores the aspect ratio. Seeds 001/002 resize to the
    # network's size and only divide by 255 (mean 0, std 1); timm's squash then crops.
    for name, resize, crop, mean, std in [("small", 48, 48, [0.0] * 3, [1.0] * 3),
                                          ("large", 72, 61, MEAN, STD)]:
        img = F.center_crop(F.resize(pil(name), [resize, resize]), crop)
        out = F.normalize(F.to_tensor(img), mean, std)
        add("eval", name + "_squash", out.numpy(), input=name, resize=resize, crop=crop,
            mean=mean, std=std, squash=1)


def write_images(f, generator, inputs, cases):
    """The versions, /inputs/<name> and /<family>/<case> (expected + attrs) into an open file;
    shared with auto_augment.py."""
    f.attrs["generator"] = generator
    f.attrs["torch_version"] = str(torch.__version__)
    f.attrs["torchvision_version"] = str(torchvision.__version__)
    f.attrs["pillow_version"] = str(PIL.__version__)
    for name, a in inputs.items():
        f.create_dataset("inputs/" + name, data=a, compression="gzip", compression_opts=9,
                         track_times=False)
    for family, case, expected, attrs in cases:
        g = f.create_group("%s/%s" % (family, case))
        g.create_dataset("expected", data=np.ascontiguousarray(expected),
                         compression="gzip", compression_opts=9, shuffle=True,
                         track_times=False)
        for key, v in attrs.items():
            if isinstance(v, (list, tuple)):
                v = np.asarray(v, dtype=np.float64)
            g.attrs[key] = v


def write(path):
    with h5py.File(path, "w", libver="latest") as f:
        write_images(f, "tools/goldens/transforms.py", INPUTS, CASES)


def main():
    for make in [resize_cases, crop_cases, flip_cases, rotate_cases, affine_cases, color_cases,
                 tensor_cases, pipeline_cases]:
        make()
    path = os.path.join(GOLDEN_DIR, "transforms.h5")
    write(path)
    print("wrote %s: %d cases, %.1f KB" % (os.path.relpath(path, ROOT), len(CASES),
                                            os.path.getsize(path) / 1024))


if __name__ == "__main__":
    main()

"""Goldens for the automatic augmentation policies (include/afinar/data/auto_augment.h).

torchvision 0.14's autoaugment on PIL images (Pillow 9.4): every op of _apply_op at magnitudes
from the policies' own bins (signed ones both ways) on the synthetic images of transforms.py plus
a low-contrast one (so autocontrast and equalize have work to do), the geometric ones also with
bilinear and bicubic resampling (the reference scripts pass their --interpolation); each policy's
augmentation space as torchvision builds it (torch.linspace in float32, this machine's CPU
kernel); and AutoAugment's ImageNet, CIFAR10 and SVHN policy tables. Layout of
tests/data/goldens/auto_augment.h5:

    /inputs/<name>             uint8 [H, W, C]
    /ops/<case>/expected       uint8 [H, W, C]; attrs input, op (torchvision's name), magnitude,
                               mode (0 nearest, 1 bilinear, 2 bicubic: afinar's Interpolation)
    /space/<policy>/<op>       float64 magnitudes (absent for ops without any); attr signed
    /space/<policy> attrs      ops (comma-separated, in order), num_bins, height, width
    /policy/<name>/steps       float64 [25, 2, 2]: (probability, bin; -1 for none) per step, for
                               name imagenet, cifar10, svhn
    /policy/<name> attrs       ops: the steps' op names, "a,b;c,d;..."

Run from the repository root: /usr/bin/python3 tools/goldens/auto_augment.py (or make_all.sh).
"""
import os

import h5py
import numpy as np
from torchvision.transforms import AutoAugment, AutoAugmentPolicy, RandAugment
from torchvision.transforms import TrivialAugmentWide
from torchvision.transforms.autoaugment import _apply_op

from common import GOLDEN_DIR, ROOT
from transforms import INPUTS, MODES, as_hwc, pil_of, write_images

inputs = {name: INPUTS[name] for name in ["tiny", "gray", "hue"]}
# Values 40..180 only: autocontrast stretches them, equalize spreads them.
inputs["dim"] = (40 + (INPUTS["small"][:40, :50].astype(np.int32) * 140) // 255).astype(np.uint8)


def pil(name):
    return pil_of(inputs[name])


def spaces():
    """(key, ordered dict op -> (magnitudes tensor, signed), num_bins, (h, w))."""
    h, w = inputs["tiny"].shape[:2]
    out = [("trivial_augment", TrivialAugmentWide()._augmentation_space(31), 31, (h, w))]
    for size in [(h, w), (224, 224), (375, 500)]:
        out.append(("rand_augment_%dx%d" % size,
                    RandAugment()._augmentation_space(31, size), 31, size))
        out.append(("auto_augment_%dx%d" % size,
                    AutoAugment()._augmentation_space(10, size), 10, size))
    return out


def op_cases():
    """Each op of TrivialAugmentWide's and AutoAugment's spaces at a spread of its bins (15: the
    translation of 16 pixels that torch's rounding decides), the geometric ones in each mode."""
    cases = []
    ta = TrivialAugmentWide()._augmentation_space(31)
    aa = AutoAugment()._augmentation_space(10, inputs["tiny"].shape[:2])
    ops = dict(ta)
    ops["Invert"] = aa["Invert"]
    for op, (magnitudes, signed) in ops.items():
        if magnitudes.ndim == 0:
            values = [0.0]
        else:
            m = [float(magnitudes[i].item()) for i in [4, 15, 30]]
            values = [m[0], -m[1], m[1], -m[2]] if signed else m
        images = {"AutoContrast": ["tiny", "gray", "dim"], "Equalize": ["tiny", "gray", "dim"],
                  "Identity": ["gray"], "Invert": ["gray"]}
        geometric = op.startswith(("Shear", "Translate", "Rotate"))
        for name in images.get(op, ["tiny"] if geometric else ["hue", "gray"]):
            for k, m in enumerate(values if name != "gray" or geometric else values[-1:]):
                for mode in range(len(MODES)) if geometric else [0]:
                    out = _apply_op(pil(name), op, m, MODES[mode], None)
                    suffix = "" if mode == 0 else "_mode%d" % mode
                    cases.append(("ops", "%s_%s_%d%s" % (op, name, k, suffix), as_hwc(out),
                                  dict(input=name, op=op, magnitude=m, mode=mode)))
    return cases


def main():
    path = os.path.join(GOLDEN_DIR, "auto_augment.h5")
    with h5py.File(path, "w", libver="latest") as f:
        cases = op_cases()
        write_images(f, "tools/goldens/auto_augment.py", inputs, cases)
        for key, space, num_bins, (h, w) in spaces():
            g = f.create_group("space/" + key)
            g.attrs["ops"] = ",".join(space.keys())
            g.attrs["num_bins"] = num_bins
            g.attrs["height"] = h
            g.attrs["width"] = w
            for op, (magnitudes, signed) in space.items():
                if magnitudes.ndim > 0:
                    d = g.create_dataset(op, data=magnitudes.double().numpy())
                    d.attrs["signed"] = int(signed)
        for name in AutoAugmentPolicy:
            policy = AutoAugment(name).policies
            g = f.create_group("policy/" + name.value)
            g.attrs["ops"] = ";".join(",".join(step[0] for step in sub) for sub in policy)
            steps = [[[p, -1 if b is None else b] for _, p, b in sub] for sub in policy]
            g.create_dataset("steps", data=np.asarray(steps, dtype=np.float64))
    print("wrote %s: %d op cases, %.1f KB" % (os.path.relpath(path, ROOT), len(cases),
                                              os.path.getsize(path) / 1024))


if __name__ == "__main__":
    main()

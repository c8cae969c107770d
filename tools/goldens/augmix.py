"""Goldens for AugMix (include/afinar/data/augmix.h).

torchvision 0.14's AugMix converts its PIL input to a uint8 tensor, so its ops run through
functional_tensor (grid_sample for the geometric ones, float32 blends truncated to 8 bits for the
colour ones), not Pillow. This records, on the images of auto_augment.py:

    /inputs/<name>            uint8 [H, W, C]
    /ops/<case>/expected      _apply_op on the [1, C, H, W] tensor, back to uint8 [H, W, C];
                              attrs input, op, magnitude, mode (0 nearest, 1 bilinear)
    /space/<key>/<op>         AugMix()._augmentation_space(10, (h, w)) magnitudes (float64), attr
                              signed; /space/<key> attrs ops (in order), height, width, all_ops
    /mix/<case>/expected      AugMix(severity, interpolation=mode)(PIL image) as uint8 [H, W, C];
                              attrs input, mode, severity, original_weight (m[0], float32),
                              chain_weights (the float32 weights of the chains, m[1] applied),
                              chains ("op:magnitude,op:magnitude;..." one chain per ';')

torch's random draws are not reproduced by afinar: the /mix cases record what AugMix drew (its
Dirichlet samples and each chain's ops), and the test replays them through afinar's mixing.
Run from the repository root: /usr/bin/python3 tools/goldens/augmix.py (or make_all.sh).
"""
import os

import h5py
import numpy as np
import torch
import torchvision.transforms.autoaugment as autoaugment
import torchvision.transforms.functional as F
from torchvision.transforms import AugMix, InterpolationMode

from auto_augment import inputs, pil
from common import GOLDEN_DIR, ROOT
from transforms import as_hwc, write_images

MODES = [InterpolationMode.NEAREST, InterpolationMode.BILINEAR]  # the tensor path has no bicubic


def tensor_of(name):
    return F.pil_to_tensor(pil(name)).unsqueeze(0)  # [1, C, H, W], as AugMix batches it


def hwc(batch):
    return np.ascontiguousarray(batch[0].permute(1, 2, 0).numpy())


def op_cases():
    """Every op of AugMix's space at two bins (a signed one negated once), the geometric ones in
    each mode; on a colour image and, at the top bin, on the grey one."""
    cases = []
    space = AugMix()._augmentation_space(10, inputs["tiny"].shape[:2])
    for op, (magnitudes, signed) in space.items():
        if magnitudes.ndim == 0:
            values = [0.0]
        else:
            m = [float(magnitudes[i].item()) for i in [4, 9]]
            values = [-m[0], m[1]] if signed else m
        geometric = op.startswith(("Shear", "Translate", "Rotate"))
        names = ["tiny", "gray", "dim"] if magnitudes.ndim == 0 else (
            ["tiny", "gray"] if geometric else ["hue", "gray"])
        for name in names:
            for k, m in enumerate(values if name != "gray" else values[-1:]):
                for mode in range(len(MODES)) if geometric else [0]:
                    out = autoaugment._apply_op(tensor_of(name), op, m, MODES[mode], None)
                    cases.append(("ops", "%s_%s_%d_mode%d" % (op, name, k, mode), hwc(out),
                                  dict(input=name, op=op, magnitude=m, mode=mode)))
    return cases


class Recorder(AugMix):
    """AugMix that notes its Dirichlet draws and the ops it applies."""

    def _sample_dirichlet(self, params):
        out = super()._sample_dirichlet(params)
        self.draws.append(out.clone())
        return out


def mix_cases():
    cases = []
    apply_op = autoaugment._apply_op
    for k, (name, severity, mode, seed) in enumerate([("tiny", 3, 1, 0), ("hue", 3, 1, 1),
                                                       ("tiny", 10, 0, 2), ("gray", 5, 1, 3),
                                                       ("dim", 1, 1, 4), ("hue", 7, 0, 5)]):
        torch.manual_seed(seed)
        t = Recorder(severity=severity, interpolation=MODES[mode])
        t.draws, applied = [], []

        def record(img, op, magnitude, interpolation, fill):
            # Each chain starts from AugMix's batch itself, the first image _apply_op sees.
            if not batch or img is batch[0]:
                batch[:1] = [img]
                applied.append([])
            applied[-1].append("%s:%r" % (op, magnitude))
            return apply_op(img, op, magnitude, interpolation, fill)

        batch = []
        autoaugment._apply_op = record
        try:
            out = t(pil(name))
        finally:
            autoaugment._apply_op = apply_op
        m, combined = t.draws[0], t.draws[1] * t.draws[0][:, 1].view([1, -1])
        cases.append(("mix", "%s_%d" % (name, k), as_hwc(out),
                      dict(input=name, mode=mode, severity=severity,
                           original_weight=float(m[0, 0]),
                           chain_weights=[float(w) for w in combined[0]],
                           chains=";".join(",".join(c) for c in applied))))
    return cases


def main():
    path = os.path.join(GOLDEN_DIR, "augmix.h5")
    with h5py.File(path, "w", libver="latest") as f:
        cases = op_cases() + mix_cases()
        write_images(f, "tools/goldens/augmix.py", inputs, cases)
        for all_ops in [True, False]:
            for size in [inputs["tiny"].shape[:2], (224, 224), (375, 500)]:
                space = AugMix(all_ops=all_ops)._augmentation_space(10, size)
                g = f.create_group("space/%s_%dx%d" % ("all" if all_ops else "base", *size))
                g.attrs["ops"] = ",".join(space.keys())
                g.attrs["height"], g.attrs["width"] = size
                g.attrs["all_ops"] = int(all_ops)
                for op, (magnitudes, signed) in space.items():
                    if magnitudes.ndim > 0:
                        d = g.create_dataset(op, data=magnitudes.double().numpy())
                        d.attrs["signed"] = int(signed)
    print("wrote %s: %d cases, %.1f KB" % (os.path.relpath(path, ROOT), len(cases),
                                           os.path.getsize(path) / 1024))


if __name__ == "__main__":
    main()

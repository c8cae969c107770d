"""Shared helpers for the golden generators: one HDF5 file per op under tests/data/goldens/.

Each generator (tools/goldens/<op>.py) builds cases with PyTorch on the CPU in float64 or float32
and writes them with `write_cases(op, cases)`. A case is a name plus a dict of tensors (inputs,
outputs, gradients) and a dict of attributes (the op's arguments). The C++ side reads them with
tests/testing/fixtures.h. Run from the repository root:

    python3 tools/goldens/conv2d.py        # one op
    tools/goldens/make_all.sh              # every op

Needs Debian's python3-torch and python3-h5py (tools/setup.sh --goldens). Keep cases small:
all goldens together stay well under 5 MB.
"""
import os

import h5py
import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN_DIR = os.path.join(ROOT, "tests", "data", "goldens")


def seeded(seed):
    """A torch.Generator with a fixed seed, so regenerated goldens are identical."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(shape, gen, dtype=torch.float64):
    return torch.randn(*shape, generator=gen, dtype=dtype)


def write_cases(op, cases):
    """cases: list of (name, tensors: dict[str, Tensor], attrs: dict[str, int|float|list])."""
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    path = os.path.join(GOLDEN_DIR, op + ".h5")
    with h5py.File(path, "w") as f:
        f.attrs["generator"] = "tools/goldens/%s.py" % op
        f.attrs["torch_version"] = str(torch.__version__)  # a str subclass h5py cannot store
        for name, tensors, attrs in cases:
            g = f.create_group(name)
            for key, t in tensors.items():
                g.create_dataset(key, data=t.detach().cpu().contiguous().numpy())
            for key, v in attrs.items():
                if isinstance(v, bool):
                    v = int(v)
                if isinstance(v, (list, tuple)):
                    v = np.asarray(v, dtype=np.float64)
                g.attrs[key] = v
    size = os.path.getsize(path)
    print("wrote %s: %d cases, %.1f KB" % (os.path.relpath(path, ROOT), len(cases), size / 1024))

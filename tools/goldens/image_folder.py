"""torchvision's ImageFolder listing of a fixed tree: tests/data/fixtures/image_folder_expected.txt.

Builds the tree described by tests/data/fixtures/image_folder_tree.txt (files, folders, symbolic
links; see the comments there) in a temporary folder, runs torchvision.datasets.ImageFolder on it,
and writes the classes and the samples (label and path relative to the base folder) in order.
tests/data/image_folder_test.cpp builds the same tree and expects the same listing. Also asserts
that a root spelled with a trailing slash gives the same paths (os.path.join adds no second
slash), which the C++ test checks as well. Run from anywhere with the system python3:

    /usr/bin/python3 tools/goldens/image_folder.py
"""
import os
import tempfile

import torchvision
from torchvision.datasets import ImageFolder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "data", "fixtures")


def build_tree(base, description):
    for line in open(description, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        kind, path, *target = line.split("\t")
        full = os.path.join(base, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if kind == "f":
            open(full, "wb").close()
        elif kind == "d":
            os.makedirs(full, exist_ok=True)
        elif kind == "l":
            os.symlink(target[0], full)
        else:
            raise ValueError("unknown entry kind %r in %r" % (kind, line))


def main():
    with tempfile.TemporaryDirectory() as base:
        build_tree(base, os.path.join(FIXTURES, "image_folder_tree.txt"))
        root = os.path.join(base, "root")
        ds = ImageFolder(root)
        assert ImageFolder(root + "/").samples == ds.samples
        lines = [
            "# torchvision %s ImageFolder listing of image_folder_tree.txt, made by"
            % torchvision.__version__,
            "# tools/goldens/image_folder.py. class<TAB>index<TAB>name, then",
            "# sample<TAB>label<TAB>path relative to the base folder (the root is base/root).",
        ]
        for name, index in ds.class_to_idx.items():
            lines.append("class\t%d\t%s" % (index, name))
        for path, label in ds.samples:
            lines.append("sample\t%d\t%s" % (label, os.path.relpath(path, base)))
    out = os.path.join(FIXTURES, "image_folder_expected.txt")
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s: %d classes, %d samples" % (out, len(ds.classes), len(ds.samples)))


if __name__ == "__main__":
    main()

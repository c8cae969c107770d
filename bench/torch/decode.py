"""PIL's decoding, Image.open(path).convert("RGB") (torchvision's default loader), on the files
bench/decode_bench.cpp writes to $TMPDIR/afinar-decode-bench/, under the same names. One
iteration decodes all 8 files, as there. PIL decodes on one thread (libjpeg-turbo for JPEG, zlib
for PNG).

    /usr/bin/python3 bench/torch/decode.py [regex]
    tools/bench/compare.py --filter Decode     (runs afinar_bench first, which writes the files)
"""
import glob
import os
import sys
import tempfile

from PIL import Image

from timing import run

DIR = os.path.join(tempfile.gettempdir(), "afinar-decode-bench")


def decode_all(pattern):
    files = sorted(glob.glob(os.path.join(DIR, pattern)))
    if len(files) != 8:
        sys.exit("bench/torch/decode.py: expected 8 files %s in %s; run "
                 "build/bench/afinar_bench --benchmark_filter=Decode first" % (pattern, DIR))

    def step():
        for f in files:
            Image.open(f).convert("RGB")

    return step


if __name__ == "__main__":
    run([
        ("DecodeJpeg/full", lambda: decode_all("photo*.jpg")),
        ("DecodePng/full", lambda: decode_all("photo*.png")),
    ])

"""PyTorch's loading, torch.utils.data.DataLoader over torchvision.datasets.ImageFolder with
RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize (PIL), batch 64, shuffled, on
the ImageFolder bench/loader_bench.cpp writes to $TMPDIR/afinar-loader-bench/ (256 JPEGs of
500x375), under the same names. One iteration is one full epoch, after one warm-up epoch:
    LoaderEpoch/workers0    num_workers=0: loading on the main process, with
                            torch.set_num_threads(1) so that ToTensor and Normalize do not spread
                            over other cores either (the per-core figure)
    LoaderEpoch/all_cores   num_workers=AFINAR_BENCH_THREADS (default: the number of CPUs)
Everything else is DataLoader's default: worker processes forked anew each epoch
(persistent_workers=False), prefetch_factor=2, pin_memory=False, and torch.set_num_threads(1)
inside each worker (DataLoader does this itself).

    /usr/bin/python3 bench/torch/loader.py [regex]
    tools/bench/compare.py --filter Loader     (runs afinar_bench first, which writes the files)
"""
import os
import re
import sys
import tempfile

import torch
from torchvision import datasets, transforms

from timing import seconds_per_iter, setup_threads

ROOT = os.path.join(tempfile.gettempdir(), "afinar-loader-bench")
IMAGES = 256
BATCH = 64


def epoch_step(num_workers):
    dataset = datasets.ImageFolder(ROOT, transforms.Compose([
        transforms.RandomResizedCrop(224),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ]))
    if len(dataset) != IMAGES:
        sys.exit("bench/torch/loader.py: expected %d images in %s, found %d; run "
                 "build/bench/afinar_bench --benchmark_filter=Loader first"
                 % (IMAGES, ROOT, len(dataset)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True,
                                         num_workers=num_workers)

    def step():
        images = 0
        for x, _ in loader:
            images += x.shape[0]
        assert images == IMAGES

    return step


if __name__ == "__main__":
    torch.manual_seed(1)
    pattern = re.compile(sys.argv[1] if len(sys.argv) > 1 else "")
    all_cores = int(os.environ.get("AFINAR_BENCH_THREADS", os.cpu_count()))
    for name, workers in [("LoaderEpoch/workers0", 0), ("LoaderEpoch/all_cores", all_cores)]:
        if not pattern.search(name):
            continue
        if workers == 0:
            torch.set_num_threads(1)
        else:
            setup_threads()
        # An epoch takes about a second: a few of them, not timing.py's default of 10.
        seconds = seconds_per_iter(epoch_step(workers), warmup=1, min_iters=3, min_seconds=2)
        print("%s\t%.6g" % (name, seconds), flush=True)

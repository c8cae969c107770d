"""PyTorch twin of bench/train_step_bench.cpp: whole-model training and inference steps, the
configurations of shared/PERF.md, with the same names as afinar_bench.

Synthetic data on the device, 10 classes, Adam over the parameters that train, cudnn.benchmark;
a step is zero_grad(set_to_none), forward, cross_entropy, backward, step (inference: eval mode
under no_grad), followed by a synchronisation; the median of 30 steps after 8 warm-up steps (CPU:
5 after 2). The _bf16 rows run the forward and the loss under autocast(bfloat16); the _cl and
_bf16cl rows put the model and the batch in channels_last (PERF.md's "bf16+cl"). Prints
`name<TAB>seconds` per row, as tools/bench/compare.py reads; with --peak a third
column, the peak bytes allocated during the timed steps (torch.cuda.max_memory_allocated; "-" on
the CPU, which PyTorch does not count).

    python3 bench/torch/train_step.py [name_regex] [--peak]
"""
import argparse
import re
import statistics
import time

import torch
import torch.fx.experimental.optimization
import torch.nn.functional as F
import torchvision

from timing import setup_threads

CLASSES = 10


def model_for(arch, mode):
    model = getattr(torchvision.models, arch)(num_classes=CLASSES)
    if mode == "frozen":
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("fc."))
    elif mode == "seed000":  # seed 000: global average pool, a 512 -> 10 head, block 5 trains
        model.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
        model.classifier = torch.nn.Linear(512, CLASSES)
        trains = ("features.24.", "features.26.", "features.28.", "classifier.")
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(trains))
    return model


def make_step(arch, mode, batch, size, device, precision):
    model = model_for(arch, mode).to(device)
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device)
    y = (torch.arange(batch) % CLASSES).to(device)
    if precision.endswith("cl"):
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=precision.startswith("bf16"))
    if mode in ("inference", "folded"):
        model.eval()
        if mode == "folded":  # conv + batch norm folded, as afinar's nn::fuse_conv_bn
            model = torch.fx.experimental.optimization.fuse(model)

        def step():
            with torch.no_grad(), autocast:
                model(x)
        return step
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def measure(step, device):
    """(median seconds per step, peak bytes during the timed steps or None)."""
    gpu = device == "cuda"
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    for _ in range(8 if gpu else 2):
        step()
    sync()
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(30 if gpu else 5):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), torch.cuda.max_memory_allocated() if gpu else None


# (model, mode, batch, size, device), named as bench/train_step_bench.cpp names them; PERF.md's
# bf16 configurations run as _bf16 and _bf16cl (PERF.md's reference).
FP32 = [
    ("resnet18", "full", 64, 224, "cuda"), ("resnet18", "full", 256, 224, "cuda"),
    ("resnet18", "frozen", 64, 224, "cuda"), ("resnet18", "inference", 256, 224, "cuda"),
    ("vgg16", "full", 64, 224, "cuda"), ("vgg16", "seed000", 64, 224, "cuda"),
    ("vgg16", "inference", 128, 224, "cuda"), ("resnet50", "full", 64, 224, "cuda"),
    ("resnet18", "full", 16, 64, "cpu"), ("resnet18", "frozen", 16, 64, "cpu"),
    ("resnet18", "inference", 16, 64, "cpu"), ("vgg16", "seed000", 4, 64, "cpu"),
    ("resnet18", "folded", 256, 224, "cuda"), ("resnet18", "folded", 16, 64, "cpu"),
]
BF16 = [
    ("resnet18", "full", 256, 224, "cuda"), ("resnet18", "frozen", 256, 224, "cuda"),
    ("resnet18", "inference", 256, 224, "cuda"), ("vgg16", "full", 64, 224, "cuda"),
    ("vgg16", "seed000", 64, 224, "cuda"), ("resnet50", "full", 128, 224, "cuda"),
    ("resnet18", "folded", 256, 224, "cuda"),
]
CASES = ([c + ("fp32",) for c in FP32] + [c + ("bf16",) for c in BF16] +
         [c + ("bf16cl",) for c in BF16] + [("resnet18", "full", 16, 64, "cpu", "bf16"),
                                            ("resnet18", "full", 16, 64, "cpu", "cl")])


def name_of(arch, mode, batch, size, device, precision):
    suffix = ("" if precision == "fp32" else "_" + precision)
    suffix += "_cuda" if device == "cuda" else "_%dpx_cpu" % size
    return "TrainStep/%s_%s_b%d%s" % (arch, mode, batch, suffix)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("filter", nargs="?", default="", help="regex on the names")
    p.add_argument("--peak", action="store_true", help="print the peak bytes as a third column")
    args = p.parse_args()
    setup_threads()
    torch.backends.cudnn.benchmark = True
    for case in CASES:
        name = name_of(*case)
        if not re.search(args.filter, name) or (case[4] == "cuda" and not torch.cuda.is_available()):
            continue
        seconds, peak = measure(make_step(*case), case[4])
        extra = ("\t%s" % (peak if peak is not None else "-")) if args.peak else ""
        print("%s\t%.6g%s" % (name, seconds, extra), flush=True)


if __name__ == "__main__":
    main()

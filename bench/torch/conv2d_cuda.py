"""PyTorch reference for the CUDA benchmarks of bench/conv2d_bench.cpp: conv2d on the GPU, f32.

Prints `name<TAB>seconds_per_iter` for the same benchmark names as afinar_bench, so
tools/gpu/compare_cuda.py can put them side by side:

    python3 bench/torch/conv2d_cuda.py [name_regex]

Settings are PyTorch's training defaults, which afinar's benchmarks also use:
torch.backends.cudnn.benchmark = True (the measured algorithm choice; the warm-up pays for it)
and torch.backends.cudnn.allow_tf32 = True. Shapes: batch 64, 3x3, stride 1, padding 1, no bias,
C = K: ResNet18's 3x3 layers (c64_56 ... c512_7) and VGG16's (vgg_c64_224 ... vgg_c512_14).
Conv2dCudaFwdBwd is the three ops a trained layer runs, as afinar times them (the raw ops, no
autograd): F.conv2d under no_grad, then aten's convolution_backward for dL/dx and dL/dw;
Conv2dCudaFwd / BwdInput / BwdWeight time one of them. Conv2dCudaAlgo/Cudnn/c256_14 is
afinar's cuDNN row of its algorithm comparison (PyTorch has only cuDNN).

Timing: CUDA events around `reps` calls, five batches after a warm-up, the median.
"""
import re
import statistics
import sys

import torch
import torch.nn.functional as F

BATCH = 64
LAYERS = [("c64_56", 64, 56), ("c128_28", 128, 28), ("c256_14", 256, 14), ("c512_7", 512, 7),
          ("vgg_c64_224", 64, 224), ("vgg_c128_112", 128, 112), ("vgg_c256_56", 256, 56),
          ("vgg_c512_28", 512, 28), ("vgg_c512_14", 512, 14)]


def seconds_per_iter(step, reps=10, batches=5, warmup=3):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    samples = []
    for _ in range(batches):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(reps):
            step()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e-3 / reps)
    return statistics.median(samples)


def steps(channels, size):
    """The timed function of each pass for one layer shape."""
    gen = torch.Generator(device="cuda").manual_seed(1)
    x = torch.randn(BATCH, channels, size, size, device="cuda", generator=gen)
    w = torch.randn(channels, channels, 3, 3, device="cuda", generator=gen)
    gy = torch.randn(BATCH, channels, size, size, device="cuda", generator=gen)

    def fwd():
        with torch.no_grad():
            F.conv2d(x, w, padding=1)

    def backward(mask):
        return lambda: torch.ops.aten.convolution_backward(
            gy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

    bwd_input, bwd_weight = backward([True, False, False]), backward([False, True, False])

    def fwd_bwd():
        fwd()
        bwd_input()
        bwd_weight()

    return [("Conv2dCudaFwdBwd", fwd_bwd), ("Conv2dCudaFwd", fwd),
            ("Conv2dCudaBwdInput", bwd_input), ("Conv2dCudaBwdWeight", bwd_weight)]


def main():
    pattern = re.compile(sys.argv[1] if len(sys.argv) > 1 else "")
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    for layer, channels, size in LAYERS:
        for prefix, step in steps(channels, size):
            names = ["%s/%s" % (prefix, layer)]
            if prefix == "Conv2dCudaFwdBwd" and layer == "c256_14":
                names.append("Conv2dCudaAlgo/Cudnn/c256_14")
            names = [n for n in names if pattern.search(n)]
            if names:
                seconds = seconds_per_iter(step)
                for name in names:
                    print("%s\t%.6g" % (name, seconds), flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

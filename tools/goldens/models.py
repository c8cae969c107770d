"""Goldens for afinar's nn models (tests/nn/models_test.cpp) from torchvision 0.14's models.

Two files:

tests/data/goldens/models.h5: the structure of every architecture, one group per name
  keys     uint8  the state_dict keys in order, joined by "\\n" (UTF-8)
  shapes   int64  every key's shape, concatenated;  ndims int64: each key's number of dims
  repr     uint8  print(model) for a few architectures (one per code path)
  attrs    num_params (sum of parameter sizes), num_classes (1000)

tests/data/goldens/models_logits.h5: logits of models whose every state_dict tensor is filled
from a formula (below) that the C++ test computes too, so no weights are committed:
  input                [2, 3, 64, 64] float32, the formula with key index 2^20 (values in [-1, 1))
  <arch>/logits        eval mode, [2, 1000] float32 (resnet18, resnet50, vgg16, vgg11_bn,
                       resnext50_32x4d, wide_resnet50_2)
  resnet18_train/      train mode (batch statistics): logits, then every BatchNorm buffer after
                       the forward (<key> datasets: running_mean, running_var,
                       num_batches_tracked), and the gradients of a few parameters for
                       loss = sum(logits * grad_logits) (grad_<key> datasets; grad_logits stored)
  resnet18_train_bf16/ the same model and input in train mode under
                       torch.autocast("cpu", dtype=torch.bfloat16): logits (bf16, stored as
                       float32), loss = cross_entropy(logits, target) (float32, target stored),
                       the running statistics, and the float32 gradients of the same parameters
                       after loss.backward() outside the autocast region

The fill formula (exact in float64, then cast to the tensor's dtype; key index k is the key's
position in the state_dict, element index i its position in row-major order):
  x = (k << 40) + i as uint64, then MurmurHash3's fmix64:
      x ^= x >> 33; x *= 0xff51afd7ed558ccd; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53; x ^= x >> 33
  u = (x >> 11) * 2^-53 in [0, 1), s = 2u - 1 in [-1, 1)
  num_batches_tracked: k;  running_var: 0.5 + u;  running_mean: 0.1 s
  weights of >= 2 dims (conv, linear): s * sqrt(6 / fan_in), fan_in = numel / size(0)
    (variance 2 / fan_in, He's: activations keep their scale through depth)
  other weights (BatchNorm's gamma): 0.5 + 0.5 u;  biases: 0.1 s
An integer hash instead of a sine of the index: every step is exact in both languages (uint64
wrap-around, one rounding per float64 operation), so both sides load bit-identical weights.

Run from the repository root: /usr/bin/python3 tools/goldens/models.py
"""
import numpy as np
import torch
import torchvision

from common import write_cases

ARCHS = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
         "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
         "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"]
REPR_ARCHS = ["resnet18", "resnet50", "vgg11_bn", "vgg16", "resnext50_32x4d"]
EVAL_ARCHS = ["resnet18", "resnet50", "vgg16", "vgg11_bn", "resnext50_32x4d", "wide_resnet50_2"]
TRAIN_ARCH = "resnet18"
TRAIN_GRADS = ["conv1.weight", "bn1.weight", "bn1.bias", "layer2.0.downsample.1.weight",
               "layer4.1.bn2.weight", "layer4.1.bn2.bias", "fc.bias"]
INPUT_KEY = 1 << 20
GRAD_LOGITS_KEY = (1 << 20) + 1
INPUT_SHAPE = (2, 3, 64, 64)

M1 = np.uint64(0xFF51AFD7ED558CCD)
M2 = np.uint64(0xC4CEB9FE1A85EC53)


def uniform01(key_index, n):
    """u in [0, 1) for elements 0..n-1 of key `key_index` (the formula above)."""
    x = (np.uint64(key_index) << np.uint64(40)) + np.arange(n, dtype=np.uint64)
    x ^= x >> np.uint64(33)
    x *= M1
    x ^= x >> np.uint64(33)
    x *= M2
    x ^= x >> np.uint64(33)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def formula_value(name, key_index, shape, dtype):
    """The tensor the formula gives for state_dict entry `name` at position key_index."""
    n = int(np.prod(shape, dtype=np.int64))
    if name.endswith("num_batches_tracked"):
        return torch.full(shape, key_index, dtype=dtype)
    u = uniform01(key_index, n)
    if name.endswith("running_var"):
        v = 0.5 + u
    elif name.endswith("running_mean"):
        v = 0.1 * (2 * u - 1)
    elif len(shape) >= 2:
        v = (2 * u - 1) * np.sqrt(6.0 / (n // shape[0]))
    elif name.endswith("weight"):
        v = 0.5 + 0.5 * u
    else:
        v = 0.1 * (2 * u - 1)
    return torch.from_numpy(v.reshape(shape)).to(dtype)


def filled_model(arch):
    model = getattr(torchvision.models, arch)()
    sd = model.state_dict()
    model.load_state_dict({name: formula_value(name, k, tuple(t.shape), t.dtype)
                           for k, (name, t) in enumerate(sd.items())})
    return model


def utf8(text):
    return torch.tensor(list(text.encode("utf-8")), dtype=torch.uint8)


def structure_cases():
    cases = []
    for arch in ARCHS:
        model = getattr(torchvision.models, arch)()
        sd = model.state_dict()
        tensors = {
            "keys": utf8("\n".join(sd.keys())),
            "shapes": torch.tensor([d for t in sd.values() for d in t.shape], dtype=torch.int64),
            "ndims": torch.tensor([t.dim() for t in sd.values()], dtype=torch.int64),
        }
        if arch in REPR_ARCHS:
            tensors["repr"] = utf8(repr(model))
        num_params = sum(p.numel() for p in model.parameters())
        cases.append((arch, tensors, {"num_params": num_params, "num_classes": 1000}))
    return cases


def logits_cases():
    x = torch.from_numpy(2 * uniform01(INPUT_KEY, int(np.prod(INPUT_SHAPE))) - 1)
    x = x.reshape(INPUT_SHAPE).float()
    cases = [("input", {"x": x}, {})]
    with torch.no_grad():
        for arch in EVAL_ARCHS:
            cases.append((arch, {"logits": filled_model(arch).eval()(x)}, {}))

    model = filled_model(TRAIN_ARCH).train()
    logits = model(x)
    grad_logits = torch.from_numpy(2 * uniform01(GRAD_LOGITS_KEY, logits.numel()) - 1)
    grad_logits = grad_logits.reshape(logits.shape).float()
    (logits * grad_logits).sum().backward()
    params = dict(model.named_parameters())
    tensors = {"logits": logits, "grad_logits": grad_logits}
    tensors.update(dict(model.named_buffers()))  # every BatchNorm's running statistics
    tensors.update({"grad_" + name: params[name].grad for name in TRAIN_GRADS})
    cases.append((TRAIN_ARCH + "_train", tensors, {}))

    model = filled_model(TRAIN_ARCH).train()
    target = torch.tensor([3, 997])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, target)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    params = dict(model.named_parameters())
    tensors = {"logits": logits.float(), "loss": loss.detach(), "target": target}
    tensors.update(dict(model.named_buffers()))
    tensors.update({"grad_" + name: params[name].grad for name in TRAIN_GRADS})
    cases.append((TRAIN_ARCH + "_train_bf16", tensors, {}))
    return cases


def main():
    torch.set_num_threads(2)
    write_cases("models", structure_cases())
    write_cases("models_logits", logits_cases())


if __name__ == "__main__":
    main()

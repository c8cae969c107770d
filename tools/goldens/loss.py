"""Goldens for cross_entropy (tests/ops/loss_test.cpp, CrossEntropy.MatchesTorchGolden).

Each case stores logits [N, C], target [N] int64, weight [C] (when used), the loss, and the
gradient of the logits. For reduction "none" the backward runs with a stored upstream gradient
grad_loss [N]; otherwise with 1. Attributes: reduction (0 none, 1 mean, 2 sum), ignore_index,
label_smoothing. Covers class weights, label smoothing 0.1, both together, ignored rows (with the
default ignore_index -100 and with an ignore_index that is also a valid class), all reductions,
and one float32 case.

Probability-target cases store target [N, C] (floating; rows that are distributions, and one case
with rows that are not, which PyTorch does not check) and, as the target requires grad there,
grad_target.
"""
import torch
import torch.nn.functional as F

from common import randn, seeded, write_cases

N, C = 8, 5
# The reduction as an int attribute, with PyTorch's own codes (at::Reduction): afinar's hdf5
# reader does not read h5py's string attributes back reliably yet.
REDUCTION_CODES = {"none": 0, "mean": 1, "sum": 2}


def case(name, seed, reduction="mean", weighted=False, smoothing=0.0, ignore_rows=(),
         ignore_index=-100, dtype=torch.float64, probabilities=None):
    """probabilities: None for class indices, "softmax" for rows that sum to 1, "uniform" for
    rows of independent values in [0, 1)."""
    gen = seeded(seed)
    logits = (2.0 * randn((N, C), gen, dtype)).requires_grad_(True)
    if probabilities == "softmax":
        target = torch.softmax(randn((N, C), gen, dtype), 1).requires_grad_(True)
    elif probabilities == "uniform":
        target = torch.rand((N, C), generator=gen, dtype=torch.float64).to(dtype)
        target.requires_grad_(True)
    else:
        target = torch.randint(0, C, (N,), generator=gen)
    for r in ignore_rows:
        target[r] = ignore_index
    weight = None
    if weighted:
        weight = (0.5 + torch.rand(C, generator=gen, dtype=torch.float64)).to(dtype)
    loss = F.cross_entropy(logits, target, weight=weight, ignore_index=ignore_index,
                           reduction=reduction, label_smoothing=smoothing)
    tensors = {"logits": logits, "target": target, "loss": loss}
    if weight is not None:
        tensors["weight"] = weight
    if reduction == "none":
        grad_loss = randn((N,), gen, dtype)
        tensors["grad_loss"] = grad_loss
        loss.backward(grad_loss)
    else:
        loss.backward()
    tensors["grad_logits"] = logits.grad
    if probabilities:
        tensors["grad_target"] = target.grad
    attrs = {"reduction": REDUCTION_CODES[reduction], "ignore_index": ignore_index,
             "label_smoothing": smoothing}
    return name, tensors, attrs


def main():
    cases = [
        case("weights_mean", 1, weighted=True),
        case("smoothing_mean", 2, smoothing=0.1),
        case("weights_smoothing_mean", 3, weighted=True, smoothing=0.1),
        case("weights_smoothing_ignore_mean", 4, weighted=True, smoothing=0.1, ignore_rows=(1, 5)),
        case("weights_smoothing_ignore_sum", 5, "sum", weighted=True, smoothing=0.1,
             ignore_rows=(0, 6)),
        case("weights_smoothing_ignore_none", 6, "none", weighted=True, smoothing=0.1,
             ignore_rows=(2, 3)),
        case("smoothing_ignore_mean", 7, smoothing=0.1, ignore_rows=(4,)),
        case("smoothing_ignore_none", 8, "none", smoothing=0.1, ignore_rows=(7,)),
        case("ignore_sum", 9, "sum", ignore_rows=(1, 2)),
        # ignore_index 1 is also a valid class: every row labelled 1 is ignored
        case("ignore_valid_class_weights_smoothing_mean", 10, weighted=True, smoothing=0.1,
             ignore_index=1),
        case("f32_weights_smoothing_ignore_mean", 11, weighted=True, smoothing=0.1,
             ignore_rows=(3,), dtype=torch.float32),
        case("probabilities_mean", 12, probabilities="softmax"),
        case("probabilities_weights_smoothing_mean", 13, weighted=True, smoothing=0.1,
             probabilities="softmax"),
        case("probabilities_weights_sum", 14, "sum", weighted=True, probabilities="uniform"),
        case("probabilities_smoothing_none", 15, "none", smoothing=0.2, probabilities="softmax"),
        case("f32_probabilities_weights_smoothing_mean", 16, weighted=True, smoothing=0.1,
             dtype=torch.float32, probabilities="softmax"),
    ]
    write_cases("loss", cases)


if __name__ == "__main__":
    main()

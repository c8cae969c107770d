// topk_correct: how many rows of a batch have their target among the k largest logits — the
// numerator of top-k accuracy, computed where the logits are so that a training loop can add it
// up on the GPU and read it once per log interval instead of once per step.
//
//   logits [N, C] floating, target [N] int64, 1 <= k <= C  ->  count: int64 0-D, same device
//   rank(n) = #{ j : x_nj ranks above x_nt }        (t = target_n)
//   count   = #{ n : 0 <= t < C and rank(n) < k }
// "Ranks above" is topk's order (ops/topk_rule.h): NaN above every number, ties to the lower
// index, so a row counts exactly when topk(logits, k).indices holds its target, and k = 1 agrees
// with argmax. Rows whose target is outside [0, C) (an ignore_index such as -100) never count and
// are not an error, so the GPU needs no check that would synchronise. Not differentiable.
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

Tensor topk_correct(const Tensor& logits, const Tensor& target, int64_t k = 1);

namespace ops {

// Backend kernel: logits [N, C] and target [N] contiguous, count a preallocated int64 0-D tensor
// it overwrites.
using TopkCorrectFn = void(const Tensor& count, const Tensor& logits, const Tensor& target,
                           int64_t k);
AFN_DECLARE_KERNEL(topk_correct, TopkCorrectFn);

}  // namespace ops
}  // namespace afinar

// Classification losses with class-index targets, as torch.nn.functional.nll_loss and
// cross_entropy (PyTorch 1.13, aten/src/ATen/native/LossNLL.cpp).
//
// Shapes: log-probabilities or logits x [N, C], target t [N] int64 with t_i ∈ [0, C) or
// t_i = ignore_index, optional class weights w [C] (w = 1 when undefined). Row i counts when
// t_i != ignore_index (m_i = 1, else 0).
//
//   nll_loss:       ℓ_i = -w[t_i] · logp_{i,t_i} · m_i
//   cross_entropy:  logp = log_softmax(x, 1), then with label smoothing ε:
//                   ℓ_i = (1-ε) · nll_i + ε · s_i / C,   s_i = -Σ_c w_c · logp_{i,c} · m_i
// Reductions, with the total weight W = Σ_i m_i · w[t_i] (the number of counted rows when there
// are no weights):
//   none: ℓ [N]      sum: Σ_i ℓ_i      mean: Σ_i ℓ_i / W
// PyTorch divides the smoothing term by the same W in the mean (the number of counted rows
// without weights), so mean = Σ ℓ_i / W holds for both terms. Every row ignored gives 0/0 = NaN
// for mean, as in PyTorch, and so does W = 0 with ε > 0 (PyTorch's NLL term is then 0/0).
//
// Probability targets (cross_entropy only, PyTorch's cross_entropy_loss_prob_target): a floating
// target y [N, C] of the logits' dtype, each row a distribution over the classes (not checked, as
// in PyTorch; soft labels, mixup). With y' = (1-ε)·y + ε/C:
//   ℓ_i = -Σ_c w_c · y'_{i,c} · logp_{i,c}      none: ℓ [N]   sum: Σ_i ℓ_i   mean: Σ_i ℓ_i / N
// The mean divides by N whatever the weights (N = 0 gives NaN); ignore_index must stay negative
// (its default). It is built from differentiable ops, so a target that requires grad gets
// dL/dy_{i,c} = -a_i · (1-ε) · w_c · logp_{i,c} as in PyTorch.
//
// Backward (with a_i = g for sum, g / W for mean, g_i for none):
//   dℓ/dlogp_{i,c} = -a_i · m_i · ((1-ε) · w[t_i] · [c = t_i] + ε · w_c / C)
//   cross_entropy then goes through log_softmax: dL/dx = G - exp(logp) · Σ_c G_c  (G = dL/dlogp).
// The class weights are constants (no gradient flows to them, as in PyTorch).
#pragma once

#include <cstdint>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

enum class Reduction : uint8_t { None, Mean, Sum };

struct NllLossOptions {
  Tensor weight{};  // [C], same dtype as the input; undefined: every class weighs 1
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
};

struct CrossEntropyOptions {
  Tensor weight{};  // [C], same dtype as the logits; undefined: every class weighs 1
  int64_t ignore_index = -100;
  Reduction reduction = Reduction::Mean;
  double label_smoothing = 0.0;  // ε ∈ [0, 1]
};

// Differentiable in their first argument (and in a probability target):
//   Tensor loss = cross_entropy(logits, labels, {.weight = w, .label_smoothing = 0.1});
//   Tensor soft = cross_entropy(logits, probabilities);  // probabilities [N, C], logits' dtype
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const NllLossOptions& opt = {});
Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& opt = {});

namespace ops {

// The checks of a probability target (shape, dtype, device, options) for cross_entropy; returns
// the options with the weight made contiguous.
CrossEntropyOptions check_probability_target(const Tensor& logits, const Tensor& target,
                                             const CrossEntropyOptions& opt);

// The loss and W (0-D, the input's dtype), which the mean's backward divides by.
struct LossForward {
  Tensor loss;  // [N] for Reduction::None, else 0-D
  Tensor total_weight;
};

// The NLL raw ops take the label smoothing ε too (nll_loss passes 0), so cross_entropy is
// log_softmax followed by them; cross_entropy has its own kernels so a backend can fuse both.
LossForward nll_loss_forward(const Tensor& log_probs, const Tensor& target,
                             const CrossEntropyOptions& opt);
// dL/dlogp [N, C] (N from target, C = num_classes); the values of logp are not needed.
Tensor nll_loss_backward(const Tensor& grad_loss, const Tensor& target, const Tensor& total_weight,
                         int64_t num_classes, const CrossEntropyOptions& opt);
// Also returns logp = log_softmax(logits, 1), which the backward needs.
struct CrossEntropyForward {
  Tensor loss;
  Tensor total_weight;
  Tensor log_probs;
};
CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& target,
                                          const CrossEntropyOptions& opt);
Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& target, const Tensor& total_weight,
                              const CrossEntropyOptions& opt);

// Backend kernels: contiguous tensors, outputs preallocated, opt.weight contiguous or undefined.
// Shapes as above; the kernels check every target value (they are data, not metadata).
using NllLossForwardFn = void(const Tensor& loss, const Tensor& total_weight,
                              const Tensor& log_probs, const Tensor& target,
                              const CrossEntropyOptions& opt);
using NllLossBackwardFn = void(const Tensor& grad_input, const Tensor& grad_loss,
                               const Tensor& target, const Tensor& total_weight,
                               const CrossEntropyOptions& opt);
using CrossEntropyForwardFn = void(const Tensor& loss, const Tensor& total_weight,
                                   const Tensor& log_probs, const Tensor& logits,
                                   const Tensor& target, const CrossEntropyOptions& opt);
using CrossEntropyBackwardFn = void(const Tensor& grad_logits, const Tensor& grad_loss,
                                    const Tensor& log_probs, const Tensor& target,
                                    const Tensor& total_weight, const CrossEntropyOptions& opt);
AFN_DECLARE_KERNEL(nll_loss_forward, NllLossForwardFn);
AFN_DECLARE_KERNEL(nll_loss_backward, NllLossBackwardFn);
AFN_DECLARE_KERNEL(cross_entropy_forward, CrossEntropyForwardFn);
AFN_DECLARE_KERNEL(cross_entropy_backward, CrossEntropyBackwardFn);

}  // namespace ops
}  // namespace afinar

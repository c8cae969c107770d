// 2-D batch normalisation, exactly torch.nn.functional.batch_norm on a 4-D input.
//
//   x [N, C, H, W];  weight (γ), bias (β), running_mean, running_var: [C], each optional
//   (an undefined Tensor means none: γ = 1, β = 0, no running statistics).
//   Per channel c the statistics run over n = N·H·W values.
//   x may be bf16 with float32 weight, bias and running statistics (autocast's mixed batch norm,
//   as PyTorch): y and dL/dx are bf16, μ, invstd and the parameters' gradients float32.
//
// Forward, training (batch statistics; needs n > 1, as PyTorch):
//   μ = (1/n) Σ x,   σ² = (1/n) Σ (x - μ)²   (biased),   invstd = 1 / sqrt(σ² + eps)
//   y = γ · (x - μ) · invstd + β
//   and, when given, the running statistics are updated in place with m = momentum:
//   running_mean = (1 - m) · running_mean + m · μ
//   running_var  = (1 - m) · running_var  + m · σ² · n / (n - 1)   (unbiased)
// Forward, eval (running statistics, both required):
//   μ = running_mean,  invstd = 1 / sqrt(running_var + eps),  y = γ · (x - μ) · invstd + β
//
// Backward (g = dL/dy, x̂ = (x - μ) · invstd, sums and means over N, H, W of one channel):
//   dL/dγ = Σ g · x̂,   dL/dβ = Σ g
//   training:  dL/dx = γ · invstd · (g - mean(g) - x̂ · mean(g · x̂))   (μ and σ² depend on x)
//   eval:      dL/dx = γ · invstd · g                                  (fixed statistics)
//
// Fused epilogue (batch_norm2d_add_relu), for ResNet's blocks: relu(bn(x) + identity) and
// relu(bn(x)) in one pass over the data instead of three (bn, add, relu), the intermediate sums
// never allocated:
//   y = relu(γ · (x - μ) · invstd + β + r)      r [N, C, H, W] optional, relu as relu_rule.h
//   backward: g' = relu'(g, y);  dL/dr = g';  dL/dx, dL/dγ, dL/dβ as above from g'
// Bit for bit the unfused ops' values in the same dtype (the same expressions in the same order).
//
// Momentum: like torch.nn.functional.batch_norm, `momentum` is the exponential-average factor
// itself. The module (nn::BatchNorm2d) passes 0.1 by default, and for momentum=None (PyTorch's
// cumulative moving average) it counts num_batches_tracked and passes 1 / num_batches_tracked.
#pragma once

#include <array>

#include "afinar/core/tensor.h"
#include "afinar/ops/add_relu_epilogue.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

// Differentiable in x, weight and bias (only the gradients that are needed are computed). In
// training mode running_mean / running_var, when defined, are updated in place.
Tensor batch_norm2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var, bool training,
                    double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm2d(x, ...) + residual), fused (see the top); `residual` may be undefined (none).
// Differentiable in x, weight, bias and residual.
Tensor batch_norm2d_add_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var,
                             const Tensor& residual, bool training, double momentum = 0.1,
                             double eps = 1e-5);

namespace ops {

// y, plus the per-channel μ and invstd [C] used to normalise (batch statistics in training, the
// running ones in eval: fresh tensors either way, so later running-stat updates cannot change
// what backward sees).
struct BatchNorm2dForward {
  Tensor y, mean, invstd;
};
BatchNorm2dForward batch_norm2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                        const Tensor& running_mean, const Tensor& running_var,
                                        bool training, double momentum, double eps,
                                        const AddReluEpilogue& epilogue = {});

// Gradients of x, weight, bias and the epilogue's residual; each computed only where
// output_mask says so (undefined otherwise). mean / invstd are the forward's; `training` picks
// the dL/dx formula; `relu_output`, when defined, is the output of a forward with a relu
// epilogue, whose mask applies to grad_output first.
struct BatchNorm2dGrads {
  Tensor grad_input, grad_weight, grad_bias, grad_residual;
};
BatchNorm2dGrads batch_norm2d_backward(const Tensor& grad_output, const Tensor& x,
                                       const Tensor& weight, const Tensor& mean,
                                       const Tensor& invstd, bool training,
                                       std::array<bool, 4> output_mask,
                                       const Tensor& relu_output = {});

// Backend kernels: contiguous tensors of one dtype (x, y, g [N,C,H,W]; the rest [C]); outputs
// preallocated contiguous. Undefined optional inputs mean none (γ = 1, β = 0, no running stats);
// an undefined output is not computed.
struct BatchNorm2dForwardArgs {
  Tensor y, mean, invstd;            // outputs
  Tensor x, weight, bias;            // inputs
  Tensor running_mean, running_var;  // read in eval, updated in training
  bool training = true;
  double momentum = 0.1, eps = 1e-5;
  Tensor residual;  // the epilogue: y += residual when defined, then relu when `relu`
  bool relu = false;
};
struct BatchNorm2dBackwardArgs {
  Tensor grad_input, grad_weight, grad_bias;  // outputs, each may be undefined
  Tensor grad_output, x, weight, mean, invstd;
  bool training = true;
};
using BatchNorm2dForwardFn = void(const BatchNorm2dForwardArgs& args);
using BatchNorm2dBackwardFn = void(const BatchNorm2dBackwardArgs& args);
AFN_DECLARE_KERNEL(batch_norm2d_forward, BatchNorm2dForwardFn);
AFN_DECLARE_KERNEL(batch_norm2d_backward, BatchNorm2dBackwardFn);

}  // namespace ops
}  // namespace afinar

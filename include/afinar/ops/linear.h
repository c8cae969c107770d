// Linear (fully connected) layer, exactly torch.nn.functional.linear.
//
//   x [..., in]  (any number of leading dims, none included: they are flattened to M rows)
//   weight [out, in]  (PyTorch's layout: one row per output feature)
//   bias [out]  (optional: an undefined Tensor means no bias)
//
//   forward:          y = x Wᵀ + b                      y [..., out]
//   backward input:   dL/dx = g W                       [..., in]   (g = dL/dy [..., out])
//   backward weight:  dL/dW = gᵀ x                      [out, in]   (over the M flattened rows)
//   backward bias:    dL/db = Σ_rows g                  [out]
//
// Each backward is its own op with its own kernel table, so a frozen layer (weight without
// requires_grad) runs no weight-gradient GEMM at all: op_call_count("linear_backward_weight")
// stays 0. The CPU backend is OpenBLAS GEMM (cblas_sgemm / cblas_dgemm).
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

// Differentiable; computes only the gradients of the inputs that require them.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

namespace ops {

Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias);
// g [..., out] -> dL/dx [..., in] (the leading dims of g are kept).
Tensor linear_backward_input(const Tensor& grad_output, const Tensor& weight);
// g [..., out], x [..., in] (same leading dims) -> dL/dW [out, in].
Tensor linear_backward_weight(const Tensor& grad_output, const Tensor& x);
// g [..., out] -> dL/db [out].
Tensor linear_backward_bias(const Tensor& grad_output);

// Backend kernels: contiguous 2-D operands of one dtype with M = rows (M may be 0), outputs
// preallocated contiguous. `bias` may be undefined.
//   forward          y [M, out]  from x [M, in], weight [out, in], bias [out]
//   backward_input   gx [M, in]  from g [M, out], weight [out, in]
//   backward_weight  gw [out, in] from g [M, out], x [M, in]
//   backward_bias    gb [out]    from g [M, out]
using LinearForwardFn = void(const Tensor& y, const Tensor& x, const Tensor& weight,
                             const Tensor& bias);
using LinearBackwardInputFn = void(const Tensor& grad_input, const Tensor& grad_output,
                                   const Tensor& weight);
using LinearBackwardWeightFn = void(const Tensor& grad_weight, const Tensor& grad_output,
                                    const Tensor& x);
using LinearBackwardBiasFn = void(const Tensor& grad_bias, const Tensor& grad_output);
AFN_DECLARE_KERNEL(linear_forward, LinearForwardFn);
AFN_DECLARE_KERNEL(linear_backward_input, LinearBackwardInputFn);
AFN_DECLARE_KERNEL(linear_backward_weight, LinearBackwardWeightFn);
AFN_DECLARE_KERNEL(linear_backward_bias, LinearBackwardBiasFn);

}  // namespace ops
}  // namespace afinar

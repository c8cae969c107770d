// Softmax and log-softmax over one dimension (any dim, negative counts from the end).
//
//   softmax:      y_c = exp(x_c - m) / Σ_k exp(x_k - m)          m = max_k x_k
//   log_softmax:  y_c = x_c - m - log Σ_k exp(x_k - m)
// Subtracting the row maximum m changes nothing mathematically and keeps every exp() in (0, 1],
// so logits of ±1000 stay finite. Backward, with g = dL/dy and sums over the softmax dim:
//   softmax:      dL/dx = y ⊙ (g - Σ_k g_k y_k)
//   log_softmax:  dL/dx = g - exp(y) · Σ_k g_k
// Both backward rules need only the output y, which is what the autograd rules save.
//
// The backends see every tensor as a contiguous [outer, C, inner] block: C is the size of the
// softmax dim, outer the product of the sizes before it, inner the product after it. A 0-D tensor
// counts as [1] (PyTorch: softmax of a scalar is 1).
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dim_split.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

Tensor softmax(const Tensor& x, int64_t dim);      // differentiable
Tensor log_softmax(const Tensor& x, int64_t dim);  // differentiable

namespace ops {

Tensor softmax_forward(const Tensor& x, int64_t dim);
Tensor log_softmax_forward(const Tensor& x, int64_t dim);
// grad_input from grad_output and the forward's output y (same shape).
Tensor softmax_backward(const Tensor& grad_output, const Tensor& y, int64_t dim);
Tensor log_softmax_backward(const Tensor& grad_output, const Tensor& y, int64_t dim);

// Backend kernels: every tensor contiguous [outer, C, inner] of one floating dtype, outputs
// preallocated.
using SoftmaxForwardFn = void(const Tensor& y, const Tensor& x);
using SoftmaxBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output,
                               const Tensor& y);
AFN_DECLARE_KERNEL(softmax_forward, SoftmaxForwardFn);
AFN_DECLARE_KERNEL(softmax_backward, SoftmaxBackwardFn);
AFN_DECLARE_KERNEL(log_softmax_forward, SoftmaxForwardFn);
AFN_DECLARE_KERNEL(log_softmax_backward, SoftmaxBackwardFn);

}  // namespace ops
}  // namespace afinar

// Activations.
//
//   relu:  y = max(x, 0)          dL/dx = g · [y > 0]   (0 at x = 0, as PyTorch)
//   NaN propagates in both directions and -0.0 is kept, as torch.relu (afinar/ops/relu_rule.h).
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

Tensor relu(const Tensor& x);  // differentiable

namespace ops {

Tensor relu_forward(const Tensor& x);
// grad_input from grad_output and the forward's output y.
Tensor relu_backward(const Tensor& grad_output, const Tensor& y);

// Backend kernels: contiguous inputs, `out` preallocated contiguous.
using ReluForwardFn = void(const Tensor& y, const Tensor& x);
using ReluBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output, const Tensor& y);
AFN_DECLARE_KERNEL(relu_forward, ReluForwardFn);
AFN_DECLARE_KERNEL(relu_backward, ReluBackwardFn);

}  // namespace ops
}  // namespace afinar

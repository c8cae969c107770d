// Adaptive pooling: a fixed output size P×Q whatever the input's H×W, exactly as
// torch.nn.functional.adaptive_avg_pool2d / adaptive_max_pool2d (PyTorch 1.13).
//
// Shapes: x [N,C,H,W] -> y [N,C,P,Q], any P, Q >= 1 (larger than H, W too: upsampling); an
// unbatched [C,H,W] -> [C,P,Q] (ops/unbatched.h).
// Window of output (p,q): rows [⌊p·H/P⌋, ⌈(p+1)·H/P⌉) × cols [⌊q·W/Q⌋, ⌈(q+1)·W/Q⌉). Windows
// are never empty; they overlap when P does not divide H, and repeat rows when P > H.
//
// adaptive_avg_pool2d:
//   y[n,c,p,q]     = Σ_{window} x[n,c,h,w] / |window|
//   dL/dx[n,c,h,w] = Σ_{(p,q) whose window holds (h,w)} g[n,c,p,q] / |window(p,q)|
// adaptive_max_pool2d (scan and tie / NaN rules of max_pool2d, see pool2d.h):
//   y[n,c,p,q] = max over the window, indices[n,c,p,q] = h·W + w of that max
//   dL/dx[n,c,h,w] = Σ_{p,q : indices[n,c,p,q] = h·W+w} g[n,c,p,q]   (scatter-add)
//
// Input 3-D or 4-D floating with C, H, W > 0 (N may be 0); output_size is {P, Q}, both >= 1.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"
#include "afinar/ops/int_pair.h"
#include "afinar/ops/pool2d.h"

namespace afinar {

// ---- differentiable (recorded on the autograd tape) ----
Tensor adaptive_avg_pool2d(const Tensor& x, IntPair output_size);
Tensor adaptive_max_pool2d(const Tensor& x, IntPair output_size);
// {y, indices} (indices int64, not differentiable), as adaptive_max_pool2d(return_indices=True).
std::pair<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, IntPair output_size);

namespace ops {

// ---- raw ops (no autograd; any strides in; memory formats as max_pool2d's, pool2d.h) ----
Tensor adaptive_avg_pool2d_forward(const Tensor& x, IntPair output_size);
// grad_input [N,C,H,W] (= input_shape); the output size is grad_output's.
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                                    std::optional<MemoryFormat> input_format = std::nullopt);
std::pair<Tensor, Tensor> adaptive_max_pool2d_forward(const Tensor& x, IntPair output_size);
Tensor adaptive_max_pool2d_backward(const Tensor& grad_output, const Tensor& indices,
                                    const Shape& input_shape,
                                    std::optional<MemoryFormat> input_format = std::nullopt);

// The windows of `output` adaptive outputs over `input` positions (above), for every backend.
PoolWindows adaptive_pool_windows(int64_t input, int64_t output);

// Backend kernels: contiguous tensors, outputs preallocated contiguous; the output size is that
// of y / grad_output. Backward kernels write every element of grad_input; the max backward
// reports an index outside [-1, H·W) as an error instead of writing out of bounds.
using AdaptiveAvgPool2dForwardFn = void(const Tensor& y, const Tensor& x);
using AdaptiveAvgPool2dBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output);
using AdaptiveMaxPool2dForwardFn = void(const Tensor& y, const Tensor& indices, const Tensor& x);
using AdaptiveMaxPool2dBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output,
                                         const Tensor& indices);
AFN_DECLARE_KERNEL(adaptive_avg_pool2d_forward, AdaptiveAvgPool2dForwardFn);
AFN_DECLARE_KERNEL(adaptive_avg_pool2d_backward, AdaptiveAvgPool2dBackwardFn);
AFN_DECLARE_KERNEL(adaptive_max_pool2d_forward, AdaptiveMaxPool2dForwardFn);
AFN_DECLARE_KERNEL(adaptive_max_pool2d_backward, AdaptiveMaxPool2dBackwardFn);

}  // namespace ops
}  // namespace afinar

// Max and average pooling over windows of each [H,W] plane of an [N,C,H,W] input, exactly as
// torch.nn.functional.max_pool2d / avg_pool2d (PyTorch 1.13).
//
// Shapes: x [N,C,H,W] -> y [N,C,P,Q] (an unbatched [C,H,W] -> [C,P,Q], ops/unbatched.h); kernel
// R×S, stride (sh,sw), padding (ph,pw), dilation (dh,dw). The output size along each axis is
// PyTorch's pooling_output_shape (rows shown; columns likewise with W, S, sw, pw, dw):
//   P = ⌊(H + 2·ph - dh·(R-1) - 1) / sh⌋ + 1        (⌈·⌉ with ceil_mode)
//   with ceil_mode, P -= 1 when (P-1)·sh >= H + ph: the last window must start inside the input
//   or its left padding, never entirely in the right padding.
// Window of output row p: positions p·sh - ph + i·dh for i < R; only those inside [0, H) are read.
//
// max_pool2d (padding counts as -inf):
//   y[n,c,p,q]       = max of x[n,c,·,·] over the window of (p,q)
//   indices[n,c,p,q] = h·W + w of that max, flat in the input plane (PyTorch's return_indices).
//   Scan order is row-major over the window; a value replaces the running max when
//   `v > max || isnan(v)`: ties keep the first max, NaN propagates (the last NaN wins).
//   A window lying entirely in padding (possible only with dilation) gives -inf and index -1.
//   dL/dx[n,c,h,w] = Σ_{p,q : indices[n,c,p,q] = h·W+w} g[n,c,p,q]
//   (a scatter-add: with overlapping windows, stride < kernel, one input collects several g).
//
// avg_pool2d (no dilation): the window of output row p spans [p·sh - ph, min(p·sh - ph + R, H +
// ph))
//   (padding included, but not the rows beyond H + ph that ceil_mode adds) and is clipped to [0,H)
//   for the sum; columns likewise. With D(p,q) the divisor
//     divisor_override               if it is nonzero, else
//     the unclipped window's area    if count_include_pad, else
//     the clipped window's area (the number of input elements summed),
//   y[n,c,p,q] = Σ_{(h,w) in clipped window} x[n,c,h,w] / D(p,q)
//   dL/dx[n,c,h,w] = Σ_{(p,q) whose clipped window holds (h,w)} g[n,c,p,q] / D(p,q)
//
// Arguments are checked as PyTorch does: kernel > 0, stride >= 0 (0 means kernel_size, PyTorch's
// stride=None), padding >= 0 and <= kernel/2, dilation > 0, input 4-D floating with C, H, W > 0
// (N may be 0), and an output of at least 1×1.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"
#include "afinar/ops/int_pair.h"

namespace afinar {

// Options with PyTorch's defaults; each size is one int for both dimensions or {height, width}.
//   max_pool2d(x, {.kernel_size = 3, .stride = 2, .padding = 1})   // ResNet's stem
struct MaxPool2dOptions {
  IntPair kernel_size{0};  // required
  IntPair stride{0};       // 0 = kernel_size (PyTorch's stride=None)
  IntPair padding{0};
  IntPair dilation{1};
  bool ceil_mode = false;
};

struct AvgPool2dOptions {
  IntPair kernel_size{0};  // required
  IntPair stride{0};       // 0 = kernel_size (PyTorch's stride=None)
  IntPair padding{0};
  bool ceil_mode = false;
  bool count_include_pad = true;
  int64_t divisor_override = 0;  // 0 = none (PyTorch's None; it rejects 0 itself)
};

// ---- differentiable (recorded on the autograd tape) ----
Tensor max_pool2d(const Tensor& x, const MaxPool2dOptions& opt);
// {y, indices} (indices int64, not differentiable), as max_pool2d(..., return_indices=True).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, const MaxPool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const AvgPool2dOptions& opt);

namespace ops {

// ---- raw ops (no autograd; any strides in) ----
// The forwards return the input's memory format (suggest_memory_format); the backwards return
// `input_format`, the forward input's (as PyTorch, which allocates grad_input like the input),
// by default grad_output's.
std::pair<Tensor, Tensor> max_pool2d_forward(const Tensor& x, const MaxPool2dOptions& opt);
// grad_input [N,C,H,W] (= input_shape) from grad_output and the forward's indices [N,C,P,Q].
Tensor max_pool2d_backward(const Tensor& grad_output, const Tensor& indices,
                           const Shape& input_shape, const MaxPool2dOptions& opt,
                           std::optional<MemoryFormat> input_format = std::nullopt);
Tensor avg_pool2d_forward(const Tensor& x, const AvgPool2dOptions& opt);
Tensor avg_pool2d_backward(const Tensor& grad_output, const Shape& input_shape,
                           const AvgPool2dOptions& opt,
                           std::optional<MemoryFormat> input_format = std::nullopt);

// PyTorch's pooling_output_shape along one axis (above); <= 0 when the input is too small.
int64_t pool2d_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t padding,
                           int64_t dilation, bool ceil_mode);

// The input positions each output reads along one axis, the geometry every pooling op shares:
// output o reads begin[o], begin[o] + step, ... < end[o], all inside [0, input); padded[o] is the
// number of window positions inside [-padding, input + padding) (avg_pool2d's count_include_pad
// area). A window may be empty (begin >= end) only for a dilated max pool.
struct PoolWindows {
  std::vector<int64_t> begin, end, padded;
  int64_t step = 1;
  int64_t size() const { return int64_t(begin.size()); }
  // Number of input positions window o reads.
  int64_t count(int64_t o) const {
    const int64_t span = end[size_t(o)] - begin[size_t(o)];
    return span > 0 ? (span + step - 1) / step : 0;
  }
};
// Windows of max_pool2d / avg_pool2d: `output` windows of `kernel` positions `dilation` apart,
// starting at o·stride - padding.
PoolWindows pool_windows(int64_t input, int64_t output, int64_t kernel, int64_t stride,
                         int64_t padding, int64_t dilation);

// Argument checks shared with adaptive_pool2d, each naming `op`: x is 4-D floating with C, H, W
// > 0; a backward's grad_output is 4-D floating with spatial sizes > 0 and the N, C of
// `input_shape` (4-D, C, H, W > 0); indices is int64 with grad_output's shape and device.
void check_pool2d_input(const Tensor& x, const char* op);
void check_pool2d_grad(const Tensor& grad_output, const Shape& input_shape, const char* op);
void check_pool2d_indices(const Tensor& indices, const Tensor& grad_output, const char* op);

// Backend kernels: contiguous tensors, outputs preallocated contiguous, `opt` checked and with
// its stride resolved (never 0); the output size is that of y / grad_output. Backward kernels
// write every element of grad_input. A max-pool backward reports an index outside [-1, H·W)
// (raw ops accept user indices) as an error instead of writing out of bounds.
using MaxPool2dForwardFn = void(const Tensor& y, const Tensor& indices, const Tensor& x,
                                const MaxPool2dOptions& opt);
using MaxPool2dBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output,
                                 const Tensor& indices, const MaxPool2dOptions& opt);
using AvgPool2dForwardFn = void(const Tensor& y, const Tensor& x, const AvgPool2dOptions& opt);
using AvgPool2dBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output,
                                 const AvgPool2dOptions& opt);
AFN_DECLARE_KERNEL(max_pool2d_forward, MaxPool2dForwardFn);
AFN_DECLARE_KERNEL(max_pool2d_backward, MaxPool2dBackwardFn);
AFN_DECLARE_KERNEL(avg_pool2d_forward, AvgPool2dForwardFn);
AFN_DECLARE_KERNEL(avg_pool2d_backward, AvgPool2dBackwardFn);

}  // namespace ops

// The CPU reference's window loops (src/ops/cpu/pool2d.cpp), shared by the CPU kernels of
// pool2d and adaptive_pool2d: every pooling op is one of these over its own PoolWindows.
// Tensors contiguous [N,C,·,·], rows / cols sized to the output; `op` names errors.

}  // namespace afinar

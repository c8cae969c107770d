// flip: torch.flip(input, dims), the elements in reverse order along every dim of `dims`.
//
//   y[i_0, ..., i_{n-1}] = x[j_0, ..., j_{n-1}],   j_d = size_d - 1 - i_d  for d in dims
//                                                  j_d = i_d               otherwise
//   dL/dx = flip(dL/dy, dims)      (a flip is a permutation that is its own inverse)
//
// dims may be negative (counted from the end) and empty (a copy); a dim listed twice is an error,
// as in PyTorch. A 0-D tensor counts as [1] (dims 0 and -1 allowed). The output is contiguous,
// whatever the input's strides (PyTorch 1.13 keeps a strided input's layout; the values are the
// same). Any dtype: a flip moves elements without reading their values, so NaN payloads and -0.0
// come out bit for bit. Differentiable for the floating dtypes.
//
// The backends see one plan, whatever the rank: size-1 dims are dropped, and neighbouring dims
// that are both reversed or both kept and lie back to back in memory are merged, so the
// horizontal flip of a contiguous NCHW batch (dims {3}) is a [N·C·H, W] walk with W reversed.
#pragma once

#include <cstdint>
#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);  // differentiable

namespace ops {

// The flip without autograd (its own backward).
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);

// The walk the backends make: output element i (contiguous, row-major over `sizes`) with
// coordinates c_d reads input element  base + Σ_d c_d · steps[d]  (offsets in elements from the
// input's first element). steps[d] is the input's stride of merged dim d, negated where that dim
// is reversed; base puts coordinate 0 of a reversed dim at its last element. sizes has at least
// one entry, each >= 2, except a lone [1] (one element) and the 0s of an empty tensor (whose
// plan no backend sees).
struct FlipPlan {
  std::vector<int64_t> sizes, steps;
  int64_t base = 0;
};
// The plan for a tensor of this shape and these strides; checks and wraps dims.
FlipPlan flip_plan(const Shape& shape, const Strides& strides, const std::vector<int64_t>& dims);

// Backend kernel: y contiguous, x with the strides the plan was made from, same dtype and
// device; numel > 0.
using FlipFn = void(const Tensor& y, const Tensor& x, const FlipPlan& plan);
AFN_DECLARE_KERNEL(flip, FlipFn);

}  // namespace ops
}  // namespace afinar

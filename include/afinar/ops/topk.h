// argmax and top-k along one dimension, as torch.argmax and torch.topk.
//
//   argmax(x, dim):  i* = the first index with x_i = max_j x_j   (int64; not differentiable)
//   topk(x, k, dim): the k largest (or smallest) values and their int64 indices
//                    dL/dx_j = Σ_r g_r [indices_r = j]   (the value gradient scattered back)
// NaN compares greater than every number, as in PyTorch: argmax returns the first NaN, topk puts
// NaNs first when largest and last when not. Ties between equal values (and between NaNs) go to
// the lower index first; PyTorch leaves that order unspecified. With sorted = false the order of
// the k results is unspecified too (the CPU reference then skips sorting them).
//
// The backends see x as a contiguous [outer, C, inner] block (C the size of `dim`); a 0-D tensor
// counts as [1]. Output shapes: argmax drops dim (keeps it as 1 with keepdim), topk replaces its
// size by k (a 0-D input gives 0-D outputs holding its element for k = 0 and k = 1, as PyTorch).
#pragma once

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

struct TopK {
  Tensor values;   // differentiable
  Tensor indices;  // int64
};

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
// Over the flattened tensor: a 0-D index into x.reshape({-1}).
Tensor argmax(const Tensor& x);
TopK topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

namespace ops {

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim);
TopK topk_forward(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted);
// grad_input of input_shape: zeros except grad_values scattered to `indices` along dim.
Tensor topk_backward(const Tensor& grad_values, const Tensor& indices, const Shape& input_shape,
                     int64_t dim);

// Backend kernels: contiguous tensors, outputs preallocated. x and grad_input [outer, C, inner];
// indices [outer, inner] for argmax (C > 0), values / indices / grad_values [outer, k, inner] for
// topk. topk_backward writes every element of grad_input and checks each index is in [0, C).
using ArgmaxFn = void(const Tensor& indices, const Tensor& x);
using TopkForwardFn = void(const Tensor& values, const Tensor& indices, const Tensor& x,
                           bool largest, bool sorted);
using TopkBackwardFn = void(const Tensor& grad_input, const Tensor& grad_values,
                            const Tensor& indices);
AFN_DECLARE_KERNEL(argmax, ArgmaxFn);
AFN_DECLARE_KERNEL(topk_forward, TopkForwardFn);
AFN_DECLARE_KERNEL(topk_backward, TopkBackwardFn);

}  // namespace ops
}  // namespace afinar

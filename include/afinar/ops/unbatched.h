// PyTorch's unbatched inputs for the 2-D spatial ops. conv2d, max_pool2d, avg_pool2d and the
// adaptive poolings take a [C,H,W] input as a batch of one and give back [C',H',W'], as
// torch.nn.functional does (PyTorch 1.11 on); BatchNorm2d, as in PyTorch, wants 4-D.
//
//   [C,H,W] --with_batch_dim--> [1,C,H,W] --op--> [1,C',H',W'] --without_batch_dim--> [C',H',W']
//
// Both reshapes are views that autograd records, so the gradient comes back as [C,H,W].
//
//   Tensor avg_pool2d(const Tensor& x, const AvgPool2dOptions& opt) {
//     if (ops::is_unbatched(x, "avg_pool2d"))
//       return ops::without_batch_dim(avg_pool2d(ops::with_batch_dim(x), opt));
//     ...
#pragma once

#include "afinar/core/tensor.h"

namespace afinar::ops {

// True for a 3-D input, false for a 4-D one; any other rank is an error naming `op` ("op:
// expected a 3-D (unbatched [C,H,W]) or 4-D ([N,C,H,W]) input, got shape [...]").
bool is_unbatched(const Tensor& x, const char* op);
// [C,H,W] as [1,C,H,W], and [1,...] as [...]: differentiable views.
Tensor with_batch_dim(const Tensor& x);
Tensor without_batch_dim(const Tensor& y);

}  // namespace afinar::ops

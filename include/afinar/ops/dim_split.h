// A shape seen around one dimension as [outer, size, inner]: how the ops that work along one
// dim (softmax, log_softmax, argmax, topk) hand contiguous blocks to their backends.
#pragma once

#include "afinar/core/tensor.h"

namespace afinar::ops {

struct DimSplit {
  int64_t dim;  // wrapped into [0, max(ndim, 1)); a 0-D shape counts as [1]
  int64_t outer;
  int64_t size;
  int64_t inner;
};
DimSplit split_at_dim(const Shape& shape, int64_t dim, const char* op);
// t as a contiguous [outer, size, inner] tensor (a view when t is contiguous) with no autograd
// history, for handing to the backends.
Tensor as_dim_blocks(const Tensor& t, const DimSplit& s);

}  // namespace afinar::ops

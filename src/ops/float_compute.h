// 16-bit floating operands (bf16, f16) of ops whose kernels compute in float32 / float64: the op
// runs on float32 copies of its 16-bit operands, and each result that takes the input's dtype is
// rounded back to it once. That is the arithmetic of PyTorch's bf16 / f16 kernels (float
// accumulation, one rounding per output), at the cost of a conversion pass each way; native
// kernels (cuDNN, cuBLAS, our own) can replace it op by op without changing a result beyond
// summation order. Used by the front ends, after their argument checks:
//   if (is_reduced(x) && !x.device().is_cuda()) return in_dtype_of(x, relu_forward(as_float32(x)));
// Native on the GPU so far: conv2d (cuDNN) and its bias, linear (cuBLAS), batch_norm2d with its
// fused epilogue, relu, add / mul / affine, max / avg / adaptive pools. Everything else (dropout,
// softmax, and the losses outside autocast), and all of the CPU, comes here.
#pragma once

#include "afinar/core/tensor.h"

namespace afinar::ops {

// A bf16 or f16 tensor.
inline bool is_reduced(const Tensor& t) {
  return t.defined() && is_reduced_float(t.dtype());
}

// A 16-bit floating tensor as a float32 copy (detached); anything else unchanged.
inline Tensor as_float32(const Tensor& t) {
  return is_reduced(t) ? t.detach().to(DType::F32) : t;
}

// A result rounded to `like`'s dtype (detached; undefined stays undefined).
inline Tensor in_dtype_of(const Tensor& like, const Tensor& t) {
  return t.defined() ? t.detach().to(like.dtype()) : t;
}

}  // namespace afinar::ops

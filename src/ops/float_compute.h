// bfloat16 operands of ops whose kernels compute in float32 / float64: the op runs on float32
// copies of its bf16 operands, and each result that takes the input's dtype is rounded to bf16
// once. That is the arithmetic of PyTorch's bf16 kernels (float accumulation, one rounding per
// output), at the cost of a conversion pass each way; native bf16 kernels (cuDNN, cuBLAS, our
// own) can replace it op by op without changing a result beyond summation order. Used by the
// front ends, after their argument checks:
//   if (is_bf16(x) && !x.device().is_cuda()) return as_bf16(relu_forward(as_float32(x)));
// Native on the GPU so far: conv2d (cuDNN) and its bias, linear (cuBLAS), batch_norm2d with its
// fused epilogue, relu, add / mul / affine, max / avg / adaptive pools. Everything else (dropout,
// softmax, and the losses outside autocast), and all of the CPU, comes here.
#pragma once

#include "afinar/core/tensor.h"

namespace afinar::ops {

inline bool is_bf16(const Tensor& t) {
  return t.defined() && t.dtype() == DType::BF16;
}

// A bf16 tensor as a float32 copy (detached); anything else unchanged.
inline Tensor as_float32(const Tensor& t) {
  return is_bf16(t) ? t.detach().to(DType::F32) : t;
}

// A result rounded to bf16 (detached; undefined stays undefined).
inline Tensor as_bf16(const Tensor& t) {
  return t.defined() ? t.detach().to(DType::BF16) : t;
}

}  // namespace afinar::ops

// The type a CUDA kernel computes in for elements of type T (PyTorch's opmath_type): T itself for
// float and double, float for __nv_bfloat16 and __half (autocast's activations: loaded as bf16 or
// f16, computed and accumulated in float, rounded once when stored). Scalars passed to such
// kernels (alpha, scale) and batch norm's parameters and statistics have this type too.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace afinar::cuda {

template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<__nv_bfloat16> {
  using type = float;
};
template <>
struct ComputeType<__half> {
  using type = float;
};
template <typename T>
using compute_t = typename ComputeType<T>::type;

}  // namespace afinar::cuda

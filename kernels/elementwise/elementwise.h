// Launchers of the elementwise kernels (contiguous device arrays of n elements; T float, double,
// __nv_bfloat16 or __half, the scalars of type compute_t<T>).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "runtime/compute_type.h"

namespace afinar::cuda {

template <typename T>
void launch_add(T* out, const T* a, const T* b, compute_t<T> alpha, int64_t n, cudaStream_t stream);
template <typename T>
void launch_mul(T* out, const T* a, const T* b, int64_t n, cudaStream_t stream);
template <typename T>
void launch_affine(T* out, const T* a, compute_t<T> scale, compute_t<T> shift, int64_t n,
                   cudaStream_t stream);

}  // namespace afinar::cuda

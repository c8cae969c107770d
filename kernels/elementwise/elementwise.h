// Launchers of the elementwise kernels (contiguous device arrays of n elements; T float/double).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

template <typename T>
void launch_add(T* out, const T* a, const T* b, T alpha, int64_t n, cudaStream_t stream);
template <typename T>
void launch_mul(T* out, const T* a, const T* b, int64_t n, cudaStream_t stream);
template <typename T>
void launch_affine(T* out, const T* a, T scale, T shift, int64_t n, cudaStream_t stream);

}  // namespace afinar::cuda

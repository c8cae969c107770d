// Launchers of the relu kernels (contiguous device arrays of n elements; T float, double,
// __nv_bfloat16 or __half).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

template <typename T>
void launch_relu_forward(T* y, const T* x, int64_t n, cudaStream_t stream);
template <typename T>
void launch_relu_backward(T* grad_input, const T* grad_output, const T* y, int64_t n,
                          cudaStream_t stream);

}  // namespace afinar::cuda

// Launchers of the dropout kernels (contiguous device arrays of n elements; T float or double).
// The mask of element i comes from Philox block offset + i / 4, word i % 4, kept when
// uint_to_unit_float(word) > p (include/afinar/ops/dropout.h): bit-identical to the CPU's.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

// y = x · (mask · scale), mask written as 0/1 bytes. scale is 1/(1-p) in T (0 for p = 1).
template <typename T>
void launch_dropout_forward(T* y, uint8_t* mask, const T* x, int64_t n, double p, T scale,
                            uint64_t seed, uint64_t offset, cudaStream_t stream);
// grad_input = grad_output · (mask · scale).
template <typename T>
void launch_dropout_backward(T* grad_input, const T* grad_output, const uint8_t* mask, int64_t n,
                             T scale, cudaStream_t stream);

}  // namespace afinar::cuda

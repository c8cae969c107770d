// Launchers of the softmax / log_softmax kernels on contiguous [outer, C, inner] device blocks
// (softmax.cu explains the three layouts). T is float or double; all sizes in elements.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace afinar::cuda {

// y = softmax(x) (log_softmax when `log`) along dim 1 of [outer, C, inner].
template <typename T>
void launch_softmax_forward(T* y, const T* x, int64_t outer, int64_t C, int64_t inner, bool log,
                            cudaStream_t stream);
// softmax:     grad_input = y ⊙ (g - Σ g y)
// log_softmax: grad_input = g - exp(y) Σ g
template <typename T>
void launch_softmax_backward(T* grad_input, const T* grad_output, const T* y, int64_t outer,
                             int64_t C, int64_t inner, bool log, cudaStream_t stream);

}  // namespace afinar::cuda
